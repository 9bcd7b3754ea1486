"""Build (offline) or obtain (online) every container image the plugin runs.

Offline path: Go programs are built with the ``go`` command from the Go
module proxy, by module path and version, in throw-away wrapper modules under
the cache; the OS layer is Debian bookworm from ``debootstrap``; images are
assembled with Docker's classic builder.  Nothing third-party lives in the
repository.

Online path: the official upstream images, if present locally or pullable
within a short timeout (and ``KUBEBUILDER_ASSETS`` binaries for the control
plane, if set).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Callable, Iterator, Sequence

from . import tools, versions
from .errors import AssetError
from .stamps import LABEL, STAMP_SCHEMA, now as _now
from .stamps import sha256_of as _sha256
from . import (automation, flux_manifests, git_server, go_steps, os_images, program_images, provenance,
               registry_proxy, releases)
from .versions import resolve_irc_version

MODES = ("auto", "offline", "online")
SOURCES = ("offline-build", "online")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Assets:
    irc_version: str  # "v1.2.4"
    flux_version: str | None  # "2.9.4" if known
    irc_image: str
    etcd_image: str
    apiserver_image: str
    registry_image: str
    stress_image: str
    manifests_dir: Path  # <cache>/irc/<version>/ with crds/*.yaml, rbac/*.yaml, deployment.yaml
    source: str  # "offline-build" | "online"
    git_image: str = ""  # the smart-HTTP Git server (assets/git_server.py), on both paths
    proxy_image: str = ""  # Toxiproxy + the registry liar in front of the registry (built on both paths)
    iac_version: str | None = None  # image-automation-controller, e.g. "v1.1.2"
    iac_image: str | None = None
    iac_manifests_dir: Path | None = None  # <cache>/iac/<version>/ (GitRepository CRD included)
    controllers: dict[str, Any] = field(default_factory=dict)  # provenance.ControllerSet.as_dict()

    def controller_set(self) -> provenance.ControllerSet | None:
        """Each controller's version, image, source and substitutions; the mixed-pair flag."""
        return provenance.from_dict(self.controllers)


def default_cache_dir() -> Path:
    env = os.environ.get("FLUXCHAOS_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "fluxchaos"


def _pull_timeout() -> float:
    try:
        return float(os.environ.get("FLUXCHAOS_PULL_TIMEOUT", "20"))
    except ValueError:
        return 20.0


class Builder:
    """Does the work for :func:`ensure_assets`; one instance per call."""

    def __init__(self, cache: Path, progress: Progress = print) -> None:
        self.cache = Path(cache).expanduser().resolve()
        self.progress = progress
        self.timings: list[tuple[str, float]] = []
        for sub in ("stamps", "work", "logs", "bin", "irc", "iac"):
            (self.cache / sub).mkdir(parents=True, exist_ok=True)
        self._go_checked = False
        self._network_dead: str | None = None
        # Repository prefix of the images we build ("fluxchaos/<name>:<version>").
        # Docker tags are global; a separate prefix isolates an experimental cache.
        self.prefix = os.environ.get("FLUXCHAOS_IMAGE_PREFIX", "fluxchaos").rstrip("/")

    # ------------------------------------------------------------------ #
    # bookkeeping
    # ------------------------------------------------------------------ #

    def say(self, msg: str) -> None:
        self.progress(f"[assets] {msg}")

    @contextlib.contextmanager
    def step(self, label: str) -> Iterator[None]:
        self.say(f"{label} ...")
        t0 = time.monotonic()
        try:
            yield
        except AssetError:
            self.say(f"{label} ... FAILED after {time.monotonic() - t0:.1f}s")
            raise
        dt = time.monotonic() - t0
        self.timings.append((label, dt))
        self.say(f"{label} ... done in {dt:.1f}s")

    def stamp_path(self, key: str) -> Path:
        return self.cache / "stamps" / f"{key}.json"

    def read_stamp(self, key: str) -> dict | None:
        try:
            data = json.loads(self.stamp_path(key).read_text())
        except (OSError, json.JSONDecodeError):
            return None
        return data if data.get("schema") == STAMP_SCHEMA else None

    def write_stamp(self, key: str, data: dict) -> None:
        data = {"schema": STAMP_SCHEMA, "key": key, **data}
        p = self.stamp_path(key)
        tmp = p.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        tmp.replace(p)

    def log(self, key: str) -> Path:
        return self.cache / "logs" / f"{key}.log"

    def current_image(self, key: str, tag: str, inputs: dict) -> str | None:
        """The image id if ``tag`` was built by us from exactly ``inputs`` and still exists."""
        st = self.read_stamp(key)
        if not st or st.get("inputs") != inputs or st.get("image") != tag:
            return None
        return st["image_id"] if tools.restore_tags({tag: st.get("image_id", "")}) else None

    def record_image(self, key: str, tag: str, image_id: str, inputs: dict, seconds: float, source: str, **extra) -> None:
        self.write_stamp(key, {
            "image": tag, "image_id": image_id, "inputs": inputs, "built_at": _now(),
            "seconds": round(seconds, 1), "source": source, **extra,
        })

    # ------------------------------------------------------------------ #
    # Go
    # ------------------------------------------------------------------ #

    def go_env(self) -> dict[str, str]:
        return go_steps.go_env(self)

    def check_disk(self, what: str) -> None:
        return go_steps.check_disk(self, what)

    def module_info(self, path: str, version: str, log_key: str) -> dict:
        return go_steps.module_info(self, path, version, log_key)

    def go_build(self, key: str, what: str, gomod_text: str, files: dict[str, str], packages: dict[str, str], *,
                 ldflags: Sequence[str] = (), tags: str = "", inputs: dict) -> dict[str, Path]:
        return go_steps.go_build(self, key, what, gomod_text, files, packages, ldflags=ldflags, tags=tags,
                                 inputs=inputs)

    def tidy(self, wdir: Path, what: str, log: Path, env: dict[str, str]) -> list[dict]:
        return go_steps.tidy(self, wdir, what, log, env)

    def bin_sha(self, key: str, name: str) -> str:
        return go_steps.bin_sha(self, key, name)

    # ------------------------------------------------------------------ #
    # Docker image helpers
    # ------------------------------------------------------------------ #

    def build_image(self, key: str, tag: str, dockerfile: str, files: dict[str, Path | str], inputs: dict,
                    what: str, source: str = "offline-build") -> str:
        """Build ``tag`` from a generated Dockerfile unless already current."""
        cur = self.current_image(key, tag, inputs)
        if cur:
            return cur
        t0 = time.monotonic()
        self.check_disk(what)
        ctx = self.cache / "work" / f"{key}.ctx"
        shutil.rmtree(ctx, ignore_errors=True)
        ctx.mkdir(parents=True)
        (ctx / "Dockerfile").write_text(dockerfile)
        for name, src in files.items():
            if isinstance(src, Path):
                shutil.copy2(src, ctx / name)
                os.chmod(ctx / name, 0o755 if os.access(src, os.X_OK) else 0o644)
            else:
                (ctx / name).write_text(src)
        image_id = tools.docker_build(ctx, tag, what=what, log=self.log(key))
        shutil.rmtree(ctx, ignore_errors=True)
        self.record_image(key, tag, image_id, inputs, time.monotonic() - t0, source)
        return image_id

    @staticmethod
    def labels(name: str, version: str, source: str = "offline-build") -> str:
        return (f'LABEL {LABEL}="true" io.fluxchaos.name="{name}" io.fluxchaos.version="{version}" '
                f'io.fluxchaos.source="{source}"\n')

    # ------------------------------------------------------------------ #
    # OS images
    # ------------------------------------------------------------------ #

    @property
    def DEBIAN_TAG(self) -> str:  # noqa: N802
        return f"{self.prefix}/debian:{versions.DEBIAN_SUITE}"

    @property
    def BASE_TAG(self) -> str:  # noqa: N802
        return f"{self.prefix}/base:{versions.DEBIAN_SUITE}"

    @property
    def STRESS_TAG(self) -> str:  # noqa: N802
        return f"{self.prefix}/stress:{versions.DEBIAN_SUITE}"

    def debian(self, online: bool = False) -> str:
        return os_images.debian(self, online)

    def base(self, debian_id: str) -> str:
        return os_images.base(self, debian_id)

    def stress(self, debian_id: str) -> str:
        return os_images.stress(self, debian_id)

    # -- steps that live in their own modules -------------------------------------------
    def _program_image(self, name: str, version: str, base_id: str, binaries: dict[str, Path], bin_key: str,
                       dockerfile_tail: str, extra_files: dict[str, Path | str] | None = None) -> str:
        return program_images.program_image(self, name, version, base_id, binaries, bin_key, dockerfile_tail,
                                            extra_files)

    def _bin_current(self, key: str, inputs: dict, names: list[str]) -> bool:
        return program_images.bin_current(self, key, inputs, names)

    def registry(self, base_id: str, version: str = versions.REGISTRY_VERSION) -> str:
        return program_images.registry(self, base_id, version)

    def irc(self, base_id: str, irc_version: str) -> str:
        return program_images.irc(self, base_id, irc_version)

    def etcd(self, base_id: str, version: str = versions.ETCD_VERSION) -> str:
        return program_images.etcd(self, base_id, version)

    def kube_apiserver(self, base_id: str, version: str = versions.KUBERNETES_VERSION) -> str:
        return program_images.kube_apiserver(self, base_id, version)

    def git_server(self) -> str:
        return git_server.git_server(self)

    def registry_proxy(self, base_id: str, version: str = versions.TOXIPROXY_VERSION) -> str:
        return registry_proxy.registry_proxy(self, base_id, version)

    def fault_proxy(self) -> str:
        """The registry's fault proxy alone (kind's online path needs it and no other build)."""
        return self.registry_proxy(self.base(self.debian(online=not self._debian_offline_ok())))

    def manifests(self, irc_version: str) -> Path:
        return flux_manifests.manifests(self, irc_version)

    def generate_crds(self, irc_version: str, dest: Path) -> list[str]:
        return flux_manifests.generate_crds(self, irc_version, dest)

    def iac(self, base_id: str, version: str) -> str:
        return automation.iac(self, base_id, version)

    def iac_manifests(self, version: str) -> Path:
        return automation.manifests(self, version)

    def controller_set(self, flux_version: str | None, irc: tuple[str, str, str],
                       iac: tuple[str, str, str]) -> dict[str, Any]:
        """Provenance of the (version, image, source) of IRC and IAC, as stored in the set."""
        return automation.controller_set(self, flux_version, irc, iac)

    # ------------------------------------------------------------------ #
    # Online path
    # ------------------------------------------------------------------ #

    def official(self, ref: str) -> bool:
        """Is ``ref`` present locally, or pullable within the timeout?"""
        if tools.image_exists(ref):
            self.say(f"  using local {ref}")
            return True
        if self._network_dead:
            return False
        t = _pull_timeout()
        self.say(f"  pulling {ref} (timeout {t:.0f}s) ...")
        ok, why = tools.docker_pull(ref, t, self.log("pulls"))
        if not ok:
            self._network_dead = f"{ref}: {why}"
            self.say(f"  cannot pull {ref}: {why}")
        return ok

    def kubebuilder_images(self, base_id: str) -> tuple[str, str] | None:
        """Images made from KUBEBUILDER_ASSETS' etcd and kube-apiserver binaries, if set."""
        d = os.environ.get("KUBEBUILDER_ASSETS")
        if not d:
            return None
        etcd, kas = Path(d) / "etcd", Path(d) / "kube-apiserver"
        if not (etcd.is_file() and kas.is_file()):
            self.say(f"  KUBEBUILDER_ASSETS={d} lacks etcd or kube-apiserver; ignoring it")
            return None
        def ver(p: Path, pat: str) -> str:
            try:
                out = subprocess.run([str(p), "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     timeout=30).stdout.decode()
            except (OSError, subprocess.TimeoutExpired):
                return "unknown"
            m = re.search(pat, out)
            return ("v" + m[1].lstrip("v")) if m else "unknown"
        out = []
        for name, path, pat in (("etcd", etcd, r"etcd Version:\s*(\S+)"),
                                ("kube-apiserver", kas, r"Kubernetes\s+(v\S+)")):
            v = ver(path, pat) + "-kubebuilder"
            key = f"bin-{name}-{v}"
            self.write_stamp(key, {"inputs": {"path": str(path)}, "sha256": {name: _sha256(path)}})
            tail = 'EXPOSE 2379 2380\nCMD ["etcd"]\n' if name == "etcd" else 'EXPOSE 6443\nCMD ["kube-apiserver"]\n'
            out.append(self._program_image(name, v, base_id, {name: path}, key, tail))
        self.say(f"  control plane from KUBEBUILDER_ASSETS={d}")
        return out[0], out[1]

    # ------------------------------------------------------------------ #
    # Sets
    # ------------------------------------------------------------------ #

    def set_key(self, irc_version: str, source: str) -> str:
        # "+iac", "+proxy", "+liar": sets with image-automation-controller, the registry's
        # fault proxy, and the registry liar inside it get their own stamp, so code that
        # predates them (other branches sharing the cache) keeps reading its own sets,
        # whose Assets have no such fields or whose proxy image has no liar.
        return f"set-{irc_version}+iac+proxy+liar-{source}"

    def warm(self, irc_version: str, flux_version: str | None, sources: tuple[str, ...]) -> Assets | None:
        """A previously completed set whose images all still exist (no work)."""
        for source in sources:
            st = self.read_stamp(self.set_key(irc_version, source))
            if not st:
                continue
            a = st.get("assets") or {}
            ids = st.get("image_ids") or {}
            if not a.get("git_image") or st.get("git_server_inputs") != git_server.inputs():
                continue  # no Git server yet, or its config changed: complete the set (the rest is current)
            if not a.get("iac_image") or not a.get("iac_manifests_dir"):
                continue  # not a set with IAC: complete it
            if not a.get("proxy_image") or st.get("proxy_inputs") != registry_proxy.inputs():
                continue  # no fault proxy yet, or its liar changed: complete the set
            if ids and (Path(a.get("manifests_dir", "/nonexistent")) / "manifest.json").exists() \
                    and (Path(a["iac_manifests_dir"]) / "manifest.json").exists() and tools.restore_tags(ids):
                a = dict(a, manifests_dir=Path(a["manifests_dir"]), iac_manifests_dir=Path(a["iac_manifests_dir"]),
                         flux_version=flux_version or a.get("flux_version"))
                return Assets(**a)
        return None

    def record_set(self, assets: Assets) -> None:
        refs = [assets.irc_image, assets.etcd_image, assets.apiserver_image, assets.registry_image, assets.stress_image,
                assets.git_image]
        if assets.proxy_image:
            refs.append(assets.proxy_image)
        if assets.iac_image:
            refs.append(assets.iac_image)
        ids = tools.image_ids(refs + [self.DEBIAN_TAG, self.BASE_TAG])  # base tags too, kept consistent
        missing = [r for r in refs if r not in ids]
        if missing:
            raise AssetError(f"images vanished while building: {', '.join(missing)}; is something pruning Docker images?")
        d = asdict(assets)
        d["manifests_dir"] = str(assets.manifests_dir)
        d["iac_manifests_dir"] = str(assets.iac_manifests_dir) if assets.iac_manifests_dir else None
        self.write_stamp(self.set_key(assets.irc_version, assets.source), {
            "assets": d, "image_ids": ids, "recorded_at": _now(), "git_server_inputs": git_server.inputs(),
            "proxy_inputs": registry_proxy.inputs(),
        })

    def offline(self, irc_version: str, flux_version: str | None) -> Assets:
        self.say(f"path: offline-build (Go module proxy + Debian) for image-reflector-controller {irc_version}")
        tools.require_go()
        debian_id = self.debian()
        base_id = self.base(debian_id)
        stress = self.stress(debian_id)
        registry = self.registry(base_id)
        irc = self.irc(base_id, irc_version)
        etcd = self.etcd(base_id)
        kas = self.kube_apiserver(base_id)
        git = self.git_server()
        proxy = self.registry_proxy(base_id)
        manifests = self.manifests(irc_version)
        iac_version, iac, iac_source = self.offline_iac(base_id, irc_version, flux_version)
        iac_manifests = self.iac_manifests(iac_version)
        ctrls = self.controller_set(flux_version, (irc_version, irc, self.irc_source(irc)),
                                    (iac_version, iac, iac_source))
        a = Assets(irc_version, flux_version, irc, etcd, kas, registry, stress, manifests, "offline-build",
                   git_image=git, proxy_image=proxy, iac_version=iac_version, iac_image=iac,
                   iac_manifests_dir=iac_manifests, controllers=ctrls)
        self.record_set(a)
        return a

    def irc_source(self, image: str) -> str:
        return provenance.OFFICIAL_IMAGE if image.startswith("ghcr.io/") else provenance.OFFLINE_BUILD

    def offline_iac(self, base_id: str, irc_version: str, flux_version: str | None) -> tuple[str, str, str]:
        """(version, image, source) of IAC on the offline path (see automation.offline_iac)."""
        return automation.offline_iac(self, base_id, irc_version, flux_version)

    def online(self, irc_version: str, flux_version: str | None, strict: bool) -> Assets | None:
        """Official images; None (auto mode) or AssetError (online mode) if not all obtainable."""
        self.say(f"checking for official images (online path) for image-reflector-controller {irc_version}")
        irc = versions.official_irc_image(irc_version)
        reg = versions.OFFICIAL_REGISTRY_IMAGE
        iac_version = versions.pinned_iac(flux_version, irc_version)
        if iac_version is None:
            if strict:
                raise AssetError(f"online mode: no Flux release pins image-reflector-controller {irc_version}, "
                                 "so its image-automation-controller is unknown; give a Flux release")
            return None
        iac = versions.official_iac_image(iac_version)
        needed = [irc, reg, iac]
        got = {r: self.official(r) for r in needed}
        cp: tuple[str, str] | None = None
        if all(got.values()):
            etcd, kas = versions.OFFICIAL_ETCD_IMAGE, versions.official_apiserver_image(versions.KUBERNETES_VERSION)
            if self.official(etcd) and self.official(kas):
                cp = (etcd, kas)
        if not all(got.values()) or (cp is None and not os.environ.get("KUBEBUILDER_ASSETS")):
            missing = [r for r, ok in got.items() if not ok]
            why = self._network_dead or f"missing: {', '.join(missing) or 'control-plane images'}"
            if strict:
                raise AssetError(f"online mode: official images are not available ({why}); use --mode offline to build them")
            self.say(f"official images not available ({why}); falling back to the offline build")
            return None
        debian_id = self.debian(online=not self._debian_offline_ok())
        base_id = self.base(debian_id)
        if cp is None:
            cp = self.kubebuilder_images(base_id)
            if cp is None:
                if strict:
                    raise AssetError("online mode: no control-plane images (official or KUBEBUILDER_ASSETS)")
                return None
        stress = self.stress(debian_id)
        git = self.git_server()
        proxy = self.registry_proxy(base_id)
        manifests = self.manifests(irc_version)
        iac_manifests = self.iac_manifests(iac_version)
        ctrls = self.controller_set(flux_version, (irc_version, irc, provenance.OFFICIAL_IMAGE),
                                    (iac_version, iac, provenance.OFFICIAL_IMAGE))
        self.say("path: online (official upstream images)")
        a = Assets(irc_version, flux_version, irc, cp[0], cp[1], reg, stress, manifests, "online",
                   git_image=git, proxy_image=proxy, iac_version=iac_version, iac_image=iac,
                   iac_manifests_dir=iac_manifests, controllers=ctrls)
        self.record_set(a)
        return a

    def _debian_offline_ok(self) -> bool:
        """Reuse an already debootstrapped Debian image rather than pulling one."""
        return tools.image_exists(self.DEBIAN_TAG) or bool(shutil.which("debootstrap") and os.geteuid() == 0)


@contextlib.contextmanager
def cache_lock(cache: Path, progress: Progress) -> Iterator[None]:
    cache.mkdir(parents=True, exist_ok=True)
    fh = (cache / ".lock").open("a+")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress(f"[assets] waiting for another build holding {cache / '.lock'} ...")
            fcntl.flock(fh, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


def ensure_assets(
    flux_or_irc_version: str = versions.DEFAULT_FLUX_VERSION,
    *,
    mode: str = "auto",
    cache_dir: Path | None = None,
    progress: Callable[[str], None] = print,
) -> Assets:
    """Make sure every image for one IRC version exists locally; return their names.

    ``mode``: ``auto`` (official images if present or pullable, else build),
    ``offline`` (always build from the Go module proxy + Debian) or
    ``online`` (official images only).  A warm call does no work.
    """
    if mode not in MODES:
        raise AssetError(f"unknown mode {mode!r}: choose one of {', '.join(MODES)}")
    cache = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    learn_release(cache, flux_or_irc_version, progress)
    irc_version, flux_version = resolve_irc_version(flux_or_irc_version)
    t0 = time.monotonic()
    tools.require_docker()
    with cache_lock(cache, progress):
        b = Builder(cache, progress)
        order = {"auto": ("offline-build", "online"), "offline": ("offline-build",), "online": ("online",)}[mode]
        # auto prefers whatever set is already complete (no pulls, no builds).
        warm = b.warm(irc_version, flux_version, order)
        if warm:
            progress(f"[assets] ready: {ready_line(warm)} (cached) in {time.monotonic() - t0:.2f}s")
            return warm
        result: Assets | None = None
        if mode in ("auto", "online"):
            result = b.online(irc_version, flux_version, strict=(mode == "online"))
        if result is None:
            result = b.offline(irc_version, flux_version)
        progress(f"[assets] ready: {ready_line(result)} in {time.monotonic() - t0:.1f}s")
        return result


def ready_line(a: Assets) -> str:
    cs = a.controller_set()
    return cs.summary() if cs else f"image-reflector-controller {a.irc_version} ({a.source})"


def learn_release(cache: Path, flux_or_irc_version: str, progress: Progress) -> None:
    """A Flux release newer than the tables: read its pins from the flux2 module (cached)."""
    try:
        releases.learn(Builder(cache, progress), flux_or_irc_version)
    except AssetError as exc:
        progress(f"[assets] cannot read Flux {flux_or_irc_version.strip()} from {versions.FLUX2_MODULE}: {exc}")
