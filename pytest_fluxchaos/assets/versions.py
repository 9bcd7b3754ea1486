"""Version tables: Flux release -> image-reflector-controller (IRC) and
image-automation-controller (IAC), and the pins of every other asset.

Both tables were read from fluxcd/flux2's
``manifests/bases/<controller>/kustomization.yaml`` at every tag from v2.3.0
to v2.9.4 (the release asset URL names the controller version); newer
releases are read from the ``github.com/fluxcd/flux2/v2`` module at build
time (:mod:`.releases`).
"""

from __future__ import annotations

import os
import re

from .errors import AssetError

#: Flux release -> image-reflector-controller version pinned by that release.
FLUX_TO_IRC: dict[str, str] = {
    "2.3.0": "v0.32.0",
    "2.4.0": "v0.33.0",
    "2.5.0": "v0.34.0",
    "2.5.1": "v0.34.0",
    "2.6.0": "v0.35.0",
    "2.6.1": "v0.35.1",
    "2.6.2": "v0.35.2",
    "2.6.3": "v0.35.2",
    "2.6.4": "v0.35.2",
    "2.7.0": "v1.0.1",
    "2.7.1": "v1.0.1",
    "2.7.2": "v1.0.2",
    "2.7.3": "v1.0.3",
    "2.7.4": "v1.0.4",
    "2.7.5": "v1.0.4",
    "2.8.0": "v1.1.0",
    "2.8.1": "v1.1.0",
    "2.8.2": "v1.1.1",
    "2.8.3": "v1.1.1",
    "2.8.4": "v1.1.1",
    "2.8.5": "v1.1.1",
    "2.8.6": "v1.1.1",
    "2.8.7": "v1.1.1",
    "2.8.8": "v1.1.2",
    "2.9.0": "v1.2.1",
    "2.9.1": "v1.2.2",
    "2.9.2": "v1.2.3",
    "2.9.3": "v1.2.3",
    "2.9.4": "v1.2.4",
}

#: Flux release -> image-automation-controller version pinned by that release.
FLUX_TO_IAC: dict[str, str] = {
    "2.3.0": "v0.38.0",
    "2.4.0": "v0.39.0",
    "2.5.0": "v0.40.0",
    "2.5.1": "v0.40.0",
    "2.6.0": "v0.41.0",
    "2.6.1": "v0.41.0",
    "2.6.2": "v0.41.1",
    "2.6.3": "v0.41.2",
    "2.6.4": "v0.41.2",
    "2.7.0": "v1.0.1",
    "2.7.1": "v1.0.1",
    "2.7.2": "v1.0.2",
    "2.7.3": "v1.0.3",
    "2.7.4": "v1.0.4",
    "2.7.5": "v1.0.4",
    "2.8.0": "v1.1.0",
    "2.8.1": "v1.1.0",
    "2.8.2": "v1.1.1",
    "2.8.3": "v1.1.1",
    "2.8.4": "v1.1.1",
    "2.8.5": "v1.1.1",
    "2.8.6": "v1.1.2",
    "2.8.7": "v1.1.3",
    "2.8.8": "v1.1.4",
    "2.9.0": "v1.2.1",
    "2.9.1": "v1.2.2",
    "2.9.2": "v1.2.3",
    "2.9.3": "v1.2.3",
    "2.9.4": "v1.2.4",
}

DEFAULT_FLUX_VERSION = "2.9.4"

#: IRC versions whose module (and every dependency, after substitution) the
#: Go module proxy reachable from the project's machines was seen to serve
#: (2026-11).  v0.32.0 (Flux 2.3), v1.0.x, v1.1.x, v1.2.0-v1.2.2 are refused
#: (403/404), so they only work through the online path.
OFFLINE_BUILDABLE_IRC = ("v1.2.3", "v1.2.4")
#: IAC versions the proxy serves here (2026-12): only v1.1.2 (v1.0.x, v1.1.0/1/3/4,
#: v1.2.x and v0.41.x are refused), so the offline path pairs it with any IRC.
OFFLINE_BUILDABLE_IAC = ("v1.1.2",)

# Pins of the other assets (overridable through the environment / CLI).
ETCD_VERSION = os.environ.get("FLUXCHAOS_ETCD_VERSION", "v3.6.16")
KUBERNETES_VERSION = os.environ.get("FLUXCHAOS_KUBERNETES_VERSION", "v1.34.3")
REGISTRY_VERSION = os.environ.get("FLUXCHAOS_REGISTRY_VERSION", "v3.1.2")
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = os.environ.get("FLUXCHAOS_DEBIAN_MIRROR", "http://deb.debian.org/debian")

# Go modules.
IRC_MODULE = "github.com/fluxcd/image-reflector-controller"
IRC_API_MODULE = IRC_MODULE + "/api"
ETCD_MODULE = "go.etcd.io/etcd/server/v3"
KUBERNETES_MODULE = "k8s.io/kubernetes"
REGISTRY_MODULE = "github.com/distribution/distribution/v3"
#: The fault proxy in front of the registry (its server: ``cmd/server``).
TOXIPROXY_MODULE = "github.com/Shopify/toxiproxy/v2"
TOXIPROXY_VERSION = os.environ.get("FLUXCHAOS_TOXIPROXY_VERSION", "v2.5.0")
IAC_MODULE = "github.com/fluxcd/image-automation-controller"
IAC_API_MODULE = IAC_MODULE + "/api"
SOURCE_CONTROLLER_MODULE = "github.com/fluxcd/source-controller"
#: Only its GitRepository CRD is used (IAC watches GitRepositories); any served v1.x will do.
SOURCE_CONTROLLER_VERSION = os.environ.get("FLUXCHAOS_SOURCE_CONTROLLER_VERSION", "v1.9.0")
FLUX2_MODULE = "github.com/fluxcd/flux2/v2"
CONTROLLER_TOOLS_MODULE = "sigs.k8s.io/controller-tools"
CONTROLLER_TOOLS_VERSION = "v0.19.0"

# Official images used by the online path.
def official_irc_image(irc_version: str) -> str:
    return f"ghcr.io/fluxcd/image-reflector-controller:{irc_version}"


def official_iac_image(iac_version: str) -> str:
    return f"ghcr.io/fluxcd/image-automation-controller:{iac_version}"


OFFICIAL_REGISTRY_IMAGE = "registry:3"
OFFICIAL_ETCD_IMAGE = os.environ.get("FLUXCHAOS_OFFICIAL_ETCD_IMAGE", "registry.k8s.io/etcd:3.6.4-0")


def official_apiserver_image(k8s_version: str) -> str:
    return f"registry.k8s.io/kube-apiserver:{k8s_version}"


_SEMVER = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?$")


def _key(v: str) -> tuple[int, int, int]:
    m = _SEMVER.match(v)
    assert m
    return int(m[1]), int(m[2]), int(m[3] or 0)


release_key = _key


def pinned_iac(flux_version: str | None, irc_version: str) -> str | None:
    """The IAC version Flux ``flux_version`` pins (else that of the newest release pinning
    ``irc_version``; None if no release is known)."""
    if flux_version in FLUX_TO_IAC:
        return FLUX_TO_IAC[flux_version]
    fluxes = [f for f, i in FLUX_TO_IRC.items() if i == irc_version and f in FLUX_TO_IAC]
    return FLUX_TO_IAC[max(fluxes, key=_key)] if fluxes else None


def offline_iac(pinned: str | None) -> str:
    """The IAC version the offline path builds: the pinned one when the proxy serves it,
    else the newest served one (FLUXCHAOS_IAC_VERSION overrides)."""
    forced = os.environ.get("FLUXCHAOS_IAC_VERSION")
    if forced:
        return forced if forced.startswith("v") else f"v{forced}"
    return pinned if pinned in OFFLINE_BUILDABLE_IAC else OFFLINE_BUILDABLE_IAC[-1]


def learn_release(flux_version: str, pins: dict[str, str]) -> None:
    """Add a release read from the flux2 module (:mod:`.releases`) to the tables."""
    if "image-reflector-controller" in pins:
        FLUX_TO_IRC.setdefault(flux_version, pins["image-reflector-controller"])
    if "image-automation-controller" in pins:
        FLUX_TO_IAC.setdefault(flux_version, pins["image-automation-controller"])


def resolve_irc_version(flux_or_irc_version: str) -> tuple[str, str | None]:
    """Map a Flux release or an IRC version to ``(irc_version, flux_version)``.

    * ``"2.9.4"`` / ``"v2.9.4"`` -> ``("v1.2.4", "2.9.4")``
    * ``"2.3"`` (a Flux minor) -> its newest known patch release
    * ``"v1.2.4"`` / ``"1.2.4"`` (an IRC version) -> ``("v1.2.4", "2.9.4")``
      (the newest Flux release pinning it, or ``None`` if none does)
    """
    raw = (flux_or_irc_version or "").strip()
    m = _SEMVER.match(raw)
    if not m:
        raise AssetError(
            f"cannot understand version {flux_or_irc_version!r}: give a Flux release "
            f"such as 2.9.4 or an image-reflector-controller version such as v1.2.4"
        )
    major, minor, patch = int(m[1]), int(m[2]), m[3]
    if major == 2:  # a Flux release (IRC has no 2.x)
        if patch is not None:
            flux = f"{major}.{minor}.{patch}"
            if flux not in FLUX_TO_IRC:
                raise AssetError(
                    f"unknown Flux release {flux}: known releases are "
                    f"{', '.join(sorted(FLUX_TO_IRC, key=_key))}; or pass an "
                    f"image-reflector-controller version directly (e.g. v1.2.4)"
                )
            return FLUX_TO_IRC[flux], flux
        candidates = [f for f in FLUX_TO_IRC if _key(f)[:2] == (major, minor)]
        if not candidates:
            raise AssetError(
                f"unknown Flux minor {major}.{minor}: known Flux releases span "
                f"2.3.0..{max(FLUX_TO_IRC, key=_key)}; or pass an image-reflector-controller version"
            )
        flux = max(candidates, key=_key)
        return FLUX_TO_IRC[flux], flux
    if major in (0, 1):  # an image-reflector-controller version
        irc = f"v{major}.{minor}.{patch if patch is not None else 0}"
        fluxes = [f for f, i in FLUX_TO_IRC.items() if i == irc]
        return irc, (max(fluxes, key=_key) if fluxes else None)
    raise AssetError(
        f"version {flux_or_irc_version!r} is neither a Flux 2.x release nor an "
        f"image-reflector-controller 0.x/1.x version"
    )

# --------------------------------------------------------------------------- #
# kind (``build --kind``): the kind CLI and an offline node image.
# --------------------------------------------------------------------------- #

KIND_MODULE = "sigs.k8s.io/kind"
KIND_VERSION = os.environ.get("FLUXCHAOS_KIND_VERSION", "v0.30.0")
#: kind v0.30.0's default node image (its pkg/apis/config/defaults/image.go),
#: pinned by digest: the online path.
OFFICIAL_KIND_NODE_IMAGE = ("kindest/node:v1.34.0@sha256:"
                            "7416a61b42b1662ca6ca89f02028ac133a309a2a30ba309614e8ec94d976dc5a")
#: Runtime pieces of the offline node image: kind v0.30.0's base image pins,
#: except where the Go module proxy serves only other versions (crictl: kind
#: pins v1.33.0; coredns: kubeadm 1.34 names v1.12.1).
CONTAINERD_MODULE, CONTAINERD_VERSION = "github.com/containerd/containerd/v2", "v2.1.4"
RUNC_MODULE, RUNC_VERSION = "github.com/opencontainers/runc", "v1.3.0"
CRI_TOOLS_MODULE, CRI_TOOLS_VERSION = "sigs.k8s.io/cri-tools", "v1.34.0"
CNI_PLUGINS_MODULE, CNI_PLUGINS_VERSION = "github.com/containernetworking/plugins", "v1.7.1"
COREDNS_MODULE, COREDNS_VERSION = "github.com/coredns/coredns", "v1.14.3"
LOCAL_PATH_MODULE, LOCAL_PATH_VERSION = "github.com/rancher/local-path-provisioner", "v0.0.30"
PAUSE_VERSION = "3.10.1"  # build/pause/linux/pause.c of k8s.io/kubernetes
#: Debian packages kind's images/base/Dockerfile installs (fuse-overlayfs,
#: nfs-common and open-iscsi are left out: rootless nodes / NFS / iSCSI only).
KIND_BASE_PACKAGES = (
    "systemd", "conntrack", "iptables", "nftables", "iproute2", "ethtool", "util-linux", "mount",
    "kmod", "libseccomp2", "pigz", "bash", "ca-certificates", "curl", "jq", "procps",
)
