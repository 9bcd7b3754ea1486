"""Factory for the kind backend's environment (options -> guard -> assets -> cluster).

The foreign-cluster guard and the tool checks run first, before any asset is built
or anything is created, so a refused cluster costs nothing. Then the assets (the
controller image and manifests, the registry image) are resolved like the docker
backend's, the cluster is created or reused, and a :class:`KindEnvironment` (a
:class:`KubeEnvironment` that also applies a variant's PVC) is returned.
"""

from __future__ import annotations

from typing import Any

from ..environment import Progress
from ..settings import Settings
from ..variants import Variant
from ..domain import BackendError, InstallRequest
from .kube_environment import KubeEnvironment


class KindEnvironment(KubeEnvironment):
    """KubeEnvironment whose deploy also applies the variant's extra objects (its PVC),
    exactly as :func:`pytest_fluxchaos.variants.render` produced them."""

    def deploy(self, namespace: str, variant: Variant, progress: Progress) -> None:
        deployment, *extra = self.manifests(namespace, variant)
        self.backend.install_flux(  # type: ignore[call-arg]
            InstallRequest(namespace=namespace, deployment=deployment, irc_version=self.irc_version,
                           labels={"app.kubernetes.io/part-of": "fluxchaos",
                                   "fluxchaos.io/variant": variant.name}),
            progress, extra_objects=extra)


def pytest_config_of(progress: Any) -> Any:
    """The pytest config behind the session's ``progress`` callback, if any.

    The session hands factories ``(settings, flux_version, progress)`` only; pytest-kind's
    options live on the pytest config, reachable through the bound ``progress`` method
    of the session object.
    """
    owner = getattr(progress, "__self__", None)
    return getattr(owner, "config", None)


def create_kind_environment(settings: Settings, flux_version: str, progress: Progress, *,
                            options: Any = None, config: Any = None) -> KindEnvironment:
    """Check tools and the cluster's ownership, resolve assets, provision the cluster."""
    from ..assets import AssetError, ensure_assets
    from .kind import KindBackend, KindOptions
    from .kind.options import env_offline

    if options is None:
        config = config if config is not None else pytest_config_of(progress)
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
        return KindEnvironment(backend, irc_version=assets.irc_version, flux_version=assets.flux_version,
                               manifests_dir=assets.manifests_dir, irc_image=assets.irc_image)
    except BaseException:
        backend.teardown()
        raise
