"""Factory for the kind backend's environment (options -> kind assets -> guard -> cluster).

The kind binary and node image come first (:func:`.kind.assets.choose_kind`: what the
user gave, else the asset set), then the foreign-cluster guard and the tool checks run,
before the controller's assets are resolved or anything is created, so a refused
cluster costs nothing. Each Flux version gets its own cluster (a second version in one
session is ``<name>-<version>``): the CRDs of two releases cannot share an API server,
which rejects a CRD that drops a version listed in ``status.storedVersions``.

When pytest is at hand (``config``), a small plugin notes failed items so that the
backend exports ``kind export logs`` into the artifacts directory before it deletes the
cluster (:meth:`.kind.KindBackend.teardown`).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from ..domain import BackendError
from ..environment import Progress
from ..settings import Settings
from .kube_environment import KubeEnvironment


def cluster_name_for(base: str, flux_version: str, in_use: dict[str, str]) -> str:
    """``base`` for the first Flux version of a session, ``<base>-<version>`` for others.

    ``in_use`` maps cluster names of live backends to their Flux version.
    """
    if in_use.get(base, flux_version) == flux_version:
        return base
    slug = re.sub(r"[^a-z0-9.-]+", "-", flux_version.lower()).strip("-.")
    return f"{base[:49 - len(slug)]}-{slug}"


class FailedItems:
    """A pytest plugin: mark the backend failed when an item fails (its logs are exported)."""

    def __init__(self, backend: Any, logs_dir: Any) -> None:
        self.backend = backend
        self.logs_dir = logs_dir

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.failed:
            self.backend.export_logs_to = self.logs_dir()


def _logs_dir(config: Any, cluster: str) -> Any:
    def where() -> Path:
        session = config.pluginmanager.get_plugin("fluxchaos-session")
        base = session.artifacts_base() if session is not None else Path("artifacts")
        return Path(base) / f"kind-logs-{cluster}"
    return where


def create_kind_environment(settings: Settings, flux_version: str, progress: Progress, *,
                            options: Any = None, config: Any = None) -> KubeEnvironment:
    """Choose kind and its node image, check the cluster's ownership, provision it."""
    from .kind import KindBackend, KindOptions
    from .kind import lifecycle
    from .kind.assets import choose_kind, controller_assets
    from .kind.options import env_offline

    if options is None:
        options = KindOptions.from_pytest_config(config) if config is not None else KindOptions()
    name = cluster_name_for(options.cluster_name, flux_version, lifecycle.live_clusters())
    if name != options.cluster_name:
        progress(f"kind: Flux {flux_version} gets its own cluster {name} (CRDs of two releases "
                 "cannot share one API server)")
        options = dataclasses.replace(options, cluster_name=name)
    options, choice = choose_kind(options, settings.assets, progress)
    progress(choice.describe())
    offline = env_offline(settings.assets)
    backend = KindBackend(None, options, allow_cluster=settings.allow_cluster, keep=settings.keep,
                          offline=offline)
    backend.flux_version = flux_version
    backend.choice = choice
    backend.preflight(progress)  # refuses a foreign cluster before anything is built or created
    assets = controller_assets(flux_version, settings.assets, progress)
    backend.assets = assets
    backend.irc_image = assets.irc_image
    if config is not None:
        backend.logs_on_failure = _logs_dir(config, options.cluster_name)
        name = f"fluxchaos-kind-failures-{options.cluster_name}"
        old = config.pluginmanager.get_plugin(name)
        if old is not None:  # an earlier environment of the same cluster name in this process
            config.pluginmanager.unregister(old, name)
        config.pluginmanager.register(FailedItems(backend, backend.logs_on_failure), name)
    try:
        backend.provision(progress)
        return KubeEnvironment(backend, irc_version=assets.irc_version, flux_version=assets.flux_version,
                               manifests_dir=assets.manifests_dir, irc_image=assets.irc_image, assets=assets)
    except BaseException:
        backend.teardown()
        raise


__all__ = ["BackendError", "FailedItems", "cluster_name_for", "create_kind_environment"]
