"""``ensure_kind()``: a kind binary and a node image for the kind backend.

* **online** (where a registry is reachable): kind ``go install``ed into the
  cache and kind's own default node image, ``kindest/node:v1.34.0`` pinned by
  digest, if present locally or pullable within ``FLUXCHAOS_PULL_TIMEOUT``.
* **offline-build**: the same kind binary and ``<prefix>/kind-node:<k8s>``,
  assembled from the Go module proxy, Debian and gcc (:mod:`.kindnode`).

``auto`` (default) returns a complete cached set first, then tries online,
then builds.  A warm call is one ``docker image inspect``.  The versions and
sources of everything in a set are recorded in ``<cache>/kind/<k8s>/manifest.json``.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import tools, versions
from .build import MODES, STAMP_SCHEMA, _now, _pull_timeout, cache_lock, default_cache_dir
from .errors import AssetError
from .kindnode import NodeImageBuilder


@dataclass(frozen=True)
class KindAssets:
    kind_bin: Path  # <cache>/bin/kind-v0.30.0
    node_image: str  # "fluxchaos/kind-node:v1.34.3" or "kindest/node:v1.34.0@sha256:..."
    source: str  # "offline-build" | "online"
    kubernetes_version: str  # of the node image
    manifest: Path | None = None  # <cache>/kind/<k8s>/manifest.json (offline-build)

    def as_tuple(self) -> tuple[Path, str, str]:
        return self.kind_bin, self.node_image, self.source


def _set_key(source: str) -> str:
    return f"set-kind-{versions.KIND_VERSION}-{source}"


def _official_present(ref: str) -> bool:
    p = subprocess.run([tools.require_docker(), "image", "inspect", "--format", "{{.Id}}", ref],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=tools.docker_env(), timeout=60)
    return p.returncode == 0 and p.stdout.strip() != b""


def _warm(b: NodeImageBuilder, sources: tuple[str, ...]) -> KindAssets | None:
    for source in sources:
        st = b.read_stamp(_set_key(source))
        if not st:
            continue
        a = st.get("kind_assets") or {}
        kind_bin = Path(a.get("kind_bin", "/nonexistent"))
        if not kind_bin.exists() or not a.get("node_image"):
            continue
        if source == "online":
            ok = _official_present(a["node_image"])
        else:
            ok = tools.restore_tags(st.get("image_ids") or {})
        if ok:
            return KindAssets(kind_bin, a["node_image"], source, a.get("kubernetes_version", "?"),
                              Path(a["manifest"]) if a.get("manifest") else None)
    return None


def _record(b: NodeImageBuilder, assets: KindAssets, image_ids: dict[str, str]) -> None:
    d = {"kind_bin": str(assets.kind_bin), "node_image": assets.node_image, "source": assets.source,
         "kubernetes_version": assets.kubernetes_version,
         "manifest": str(assets.manifest) if assets.manifest else None}
    b.write_stamp(_set_key(assets.source), {"kind_assets": d, "image_ids": image_ids, "recorded_at": _now()})


def _online(b: NodeImageBuilder, strict: bool) -> KindAssets | None:
    ref = versions.OFFICIAL_KIND_NODE_IMAGE
    b.say(f"checking for kind's node image {ref} (online path)")
    if not _official_present(ref):
        t = _pull_timeout()
        b.say(f"  pulling {ref} (timeout {t:.0f}s) ...")
        ok, why = tools.docker_pull(ref, t, b.log("pulls"))
        if not ok:
            if strict:
                raise AssetError(f"online mode: cannot pull {ref} ({why}); use --mode offline to build a node image")
            b.say(f"  cannot pull {ref}: {why}; falling back to the offline build")
            return None
    kind_bin = b.kind()
    version = ref.split(":", 1)[1].split("@", 1)[0]
    a = KindAssets(kind_bin, ref, "online", version)
    _record(b, a, {})
    b.say("path: online (kind go install + kind's digest-pinned node image)")
    return a


def _module_versions() -> dict[str, dict[str, str]]:
    v = versions
    return {
        "kind": {"module": v.KIND_MODULE, "version": v.KIND_VERSION, "how": "go install"},
        "kubernetes": {"module": v.KUBERNETES_MODULE, "version": v.KUBERNETES_VERSION,
                       "how": "wrapper module with staging replaces, CGO_ENABLED=0 -tags selinux,notest"},
        "containerd": {"module": v.CONTAINERD_MODULE, "version": v.CONTAINERD_VERSION,
                       "how": "wrapper = its go.mod renamed (keeps excludes)"},
        "runc": {"module": v.RUNC_MODULE, "version": v.RUNC_VERSION, "how": "cgo, -tags seccomp"},
        "crictl": {"module": v.CRI_TOOLS_MODULE, "version": v.CRI_TOOLS_VERSION, "how": "wrapper module"},
        "cni-plugins": {"module": v.CNI_PLUGINS_MODULE, "version": v.CNI_PLUGINS_VERSION, "how": "wrapper module"},
        "coredns": {"module": v.COREDNS_MODULE, "version": v.COREDNS_VERSION, "how": "wrapper module"},
        "local-path-provisioner": {"module": v.LOCAL_PATH_MODULE, "version": v.LOCAL_PATH_VERSION,
                                   "how": "wrapper module"},
        "pause": {"module": v.KUBERNETES_MODULE, "version": v.PAUSE_VERSION,
                  "how": f"gcc -static build/pause/linux/pause.c of {v.KUBERNETES_VERSION}"},
        "etcd": {"module": v.ETCD_MODULE, "version": v.ETCD_VERSION, "how": "the project's etcd image"},
        "debian": {"suite": v.DEBIAN_SUITE, "mirror": v.DEBIAN_MIRROR, "how": "debootstrap --variant=minbase"},
    }


def _offline(b: NodeImageBuilder) -> KindAssets:
    b.say(f"path: offline-build of kind {versions.KIND_VERSION} and a Kubernetes "
          f"{versions.KUBERNETES_VERSION} node image (Go module proxy + Debian)")
    tools.require_go()
    t0 = time.monotonic()
    kind_bin = b.kind()
    tag, manifest = b.node_image()
    ids = tools.image_ids([tag, manifest["base_image"]])
    if tag not in ids:
        raise AssetError(f"{tag} vanished while building; is something pruning Docker images?")
    out = b.cache / "kind" / versions.KUBERNETES_VERSION / "manifest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    seconds = {}
    for key in (f"bin-kind-{versions.KIND_VERSION}", f"bin-kubernetes-{versions.KUBERNETES_VERSION}",
                f"bin-kube-apiserver-{versions.KUBERNETES_VERSION}", f"bin-containerd-{versions.CONTAINERD_VERSION}",
                f"bin-runc-{versions.RUNC_VERSION}", f"bin-crictl-{versions.CRI_TOOLS_VERSION}",
                f"bin-cni-plugins-{versions.CNI_PLUGINS_VERSION}", f"bin-coredns-{versions.COREDNS_VERSION}",
                f"bin-local-path-provisioner-{versions.LOCAL_PATH_VERSION}", f"bin-pause-{versions.PAUSE_VERSION}",
                f"image-kind-base-{versions.KIND_VERSION}", f"image-kind-node-{versions.KUBERNETES_VERSION}"):
        s = b.seconds(key)
        if s is not None:
            seconds[key] = s
    data = {
        "schema": STAMP_SCHEMA, "created_at": _now(), "source": "offline-build",
        "kind_bin": str(kind_bin), "kind_bin_sha256": b.bin_sha(f"bin-kind-{versions.KIND_VERSION}", "kind"),
        "node_image": tag, "node_image_id": ids[tag], **manifest,
        "versions": _module_versions(),
        "build_seconds": seconds,
        "this_run_seconds": round(time.monotonic() - t0, 1),
        "notes": [
            "kindnetd is not built: /kind/manifests/default-cni.yaml is a placeholder ConfigMap; "
            "the node's ptp + host-local conflist serves one node",
            "containerd CRI restrict_oom_score_adj = true (hosts whose bounding set lacks CAP_SYS_RESOURCE)",
        ],
    }
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(out)
    a = KindAssets(kind_bin, tag, "offline-build", versions.KUBERNETES_VERSION, out)
    _record(b, a, ids)
    return a


def ensure_kind(
    mode: str = "auto",
    *,
    cache_dir: Path | None = None,
    progress: Callable[[str], None] = print,
) -> KindAssets:
    """Make sure a kind binary and a node image exist locally; return them.

    ``mode``: ``auto`` (a cached set, else kind's official node image if
    present or pullable, else build), ``offline`` (always the built node
    image) or ``online`` (the official node image only).  Raises
    :class:`AssetError` with one line on failure.
    """
    if mode not in MODES:
        raise AssetError(f"unknown mode {mode!r}: choose one of {', '.join(MODES)}")
    cache = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    t0 = time.monotonic()
    tools.require_docker()
    with cache_lock(cache, progress):
        b = NodeImageBuilder(cache, progress)
        order = {"auto": ("offline-build", "online"), "offline": ("offline-build",), "online": ("online",)}[mode]
        warm = _warm(b, order)
        if warm:
            progress(f"[assets] ready: kind {warm.kind_bin.name} + {warm.node_image} ({warm.source}, cached) "
                     f"in {time.monotonic() - t0:.2f}s")
            return warm
        result = _online(b, strict=(mode == "online")) if mode in ("auto", "online") else None
        if result is None:
            result = _offline(b)
        for label, dt in b.timings:
            progress(f"[assets]   {dt:7.1f}s  {label}")
        progress(f"[assets] ready: kind {result.kind_bin.name} + {result.node_image} ({result.source}) "
                 f"in {time.monotonic() - t0:.1f}s")
        return result


def cached_kind(cache_dir: Path | None = None) -> KindAssets | None:
    """A complete cached kind set (offline-build first), or None: never builds or pulls."""
    cache = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    tools.require_docker()
    return _warm(NodeImageBuilder(cache, lambda m: None), ("offline-build", "online"))
