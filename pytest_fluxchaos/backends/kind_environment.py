"""Factory for the kind backend's environment (options -> guard -> assets -> cluster).

The foreign-cluster guard and the tool checks run first, before any asset is built
or anything is created, so a refused cluster costs nothing. Then the assets (the
controller image and manifests, the registry image) are resolved like the docker
backend's, the cluster is created or reused, and a :class:`KubeEnvironment` is returned.
"""

from __future__ import annotations

from typing import Any

from ..environment import Progress
from ..settings import Settings
from ..domain import BackendError
from .kube_environment import KubeEnvironment


def create_kind_environment(settings: Settings, flux_version: str, progress: Progress, *,
                            options: Any = None, config: Any = None) -> KubeEnvironment:
    """Check tools and the cluster's ownership, resolve assets, provision the cluster."""
    from ..assets import AssetError, ensure_assets
    from .kind import KindBackend, KindOptions
    from .kind.options import env_offline

    if options is None:
        options = KindOptions.from_pytest_config(config) if config is not None else KindOptions()
    offline = env_offline(settings.assets)
    backend = KindBackend(None, options, allow_cluster=settings.allow_cluster, keep=settings.keep,
                          offline=offline)
    backend.preflight(progress)  # refuses a foreign cluster before anything is built or created
    try:
        assets = ensure_assets(flux_version, mode=settings.assets, progress=progress)
    except AssetError as exc:
        raise BackendError(str(exc)) from None
    backend.assets = assets
    backend.irc_image = assets.irc_image
    try:
        backend.provision(progress)
        return KubeEnvironment(backend, irc_version=assets.irc_version, flux_version=assets.flux_version,
                               manifests_dir=assets.manifests_dir, irc_image=assets.irc_image)
    except BaseException:
        backend.teardown()
        raise
