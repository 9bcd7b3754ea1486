"""Container images and manifests for the real-controller chaos tests.

``ensure_assets()`` returns local Docker images for one image-reflector-
controller version (and etcd, kube-apiserver, an OCI registry and a stress
image), building them from the Go module proxy and Debian when the official
images cannot be had.  Run ``python -m pytest_fluxchaos.assets build`` to
build ahead of time and ``... status`` to see what is cached.  ``ensure_kind()``
returns a kind binary and a node image (``... build --kind``).
"""

from .build import Assets, default_cache_dir, ensure_assets
from .errors import AssetError
from .kind import KindAssets, cached_kind, ensure_kind
from .versions import FLUX_TO_IRC, resolve_irc_version

__all__ = [
    "Assets",
    "AssetError",
    "FLUX_TO_IRC",
    "default_cache_dir",
    "ensure_assets",
    "ensure_kind",
    "cached_kind",
    "KindAssets",
    "resolve_irc_version",
]
