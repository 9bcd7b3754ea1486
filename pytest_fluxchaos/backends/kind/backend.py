"""KindBackend: a kind cluster (via pytest-kind), a wired local registry, IRC per namespace.

A thin façade; each concern is its own module: ``provision.py`` (preflight and the
foreign-cluster guard's facts, create or reuse, ready waits, image load),
``registry_container.py`` (``<cluster>-registry``, wired into containerd and
KEP-1755), ``git_container.py`` (``<cluster>-git``, the smart-HTTP Git server), ``install.py`` (CRDs, RBAC, the Deployment, bounded readiness),
``pods.py`` (status and slots), ``primitives.py`` (the Backend protocol's primitives
through the pod's node; each one that touches the cluster passes the guard here
first) and ``lifecycle.py`` (teardown on every exit path). What a fault is lives in
:mod:`pytest_fluxchaos.faults`, never here.
"""

from __future__ import annotations

import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ...domain import (BackendError, ClusterAccess, ContainerProcess, GitEndpoint, HelperResult,
                       InstallRequest, PodStatus, RegistryEndpoint)
from ..proxy_endpoints import ProxyEndpoints, ProxyPrimitives
from . import cluster_lock
from . import commands as cmd
from . import lifecycle
from . import provision as setup
from .git_container import GitContainer
from .guard import ClusterPlan, owner_marker
from .install import Installer
from .options import KindOptions
from .pods import PodView
from .proxy_container import ProxyContainer
from .primitives import NodePrimitives
from .provision import MarkerReader, read_owner_marker
from .registry_container import RegistryContainer

Progress = Callable[[str], None]


def _quiet(_m: str) -> None:
    pass


class KindBackend(ProxyPrimitives):
    """The ``kind`` backend; see the module docstring."""

    name = "kind"

    def __init__(self, assets: Any, options: KindOptions | None = None, *, allow_cluster: str | None = None,
                 keep: bool = False, offline: bool = False, runner: Callable[..., cmd.Result] | None = None,
                 marker_reader: MarkerReader = read_owner_marker, run_dir: str | Path | None = None,
                 cluster_timeout: float = 600.0, ready_timeout: float = 240.0,
                 install_timeout: float = 240.0, load_timeout: float = 300.0,
                 plugin_version: str = "0.1.0") -> None:
        self.assets = assets
        self.options = options or KindOptions()
        self.cluster_name = self.options.cluster_name
        self._cluster_lock: Path | None = None  # one session per cluster (cluster_lock.py)
        self.allow_cluster = allow_cluster
        self.keep = keep or self.options.keep_cluster
        self.offline = offline
        self.run = runner or cmd.Runner()
        self.marker_reader = marker_reader
        self.cluster_timeout, self.ready_timeout = cluster_timeout, ready_timeout
        self.load_timeout, self.plugin_version = load_timeout, plugin_version
        self.run_id = secrets.token_hex(3)
        self._own_run_dir = run_dir is None
        self._run_dir = Path(run_dir) if run_dir else None
        self.kind_path: Path | None = None
        self.kind_source = ""
        self.kind_version: tuple[int, int, int] | None = None
        self.plan: ClusterPlan | None = None
        self.network = "kind"
        self.network_preexisted = True  # only a run that creates a cluster may remove it
        self.nodes: list[str] = []
        self.irc_image: str | None = getattr(assets, "irc_image", None)
        self._cluster: Any = None
        self._kube: Any = None
        self._provisioned = self._torn_down = False
        self._lock = threading.RLock()
        self._teardown_lock = threading.Lock()
        self.timings: dict[str, float] = {}
        self.flux_version: str | None = None
        self.choice: Any = None  # .assets.KindChoice: which kind and node image, and why
        self.logs_on_failure: Callable[[], Path] | None = None  # where `kind export logs` goes
        self.export_logs_to: Path | None = None  # set when an item failed: export before deleting
        self.registry_container = RegistryContainer(self.run, self.cluster_name)
        self.git_container = GitContainer(self.run, self.cluster_name)
        self.proxy_container = ProxyContainer(self.run, self.cluster_name)
        self.pod_view = PodView(lambda: self._kube)
        self.installer = Installer(lambda: self._kube, self.pod_view, install_timeout)
        self.primitives = NodePrimitives(self.run, self.pod_view, lambda: self._kube)

    # -- state -------------------------------------------------------------------------------

    @property
    def run_dir(self) -> Path:
        if self._run_dir is None:
            self._run_dir = Path(tempfile.mkdtemp(prefix=f"fluxchaos-kind-{self.run_id}-"))
        return self._run_dir

    @property
    def kubeconfig_path(self) -> Path:
        """The plugin's own single-context kubeconfig of the cluster (never a merged one)."""
        return self.run_dir / "kubeconfig"

    @property
    def kube(self) -> Any:
        self._require()
        return self._kube

    @property
    def registry_name(self) -> str:
        return self.registry_container.name

    @property
    def registry_port(self) -> int | None:
        return self.registry_container.port

    def _require(self) -> None:
        if not self._provisioned:
            raise BackendError("the kind backend is not provisioned (call provision() first)")

    def _faults_allowed(self) -> None:
        """Defence in depth: provision() already refused a foreign, unnamed cluster."""
        self._require()
        assert self.plan is not None
        if not self.plan.created_by_plugin and self.allow_cluster != self.cluster_name:
            raise BackendError(f"refusing to inject faults into kind cluster {self.cluster_name!r}: "
                               "it was not created by pytest-fluxchaos and "
                               f"--fluxchaos-allow-cluster does not name it")

    # -- preflight and provision ----------------------------------------------------------------

    def preflight(self, progress: Progress = _quiet) -> ClusterPlan:
        """Check tools and decide create / reuse / foreign, without changing anything."""
        took_lock = self._cluster_lock is None
        if took_lock:
            self._cluster_lock = cluster_lock.acquire(self.cluster_name)
        try:
            return self._preflight(progress)
        except BaseException:
            # a refused (foreign) cluster or a missing tool: nothing was made, so the session
            # must not keep the cluster's lock until it exits
            if took_lock and self._cluster_lock is not None:
                cluster_lock.release(self._cluster_lock)
                self._cluster_lock = None
            raise

    def _preflight(self, progress: Progress) -> ClusterPlan:
        tool = setup.resolve_kind(self.options, self.run, offline=self.offline, progress=progress)
        self.kind_path, self.kind_source, self.kind_version = tool.path, tool.source, tool.version
        self.plan = setup.plan_for(self.run, tool.path, self.cluster_name, self.kubeconfig_path,
                                   self.marker_reader, self.allow_cluster)
        if self.plan.action == "create":
            # kind keeps its "kind" network after `kind delete cluster`: teardown removes it
            # again if this run made it (and nothing else uses it by then).
            self.network_preexisted = self.run(cmd.inspect_network("kind"), timeout=30,
                                               check=False).returncode == 0
            setup.ensure_node_image(self.run, self.options.node_image, offline=self.offline, progress=progress)
        return self.plan

    def provision(self, progress: Progress = _quiet) -> None:
        with self._lock:
            if self._provisioned:
                return
            lifecycle.track(self)
            self._torn_down = False
            try:
                self._provision(progress, time.monotonic())
            except BaseException as exc:
                if isinstance(exc, Exception) and self.logs_on_failure is not None:
                    self.export_logs_to = self.logs_on_failure()
                try:
                    self.teardown()
                except BaseException:  # noqa: BLE001 - the original error matters
                    pass
                raise

    def _provision(self, progress: Progress, t0: float) -> None:
        from ...kube import KubeClient
        from .cluster import make_cluster

        plan = self.plan or self.preflight(progress)
        assert self.kind_path is not None
        self._cluster = make_cluster(self.options, self.kind_path, allow_download=not self.offline)
        setup.bring_up(self._cluster, plan, self.run, self.kind_path, self.options, self.kubeconfig_path,
                       self.cluster_timeout, progress)  # from here on, failures delete a new cluster
        self._kube = KubeClient(self.kubeconfig_path, request_timeout=15)
        if plan.action == "create":
            self._kube.apply_manifest(owner_marker(self.cluster_name, self.run_id, self.plugin_version))
        self.timings["cluster_s"] = time.monotonic() - t0
        setup.wait_cluster_ready(self._kube, self.cluster_name, self.ready_timeout, progress)
        self.nodes = setup.node_names(self.run, self.kind_path, self.cluster_name)
        self.network = setup.node_network(self.run, self.nodes[0])
        self.registry_container.ensure(getattr(self.assets, "registry_image", None), self.network, progress)
        self.registry_container.wire(self.nodes, self._kube, plan.created_by_plugin, progress)
        self.git_container.ensure(getattr(self.assets, "git_image", None), self.network, progress)
        # The controllers reach the registry through the fault proxy; the plugin pushes directly.
        self.proxy_container.ensure(getattr(self.assets, "proxy_image", None), self.network,
                                    self.registry_container.upstream_url(self.network), progress)
        if self.irc_image:
            self.timings["load_images_s"] = setup.load_image(self.run, self.kind_path, self.cluster_name,
                                                             self.irc_image, self.load_timeout, progress,
                                                             nodes=self.nodes)
        self._provisioned = True
        self.timings["provision_s"] = time.monotonic() - t0
        progress(f"kind: cluster {self.cluster_name} ready in {self.timings['provision_s']:.1f}s "
                 f"(registry 127.0.0.1:{self.registry_port}, kubeconfig {self.kubeconfig_path})")

    # -- access, install, observation --------------------------------------------------------

    def details(self) -> dict[str, Any]:
        """What this backend runs on, for each item's ``verdict.json`` (``backend_details``)."""
        out: dict[str, Any] = {"cluster": self.cluster_name, "flux_version": self.flux_version,
                               "kind_version": "v{}.{}.{}".format(*self.kind_version) if self.kind_version
                               else None, "kind_bin": str(self.kind_path) if self.kind_path else None,
                               "kind_bin_source": self.kind_source, "node_image": self.options.node_image,
                               "cluster_action": self.plan.action if self.plan else None,
                               "controller_assets": getattr(self.assets, "source", None),
                               "timings_s": {k: round(v, 1) for k, v in self.timings.items()}}
        if self.choice is not None:
            out.update(self.choice.as_dict())
        return out

    def cluster(self) -> ClusterAccess:
        self._require()
        assert self.plan is not None
        return ClusterAccess(kubeconfig=self.kubeconfig_path, context=f"kind-{self.cluster_name}",
                             created_by_plugin=self.plan.created_by_plugin)

    def registry(self) -> RegistryEndpoint:
        self._require()
        direct = self.registry_container.endpoint()
        return RegistryEndpoint(host_url=direct.host_url, cluster_host=self.proxy_container.cluster_host,
                                insecure=direct.insecure)

    def registry_direct(self) -> RegistryEndpoint:
        """The registry itself, bypassing the fault proxy."""
        self._require()
        return self.registry_container.endpoint()

    def _proxy_endpoints(self) -> ProxyEndpoints:
        self._require()
        if self.proxy_container.endpoints is None:
            raise BackendError("the kind cluster's fault proxy is not running (provision first)")
        return self.proxy_container.endpoints

    def install_flux(self, request: InstallRequest, progress: Progress = _quiet,
                     extra_objects: Iterable[dict[str, Any]] = ()) -> None:
        """CRDs once; then the namespace's RBAC, PVCs (``extra_objects``) and the Deployment."""
        self._require()
        self.timings[f"install_{request.namespace}_s"] = self.installer.install(
            request, Path(self.assets.manifests_dir), progress, extra_objects)
        if request.automation is not None:
            iac_dir = getattr(self.assets, "iac_manifests_dir", None)
            if iac_dir is None:
                raise BackendError("the assets have no image-automation-controller manifests; "
                                   "run `python -m pytest_fluxchaos.assets build`")
            self._load_automation_image(progress)
            self.timings[f"install_automation_{request.namespace}_s"] = self.installer.install_automation(
                request, Path(iac_dir), progress)

    def _load_automation_image(self, progress: Progress) -> None:
        """IAC's image into the nodes, once, when a namespace first asks for IAC (most runs never do)."""
        iac_image = getattr(self.assets, "iac_image", None)
        if iac_image and "load_iac_image_s" not in self.timings:
            assert self.kind_path is not None
            self.timings["load_iac_image_s"] = setup.load_image(self.run, self.kind_path, self.cluster_name,
                                                                iac_image, self.load_timeout, progress,
                                                                nodes=self.nodes)

    def uninstall(self, namespace: str) -> None:
        """Remove the namespace (image objects' finalizers first, so it can terminate)."""
        self._require()
        self.installer.uninstall(namespace)

    def pods(self, namespace: str) -> list[PodStatus]:
        self._require()
        return self.pod_view.statuses(namespace)

    # -- primitives (the faults are built from these; see pytest_fluxchaos.faults) -----------

    def signal_container(self, namespace: str, pod: str, signal: str = "KILL") -> str:
        self._faults_allowed()
        return self.primitives.signal(namespace, pod, signal)

    def freeze(self, namespace: str, pod: str, frozen: bool) -> str:
        self._faults_allowed()
        return self.primitives.freeze(namespace, pod, frozen)

    def container_process(self, namespace: str, pod: str) -> ContainerProcess:
        self._faults_allowed()  # read-only, but only ever the first step of a fault
        return self.primitives.container_process(namespace, pod)

    def run_host_helper(self, namespace: str, pod: str, script: str, env: Mapping[str, str],
                        timeout: float) -> HelperResult:
        self._faults_allowed()
        return self.primitives.run_host_helper(namespace, pod, script, env, timeout)

    def delete_pod(self, namespace: str, pod: str) -> str:
        self._faults_allowed()
        return self.primitives.delete_pod(namespace, pod)

    def stop_registry(self) -> None:
        self._faults_allowed()
        self.registry_container.stop()

    def start_registry(self) -> None:
        """Start the registry again; wait until it answers from the host *and* from inside
        the cluster (through CoreDNS, from every node: see RegistryContainer.wait_in_cluster)."""
        self._faults_allowed()
        self.registry_container.start()
        self.registry_container.wait_in_cluster(self.nodes, self._kube)

    # -- the Git server (a plain container pair on the nodes' network) -------------------

    def git_server(self) -> GitEndpoint:
        self._require()
        return self.git_container.endpoint()

    def create_git_repo(self, name: str) -> None:
        self._require()
        self.git_container.create_repo(name)

    def stop_git(self) -> None:
        self._faults_allowed()
        self.git_container.stop()

    def start_git(self) -> None:
        self._faults_allowed()
        self.git_container.start()

    def git_reachable(self) -> bool:
        self._require()
        return self.git_container.reachable()

    # -- teardown ------------------------------------------------------------------------------

    def teardown(self) -> None:
        """Delete what this session created; safe to call twice and from atexit."""
        with self._teardown_lock:
            if self._torn_down:
                return
            self._torn_down = True
            lifecycle.untrack(self)
            self._provisioned = False
            try:
                lifecycle.teardown(self)
            finally:
                if self._cluster_lock is not None:
                    cluster_lock.release(self._cluster_lock)
                    self._cluster_lock = None
            if self._own_run_dir:
                lifecycle.remove_run_dir(self._run_dir)
                self._run_dir = None
