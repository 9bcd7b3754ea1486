"""A real environment: a backend (docker, kind) + the Kubernetes API + the registry.

This is where the domain's :class:`~pytest_fluxchaos.environment.Environment` meets
real clients. Everything Kubernetes-side (objects, the leader Lease, observation) is
the same for every backend; only pods, faults on containers and the registry's
location come from the backend.
"""

from __future__ import annotations

import functools
import threading
from datetime import datetime, timezone
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from ..durations import format_duration
from ..environment import Progress
from ..history import History
from ..kube import KubeClient
from ..registry import RegistryClient, RegistryError
from ..scenario import Scenario
from ..variants import Variant, render
from ..gitrepo import GitWatcher
from ..domain import (REFLECTOR, BackendError, ContainerProcess, GitEndpoint, HelperResult,
                      InstallRequest, PodStatus, lease_name)
from ..assets import provenance
from .automation import render_automation
from .automation_wiring import start_automation
from .base import Backend
from .registry_faults import RegistryFaults


class KubeEnvironment(RegistryFaults):
    """Implements the domain's Environment protocol on top of a provisioned backend (the
    registry's fault proxy and liar come from :class:`RegistryFaults`)."""

    def __init__(self, backend: Backend, *, irc_version: str, flux_version: str | None,
                 manifests_dir: Path, irc_image: str | None = None, assets: Any = None,
                 automation: bool = False) -> None:
        """``assets`` (an :class:`~pytest_fluxchaos.assets.Assets`) brings IAC's image,
        manifests and the controllers' provenance; ``automation`` runs IAC in every
        namespace (a variant can ask for it too)."""
        self.backend = backend
        self.assets = assets
        self.automation = automation
        self.iac_version: str | None = getattr(assets, "iac_version", None)
        self._with_automation: set[str] = set()  # namespaces where IAC runs
        self.backend_name = backend.name
        self.irc_version = irc_version
        self.flux_version = flux_version
        self.manifests_dir = manifests_dir
        self.irc_image = irc_image
        self.kube = KubeClient(str(backend.cluster().kubeconfig))
        endpoint = backend.registry()
        self.registry_endpoint = endpoint
        self.registry_client = RegistryClient(endpoint.host_url)
        self._lock = threading.Lock()
        self._closed = False
        self._histories: dict[str, History] = {}
        self._git_watchers: dict[str, GitWatcher] = {}

    def controllers(self, namespace: str | None = None) -> dict[str, Any]:
        """Each controller's version, image, source, module substitutions; the mixed-pair flag.

        For a ``namespace``: only what runs there (IAC only where it was deployed, so a run
        of IRC alone is never flagged a mixed pair)."""
        data = dict(getattr(self.assets, "controllers", None) or {})
        if namespace is None or namespace in self._with_automation:
            return data
        cs = provenance.from_dict(data)
        if cs is None:
            return data
        return provenance.ControllerSet(cs.flux_version, tuple(c for c in cs.controllers
                                                              if c.name != provenance.IAC)).as_dict()

    def backend_details(self) -> dict[str, Any]:
        """The backend's own account of what it runs on (kind: binary, node image, path taken)."""
        details = getattr(self.backend, "details", None)
        return details() if callable(details) else {}

    # -- deployment ------------------------------------------------------------------
    @functools.cached_property
    def _upstream(self) -> dict[str, Any]:
        path = self.manifests_dir / "deployment.yaml"
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        return next(d for d in docs if d.get("kind") == "Deployment")

    def upstream_deployment(self) -> dict[str, Any]:
        """The release's Deployment (read once; render() copies it before patching)."""
        return self._upstream

    def manifests(self, namespace: str, variant: Variant) -> list[dict[str, Any]]:
        return render(self.upstream_deployment(), variant, namespace=namespace,
                      image=self.irc_image)

    def deploy(self, namespace: str, variant: Variant, progress: Progress,
               automation: bool | None = None) -> None:
        """IRC, and IAC beside it when ``automation`` (default: the variant's, else the environment's)."""
        deployment, *extra = self.manifests(namespace, variant)
        labels = {"app.kubernetes.io/part-of": "fluxchaos", "fluxchaos.io/variant": variant.name}
        if automation is None:
            automation = bool(variant.automation) or self.automation
        iac = self.automation_deployment(namespace, variant) if automation else None
        if automation:
            self._with_automation.add(namespace)
        self.backend.install_flux(InstallRequest(namespace=namespace, deployment=deployment,
                                                 irc_version=self.irc_version, labels=labels,
                                                 automation=iac, automation_version=self.iac_version),
                                  progress, extra_objects=extra)

    def automation_deployment(self, namespace: str, variant: Variant) -> dict[str, Any]:
        """IAC's Deployment for the namespace, with the variant's leader-election timing."""
        iac_dir = getattr(self.assets, "iac_manifests_dir", None)
        if iac_dir is None:
            raise BackendError("no image-automation-controller in the assets; "
                               "run `python -m pytest_fluxchaos.assets build`")
        docs = [d for d in yaml.safe_load_all((Path(iac_dir) / "deployment.yaml").read_text()) if d]
        upstream = next(d for d in docs if d.get("kind") == "Deployment")
        flags: dict[str, str] = {}
        le = variant.leader_election
        if le:
            for flag, value in (("--leader-election-lease-duration", le.lease_duration),
                                ("--leader-election-renew-deadline", le.renew_deadline),
                                ("--leader-election-retry-period", le.retry_period)):
                if value is not None:
                    flags[flag] = format_duration(value)
        return render_automation(upstream, namespace=namespace, image=getattr(self.assets, "iac_image", None),
                                 leader_election=flags)

    def apply_objects(self, namespace: str, scenario: Scenario, variant: Variant) -> None:
        v1 = not self.irc_version.startswith("v0.")
        for repo in scenario.repositories:
            extra: dict[str, Any] = {}
            if repo.timeout is not None:
                extra["timeout"] = format_duration(repo.timeout)
            if repo.exclusion_list is not None:
                extra["exclusionList"] = list(repo.exclusion_list)
            self.kube.create_image_repository(
                namespace, repo.name, self.image_ref(namespace, repo.image),
                interval=format_duration(repo.interval),
                insecure=self.registry_endpoint.insecure, extra_spec=extra)
        for pol in scenario.policies:
            extra = {}
            if pol.filter_tags:
                extra["filterTags"] = dict(pol.filter_tags)
            reflection = variant.digest_reflection_policy or pol.digest_reflection_policy
            if reflection != "Never":
                if not v1:
                    raise BackendError(f"digestReflectionPolicy {reflection} needs IRC v1.x "
                                       f"(running {self.irc_version})")
                extra["digestReflectionPolicy"] = reflection
                if reflection == "Always":
                    extra["interval"] = format_duration(pol.interval or 600.0)
            self.kube.create_image_policy(namespace, pol.name, pol.repository, pol.policy,
                                          extra_spec=extra)
        if scenario.automation is not None:
            self._git_watchers[namespace] = start_automation(
                self.backend, self.kube, namespace, scenario, self._histories[namespace],
                self.registry_endpoint.cluster_host, lambda image: self.image_ref(namespace, image))

    def image_ref(self, namespace: str, image: str) -> str:
        """What ImageRepository.spec.image holds: the registry as seen from the cluster."""
        return f"{self.registry_endpoint.cluster_host}/{self.repository(namespace, image)}"

    @staticmethod
    def repository(namespace: str, image: str) -> str:
        # One registry for all variants: a namespace prefix keeps their tags apart.
        return f"{namespace}/{image}"

    # -- clients ------------------------------------------------------------------------
    def push_tag(self, namespace: str, image: str, tag: str) -> str:
        try:
            return self.registry_client.push_tag(self.repository(namespace, image), tag)
        except RegistryError as exc:
            if "not reachable" in str(exc):
                raise ConnectionError(str(exc)) from None
            raise

    def delete_tag(self, namespace: str, image: str, tag: str) -> None:
        try:
            self.registry_client.delete_tag(self.repository(namespace, image), tag)
        except RegistryError as exc:
            if "not reachable" in str(exc):
                raise ConnectionError(str(exc)) from None
            raise

    def request_reconcile(self, namespace: str, kind: str, name: str) -> None:
        self.kube.request_reconcile(kind, namespace, name)

    def observe(self, namespace: str, history: History) -> Callable[[], list[str]]:
        from ..observe import Observer

        observer = Observer(self.kube.api_client, [namespace], history,
                            api_version=self.kube.image_api_version(),
                            pods_fn=self.pods)  # IRC's pods: the history's replica lanes
        observer.start(sync_timeout=15)
        self._histories[namespace] = history

        def stop() -> list[str]:
            errors = [str(e) for e in observer.stop()]
            watcher = self._git_watchers.pop(namespace, None)
            if watcher is not None:
                errors += [f"git: {e}" for e in watcher.stop()]
            self._histories.pop(namespace, None)
            return errors
        return stop

    # -- cluster state and faults -------------------------------------------------------
    def leader(self, namespace: str, controller: str = REFLECTOR) -> str | None:
        """The pod holding IRC's Lease (``controller="automation"``: IAC's)."""
        return self.kube.lease_holder(namespace, lease_name(controller))

    def lease_renew_age(self, namespace: str, controller: str = REFLECTOR) -> float | None:
        lease = self.kube.get_lease(namespace, lease_name(controller))
        if lease is None or not lease.holder_identity or not lease.renew_time:
            return None
        # The controllers stamp renewTime with this host's clock (same kernel), so the
        # wall clocks are comparable.
        renewed = datetime.fromisoformat(lease.renew_time.replace("Z", "+00:00"))
        return (datetime.now(timezone.utc) - renewed).total_seconds()

    def pods(self, namespace: str, controller: str = REFLECTOR) -> list[PodStatus]:
        """One controller's pods (IRC's unless asked), in replica-slot order."""
        return [p for p in self.backend.pods(namespace) if p.controller == controller]

    def signal_container(self, namespace: str, pod: str, signal: str = "KILL") -> str:
        return self.backend.signal_container(namespace, pod, signal)

    def freeze(self, namespace: str, pod: str, frozen: bool) -> str:
        return self.backend.freeze(namespace, pod, frozen)

    def container_process(self, namespace: str, pod: str) -> ContainerProcess:
        return self.backend.container_process(namespace, pod)

    def run_host_helper(self, namespace: str, pod: str, script: str, env: Mapping[str, str],
                        timeout: float) -> HelperResult:
        return self.backend.run_host_helper(namespace, pod, script, env, timeout)

    def delete_pod(self, namespace: str, pod: str) -> str:
        return self.backend.delete_pod(namespace, pod)

    def delete_lease(self, namespace: str, controller: str = REFLECTOR) -> str | None:
        name = lease_name(controller)
        holder = self.kube.lease_holder(namespace, name)
        self.kube.delete_lease(namespace, name)
        return holder

    def stop_registry(self) -> None:
        self.backend.stop_registry()

    def start_registry(self) -> None:
        self.backend.start_registry()

    def registry_reachable(self) -> bool:
        return self.registry_client.is_up()

    def git_server(self) -> GitEndpoint:
        return self.backend.git_server()

    def create_git_repo(self, name: str) -> None:
        self.backend.create_git_repo(name)

    def stop_git(self) -> None:
        self.backend.stop_git()

    def start_git(self) -> None:
        self.backend.start_git()

    def git_reachable(self) -> bool:
        return self.backend.git_reachable()

    def undeploy(self, namespace: str) -> None:
        self.backend.uninstall(namespace)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            self.registry_client.close()
            self.kube.close()
        finally:
            self.backend.teardown()
