"""What the kind backend runs with: pytest-kind's own options, pinned versions, kind-config.

The plugin reuses pytest-kind's options instead of adding duplicates:

=========================  ===============================================================
``--cluster-name``         the kind cluster (default here ``fluxchaos``: pytest-kind's
                           own default ``pytest-kind`` is left to pytest-kind's fixture)
``--keep-cluster``         keep the cluster (and its registry) after the session
``--kind-image``           the node image (default: the asset set's, see
                           :mod:`.assets`; else ``kindest/node:v1.34.0@sha256:…``)
``--kind-bin``             the kind binary (else ``$FLUXCHAOS_KIND_BIN``, else the asset
                           set's, else ``kind`` on PATH, then pytest-kind's download of
                           the pinned ``KIND_VERSION``)
``--kind-kubectl-bin``     passed to pytest-kind's ``KindCluster`` (the plugin itself
                           talks to the API with the Python client)
``--kubeconfig``           where kind writes its kubeconfig (the plugin always uses its
                           own single-context copy, so a merged ~/.kube/config never
                           points it at another cluster)
=========================  ===============================================================

pytest-kind 22.11.1 would download kind v0.17.0 and kubectl v1.25.3, far too old for
Flux 2.9 (Kubernetes >= 1.33): the pins below replace them (``KIND_VERSION`` /
``KUBECTL_VERSION`` in the environment still win, as in pytest-kind).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...domain import BackendError

# kind v0.30.0 is the last release whose default node image (Kubernetes 1.34) runs on
# cgroup v1 hosts without kubelet overrides (research/airgap-kind.md §4); its default
# is kindest/node:v1.34.0@sha256:7416a61b... (pkg/apis/config/defaults/image.go@v0.30.0).
KIND_VERSION = "v0.30.0"
KUBECTL_VERSION = "v1.34.0"
NODE_IMAGE_TAG = "kindest/node:v1.34.0"
NODE_IMAGE_DIGEST = "sha256:7416a61b42b1662ca6ca89f02028ac133a309a2a30ba309614e8ec94d976dc5a"
NODE_IMAGE = f"{NODE_IMAGE_TAG}@{NODE_IMAGE_DIGEST}"  # the default is pinned by digest
MIN_KIND_VERSION = (0, 20, 0)  # below: cannot run current node images at all
DEFAULT_CLUSTER_NAME = "fluxchaos"
PYTEST_KIND_DEFAULT_NAME = "pytest-kind"
KIND_CONFIG_NAME = "kind-config.yaml"
PACKAGED_KIND_CONFIG = Path(__file__).with_name(KIND_CONFIG_NAME)
INSTALL_HINT = (f"install kind {KIND_VERSION} (`go install sigs.k8s.io/kind@{KIND_VERSION}`, "
                "or a release binary from https://kind.sigs.k8s.io) and put it on PATH, "
                "or pass --kind-bin=PATH")
_NAME = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,48}[a-z0-9])?$")


@dataclass(frozen=True)
class KindOptions:
    cluster_name: str = DEFAULT_CLUSTER_NAME
    keep_cluster: bool = False
    kubeconfig: Path | None = None
    node_image: str = NODE_IMAGE
    kind_bin: Path | None = None
    kubectl_bin: Path | None = None
    config_file: Path = PACKAGED_KIND_CONFIG
    workdir: Path = field(default_factory=lambda: Path(".pytest-kind"))
    # Where kind_bin / node_image came from: "--kind-bin", "FLUXCHAOS_KIND_BIN", "--kind-image",
    # "default" (not given: the kind backend takes the asset set's, see .assets).
    kind_bin_source: str = "default"
    node_image_source: str = "default"

    def __post_init__(self) -> None:
        if not _NAME.match(self.cluster_name):
            raise BackendError(
                f"--cluster-name {self.cluster_name!r} is not a valid kind cluster name "
                "(lowercase letters, digits, '-' and '.', at most 50 characters)")

    @classmethod
    def from_pytest_config(cls, config: Any) -> KindOptions:
        """pytest-kind's options (when pytest-kind is loaded) plus the kind-config lookup."""

        def opt(name: str) -> Any:
            try:
                return config.getoption(name)
            except (ValueError, AttributeError):
                return None  # pytest-kind not loaded (-p no:pytest-kind)

        name = opt("cluster_name")
        args = [str(a) for a in getattr(config.invocation_params, "args", ())]
        explicit = any(a == "--cluster-name" or a.startswith("--cluster-name=") for a in args)
        if not name or (name == PYTEST_KIND_DEFAULT_NAME and not explicit):
            name = DEFAULT_CLUSTER_NAME
        rootdir = Path(str(getattr(config, "rootpath", "."))) if config is not None else None
        kind_bin, kind_bin_source = kind_bin_from(opt("kind_bin"))
        return cls(
            cluster_name=str(name),
            keep_cluster=bool(opt("keep_cluster")),
            kubeconfig=Path(opt("kubeconfig")).expanduser() if opt("kubeconfig") else None,
            node_image=str(opt("kind_image") or NODE_IMAGE),
            kind_bin=kind_bin,
            kubectl_bin=Path(opt("kind_kubectl_bin")).expanduser() if opt("kind_kubectl_bin") else None,
            config_file=find_kind_config(rootdir),
            kind_bin_source=kind_bin_source,
            node_image_source="--kind-image" if opt("kind_image") else "default",
        )


def kind_bin_from(option: str | None, environ: Mapping[str, str] | None = None) -> tuple[Path | None, str]:
    """``--kind-bin``, else ``$FLUXCHAOS_KIND_BIN``, else nothing given (``~`` expanded)."""
    env = os.environ if environ is None else environ
    if option:
        return Path(option).expanduser(), "--kind-bin"
    if env.get("FLUXCHAOS_KIND_BIN"):
        return Path(env["FLUXCHAOS_KIND_BIN"]).expanduser(), "FLUXCHAOS_KIND_BIN"
    return None, "default"


def find_kind_config(rootdir: Path | None, environ: dict[str, str] | None = None) -> Path:
    """``$FLUXCHAOS_KIND_CONFIG``, else ``<rootdir>/kind-config.yaml``, else the packaged one."""
    env = os.environ if environ is None else environ
    if env.get("FLUXCHAOS_KIND_CONFIG"):
        path = Path(env["FLUXCHAOS_KIND_CONFIG"]).expanduser()
        if not path.is_file():
            raise BackendError(f"FLUXCHAOS_KIND_CONFIG={path} does not exist")
        return path
    if rootdir is not None and (rootdir / KIND_CONFIG_NAME).is_file():
        return rootdir / KIND_CONFIG_NAME
    return PACKAGED_KIND_CONFIG


def pinned_kind_version(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get("KIND_VERSION") or KIND_VERSION


def pinned_kubectl_version(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get("KUBECTL_VERSION") or KUBECTL_VERSION


def parse_kind_version(text: str) -> tuple[int, int, int] | None:
    """``kind v0.30.0 go1.26.8 linux/amd64`` -> (0, 30, 0); None if unrecognised."""
    m = re.search(r"\bv(\d+)\.(\d+)\.(\d+)", text)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def check_kind_version(text: str, path: Path) -> tuple[int, int, int] | None:
    """Refuse kinds too old for current node images (pytest-kind's v0.17.0 among them)."""
    version = parse_kind_version(text)
    if version is not None and version < MIN_KIND_VERSION:
        have = "v{}.{}.{}".format(*version)
        need = "v{}.{}.{}".format(*MIN_KIND_VERSION)
        raise BackendError(
            f"kind {have} at {path} is too old for {NODE_IMAGE} (need >= {need}, pinned {KIND_VERSION}); "
            + INSTALL_HINT)
    return version


def pytest_kind_binary(options: KindOptions, environ: Mapping[str, str] | None = None) -> Path:
    """Where pytest-kind keeps (or would download) the pinned kind for this cluster name."""
    return options.workdir / options.cluster_name / f"kind-{pinned_kind_version(environ)}"


def resolve_kind_binary(options: KindOptions, *, which: Callable[[str], str | None] = shutil.which,
                        home: Path | None = None,
                        environ: dict[str, str] | None = None) -> tuple[Path | None, str]:
    """The kind binary and where it came from; ``(None, "download")`` when none is local.

    Order: ``--kind-bin``; ``kind`` on PATH; pytest-kind's cached download of the pinned
    version; ``$GOBIN``/``~/go/bin`` (``go install``). ``None`` means: let pytest-kind
    download the pinned version (online only).
    """
    env = os.environ if environ is None else environ
    if options.kind_bin is not None:
        path = options.kind_bin.expanduser()
        given = options.kind_bin_source if options.kind_bin_source != "default" else "--kind-bin"
        if not path.is_file() or not os.access(path, os.X_OK):
            raise BackendError(f"{given} {path} is not an executable file; " + INSTALL_HINT)
        return path, given
    found = which("kind")
    if found:
        return Path(found), "PATH"
    cached = pytest_kind_binary(options, env)
    if cached.is_file() and os.access(cached, os.X_OK):
        return cached, "pytest-kind cache"
    gobins = [Path(env["GOBIN"])] if env.get("GOBIN") else []
    if env.get("GOPATH"):
        gobins.append(Path(env["GOPATH"].split(os.pathsep)[0]) / "bin")
    gobins.append((home or Path.home()) / "go" / "bin")
    for d in gobins:
        candidate = d / "kind"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate, "go install"
    return None, "download"


def env_offline(mode: str, environ: dict[str, str] | None = None) -> bool:
    """Offline when the assets mode says so or ``FLUXCHAOS_OFFLINE=1``: nothing is
    downloaded or pulled (kind, node image)."""
    env = os.environ if environ is None else environ
    return mode == "offline" or env.get("FLUXCHAOS_OFFLINE") == "1"
