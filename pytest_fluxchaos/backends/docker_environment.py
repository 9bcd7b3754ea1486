"""Factory for the docker backend's environment (assets -> backend -> provision)."""

from __future__ import annotations

from ..environment import Progress
from ..settings import Settings
from ..domain import BackendError
from .kube_environment import KubeEnvironment


def create_docker_environment(settings: Settings, flux_version: str,
                              progress: Progress) -> KubeEnvironment:
    """Resolve assets for ``flux_version``, provision the control plane and registry."""
    from ..assets import AssetError, ensure_assets
    from .docker import DockerBackend

    try:
        assets = ensure_assets(flux_version, mode=settings.assets, progress=progress)
    except AssetError as exc:
        raise BackendError(str(exc)) from None
    backend = DockerBackend(assets, flux_version=assets.flux_version)
    try:
        backend.provision(progress)
        return KubeEnvironment(backend, irc_version=assets.irc_version,
                               flux_version=assets.flux_version,
                               manifests_dir=assets.manifests_dir, assets=assets)
    except BaseException:
        backend.teardown()
        raise
