"""DockerBackend: an envtest-style control plane and IRC "pods" as Docker containers.

Layout of one run (``<p>`` = ``fluxchaos-<run-id>``; every object is labelled
``io.fluxchaos.run=<run-id>`` and ``io.fluxchaos.managed=true``): network ``<p>-net``,
etcd and kube-apiserver (:mod:`.control_plane`), the registry (:mod:`.registry`) with its
fault proxy in front (:mod:`.proxy`, Toxiproxy then the registry liar; controllers reach
the registry through it), the Git server (:mod:`.git`), and per namespace the controller's
pods (:mod:`.pods`, restarted by :mod:`.supervisor`). The fault primitives are in
:mod:`.primitives` (the proxy's in :mod:`.proxy`). This class only wires them together.

The run directory (PKI, kubeconfig, service-account files) must be on the Docker
host's filesystem: the backend bind-mounts from it (the local engine is the target).
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ...domain import (BackendError, ClusterAccess, ContainerProcess, GitEndpoint, HelperResult, InstallRequest,
                       PodStatus, RegistryEndpoint, one_line)
from ..install_manifests import crd_files
from .. import exit_hooks
from .backoff import BackoffPolicy
from .cleanup import remove_labelled
from .client import ASSETS_HINT, Containers, connect_docker
from .control_plane import ControlPlane
from .git import GitContainer
from .labels import LABEL_MANAGED, LABEL_RUN
from .pods import PodRuntime
from .primitives import Primitives
from ..proxy_endpoints import ProxyEndpoints, ProxyPrimitives
from .proxy import ProxyContainer
from .registry import RegistryContainer
from .supervisor import PodRecord, Supervisor

log = logging.getLogger(__name__)
Progress = Callable[[str], None]
LEASE_NAME = "image-reflector-controller-leader-election"


def _quiet(_message: str) -> None:
    pass


class DockerBackend(ProxyPrimitives):
    """The ``docker`` backend: see the module docstring for what it creates."""

    name = "docker"

    def __init__(self, assets: Any = None, *, flux_version: str | None = None, run_id: str | None = None,
                 run_dir: str | Path | None = None, backoff: BackoffPolicy | None = None,
                 apiserver_port: int | None = None, registry_port: int | None = None,
                 apiserver_timeout: float = 120.0, install_timeout: float = 120.0, poll_interval: float = 0.2,
                 registry_outage_mode: str = "stop", install_signal_handlers: bool = True,
                 keep_run_dir: bool = False) -> None:
        self.run_id = run_id or secrets.token_hex(3)
        if not self.run_id.replace("-", "").isalnum() or self.run_id.lower() != self.run_id:
            raise BackendError(f"invalid run id {self.run_id!r}: use lowercase letters, digits and '-'")
        if registry_outage_mode not in ("stop", "pause"):
            raise BackendError("registry_outage_mode must be 'stop' or 'pause'")
        self.prefix = f"fluxchaos-{self.run_id}"
        self.flux_version = flux_version
        self.backoff = backoff or BackoffPolicy.from_env()
        self.apiserver_timeout = apiserver_timeout
        self.install_timeout = install_timeout
        self.poll_interval = poll_interval
        self.registry_outage_mode = registry_outage_mode
        self._signals = install_signal_handlers
        self._keep_run_dir = keep_run_dir
        self._own_run_dir = run_dir is None
        self._run_dir: Path | None = Path(run_dir) if run_dir else None
        self._assets = assets
        self._requested_ports = (apiserver_port, registry_port)
        self.labels = {LABEL_RUN: self.run_id, LABEL_MANAGED: "true"}
        self.network_name = f"{self.prefix}-net"
        self.registry_name = f"{self.prefix}-registry"
        self._docker: Any = None
        self._kube: Any = None
        self._plane: ControlPlane | None = None
        self._registry: RegistryContainer | None = None
        self._git: GitContainer | None = None
        self._proxy: ProxyContainer | None = None
        self._runtime: PodRuntime | None = None
        self._prims: Primitives | None = None
        self._sup: Supervisor | None = None
        self._crds_applied = False
        self._iac_crds_applied = False
        self._lock = threading.RLock()
        self._teardown_lock = threading.Lock()
        self._provisioned = False
        self.timings: dict[str, float] = {}
        self.events: list[dict[str, Any]] = []

    # -- small helpers -------------------------------------------------------------------
    @property
    def run_dir(self) -> Path:
        """PKI, kubeconfig and service-account files of this run (created on demand)."""
        if self._run_dir is None:
            self._run_dir = Path(tempfile.mkdtemp(prefix=f"{self.prefix}-"))
        return self._run_dir

    @property
    def kubeconfig_path(self) -> Path:
        return self.run_dir / "kubeconfig"

    @property
    def apiserver_port(self) -> int | None:
        return self._plane.port if self._plane else None

    @property
    def registry_port(self) -> int | None:
        return self._registry.port if self._registry else None

    def _require(self) -> PodRuntime:
        if not self._provisioned or self._runtime is None:
            raise BackendError("the docker backend is not provisioned (call provision() first)")
        return self._runtime

    @property
    def assets(self) -> Any:
        if self._assets is None:
            self._assets = self._resolve_assets()
        return self._assets

    @property
    def kube(self) -> Any:
        """The :class:`pytest_fluxchaos.kube.KubeClient` of this control plane."""
        self._require()
        return self._kube

    def _resolve_assets(self, progress: Progress | None = None) -> Any:
        from ...assets import ensure_assets

        try:
            if progress is None:
                return ensure_assets(self.flux_version or "2.9.4")
            return ensure_assets(self.flux_version or "2.9.4", progress=progress)
        except BackendError:
            raise
        except Exception as exc:  # noqa: BLE001 - AssetError and friends: one line
            raise BackendError(one_line(exc)) from None

    def _emit(self, kind: str, pod: PodRecord, detail: dict[str, Any]) -> None:
        entry = {"t": time.time(), "kind": kind, "namespace": pod.namespace, "pod": pod.name}
        for key, value in detail.items():
            entry[key] = value.__dict__ if hasattr(value, "__dict__") else value
        self.events.append(entry)
        if len(self.events) > 2000:
            del self.events[:500]

    # -- provision ---------------------------------------------------------------------------
    def provision(self, progress: Progress = _quiet) -> None:
        with self._lock:
            if self._provisioned:
                return
            t0 = time.monotonic()
            self._docker = connect_docker()
            exit_hooks.track(self, signals=self._signals)
            try:
                self._provision(progress, t0)
            except BaseException:
                # Leave nothing behind; the error already carries the logs that matter.
                try:
                    self.teardown()
                except BaseException:  # noqa: BLE001
                    pass
                raise

    def _provision(self, progress: Progress, t0: float) -> None:
        from ...kube import KubeClient

        if self._assets is None:
            self._assets = self._resolve_assets(progress)
        assets = self._assets
        c = Containers(self._docker, self.labels)
        git_image = getattr(assets, "git_image", "")
        if not git_image:
            raise BackendError(f"the assets name no Git server image; {ASSETS_HINT}")
        proxy_image = getattr(assets, "proxy_image", "")
        if not proxy_image:
            raise BackendError(f"the assets name no fault-proxy image for the registry; {ASSETS_HINT}")
        for ref in (assets.etcd_image, assets.apiserver_image, assets.registry_image, assets.stress_image, git_image,
                    proxy_image):
            c.image_config(ref)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.run_dir, 0o755)
        progress(f"docker: run {self.run_id} in {self.run_dir}")
        progress("docker: creating network, etcd, kube-apiserver, registry, its fault proxy and Git server")
        self._ensure_network()
        # Before the control plane: its readiness window (apiserver_timeout) stays as it was.
        self._git = GitContainer(c, self.prefix, self.network_name)
        self._git.start(git_image)
        self._registry = RegistryContainer(c, self.prefix, self.network_name, outage_mode=self.registry_outage_mode)
        # Toxiproxy and the liar dial their upstreams per connection (Docker's DNS), so they may start first.
        self._proxy = ProxyContainer(c, self.prefix, self.network_name, self._registry.endpoint().cluster_host)
        t_proxy = time.monotonic()
        self._proxy.start(proxy_image)
        self.timings["proxy_run_s"] = time.monotonic() - t_proxy  # docker run of the proxy
        self._plane = ControlPlane(c, self.prefix, self.network_name, timeout=self.apiserver_timeout)
        pki_dir = self._plane.start(assets.etcd_image, assets.apiserver_image, self.run_dir,
                                    self._requested_ports[0])
        self._registry.start(assets.registry_image, self._requested_ports[1])
        self._plane.wait_ready(pki_dir)
        self.timings["apiserver_ready_s"] = time.monotonic() - t0
        self._plane.write_kubeconfig(self.kubeconfig_path)
        self._kube = KubeClient(self.kubeconfig_path)
        self._registry.wait()
        t_proxy = time.monotonic()
        self._proxy.wait()
        # After the control plane's wait, so mostly the admin call creating the proxy.
        self.timings["proxy_wait_s"] = time.monotonic() - t_proxy
        self._git.wait()
        assert self._plane.pki is not None
        self._sup = Supervisor(self.run_id, connect_docker, self._create_pod_container, backoff=self.backoff,
                               poll_interval=self.poll_interval, on_event=self._emit)
        self._runtime = PodRuntime(c, prefix=self.prefix, run_id=self.run_id, network=self.network_name,
                                   apiserver=self._plane.apiserver_name, run_dir=self.run_dir,
                                   ca_pem=self._plane.pki.ca.cert_pem, kube=self._kube, sup=self._sup,
                                   install_timeout=self.install_timeout, manifests_dir=assets.manifests_dir,
                                   helper_image=assets.stress_image,
                                   iac_manifests_dir=getattr(assets, "iac_manifests_dir", None))
        self._prims = Primitives(self._runtime, c)
        self._sup.start()
        self._provisioned = True
        self.timings["provision_s"] = time.monotonic() - t0
        progress(f"docker: control plane ready in {self.timings['provision_s']:.1f}s "
                 f"(apiserver https://127.0.0.1:{self.apiserver_port})")

    def _create_pod_container(self, pod: PodRecord, docker: Any) -> tuple[str, str]:
        assert self._runtime is not None
        return self._runtime.create_container(pod, docker)

    def _ensure_network(self) -> None:
        from docker.errors import NotFound

        try:
            self._docker.networks.get(self.network_name)
        except NotFound:
            self._docker.networks.create(self.network_name, driver="bridge", labels=dict(self.labels),
                                         check_duplicate=True)

    # -- access -----------------------------------------------------------------------------
    def cluster(self) -> ClusterAccess:
        self._require()
        return ClusterAccess(kubeconfig=self.kubeconfig_path, context="fluxchaos", created_by_plugin=True)

    def registry(self) -> RegistryEndpoint:
        self._require()
        assert self._registry is not None and self._proxy is not None
        direct = self._registry.endpoint()
        # The plugin pushes straight to the registry; the controllers go through the proxy.
        return RegistryEndpoint(host_url=direct.host_url, cluster_host=self._proxy.cluster_host,
                                insecure=direct.insecure)

    def registry_direct(self) -> RegistryEndpoint:
        """The registry itself, bypassing the fault proxy."""
        self._require()
        assert self._registry is not None
        return self._registry.endpoint()

    # -- the registry's fault proxy and liar (proxy.ProxyPrimitives) ------------------------
    def _proxy_endpoints(self) -> ProxyEndpoints:
        self._require()
        assert self._proxy is not None and self._proxy.endpoints is not None
        return self._proxy.endpoints

    # -- install ----------------------------------------------------------------------------
    def install_flux(self, request: InstallRequest, progress: Progress = _quiet,
                     extra_objects: Sequence[dict[str, Any]] = ()) -> None:
        """The variant's PVCs (``extra_objects``) become one Docker volume per claim,
        shared by every pod that mounts it; the objects themselves are not needed."""
        runtime = self._require()
        t0 = time.monotonic()
        from .podspec import translate_deployment

        image = self._resolve_irc_image(translate_deployment(request.deployment, request.namespace).image,
                                        request.irc_version)
        self._ensure_crds()
        state = runtime.install(request, image, progress)
        state.ready_s = time.monotonic() - t0
        self.timings[f"install_{request.namespace}_s"] = state.ready_s
        progress(f"docker: image-reflector-controller ready in {request.namespace} after {state.ready_s:.1f}s")
        if request.automation is not None:
            self._install_automation(request, progress)

    def _install_automation(self, request: InstallRequest, progress: Progress) -> None:
        """IAC beside IRC: its CRDs (GitRepository included) once, then its pod."""
        from .podspec import translate_deployment

        runtime = self._require()
        assert request.automation is not None
        t0 = time.monotonic()
        wanted = translate_deployment(request.automation, request.namespace).image
        candidates = [r for r in (wanted, getattr(self.assets, "iac_image", None)) if r]
        image = next((r for r in candidates if runtime.c.has_image(r)), None)
        if image is None:
            raise BackendError(f"no local image for image-automation-controller (tried "
                               f"{', '.join(candidates) or 'nothing'}); {ASSETS_HINT}")
        self._ensure_crds(automation=True)
        state = runtime.install_automation(request, image, progress)
        state.ready_s = time.monotonic() - t0
        self.timings[f"install_automation_{request.namespace}_s"] = state.ready_s
        progress(f"docker: image-automation-controller ready in {request.namespace} after {state.ready_s:.1f}s")

    def _resolve_irc_image(self, deployment_image: str, irc_version: str) -> str:
        """The Deployment's own image when present locally (a user's patch), else the assets' one."""
        candidates = []
        if deployment_image and ":" in deployment_image.rsplit("/", 1)[-1]:
            candidates.append(deployment_image)
        irc_image = self.assets.irc_image
        if irc_version:
            candidates.append(f"{irc_image.rsplit(':', 1)[0]}:{irc_version}")
        if not irc_version or irc_version == getattr(self.assets, "irc_version", None):
            candidates.append(irc_image)
        runtime = self._require()
        for ref in candidates:
            if runtime.c.has_image(ref):
                return ref
        raise BackendError(f"no local image for image-reflector-controller {irc_version} "
                           f"(tried {', '.join(candidates)}); {ASSETS_HINT}")

    def _ensure_crds(self, automation: bool = False) -> None:
        with self._lock:
            if not self._crds_applied:
                self._kube.install_crds(crd_files(self.assets.manifests_dir), timeout=30)
                self._crds_applied = True
            if automation and not self._iac_crds_applied:
                iac_dir = getattr(self.assets, "iac_manifests_dir", None)
                if iac_dir is None:
                    raise BackendError(f"the assets have no image-automation-controller manifests; {ASSETS_HINT}")
                self._kube.install_crds(crd_files(iac_dir), timeout=30)
                self._iac_crds_applied = True

    def uninstall(self, namespace: str) -> None:
        self._require().uninstall(namespace)

    # -- observation and primitives ----------------------------------------------------------
    def pods(self, namespace: str) -> list[PodStatus]:
        return self._require().statuses(namespace)

    def pod_record(self, namespace: str, pod: str) -> PodRecord:
        return self._require().record(namespace, pod)

    def logs(self, namespace: str, pod: str, *, previous: bool = False, tail: int | str = "all") -> str:
        """The controller's logs (``previous=True``: of the container before the last restart)."""
        rec = self.pod_record(namespace, pod)
        cid = rec.previous_container_id if previous else rec.container_id
        if not cid:
            return ""
        try:
            return str(self._docker.api.logs(cid, tail=tail).decode(errors="replace"))
        except Exception:  # noqa: BLE001
            return ""

    def _primitives(self) -> Primitives:
        self._require()
        assert self._prims is not None
        return self._prims

    def signal_container(self, namespace: str, pod: str, signal: str = "KILL") -> str:
        return self._primitives().signal_container(namespace, pod, signal)

    def freeze(self, namespace: str, pod: str, frozen: bool) -> str:
        return self._primitives().freeze(namespace, pod, frozen)

    def container_process(self, namespace: str, pod: str) -> ContainerProcess:
        return self._primitives().container_process(namespace, pod)

    def run_host_helper(self, namespace: str, pod: str, script: str, env: Mapping[str, str],
                        timeout: float) -> HelperResult:
        return self._primitives().run_host_helper(namespace, pod, script, env, timeout)

    def delete_pod(self, namespace: str, pod: str) -> str:
        return self._primitives().delete_pod(namespace, pod)

    def stop_registry(self) -> None:
        self._require()
        assert self._registry is not None
        self._registry.stop()

    def start_registry(self) -> None:
        self._require()
        assert self._registry is not None
        self._registry.start_again()

    def _git_container(self) -> GitContainer:
        self._require()
        assert self._git is not None
        return self._git

    def git_server(self) -> GitEndpoint:
        return self._git_container().endpoint()

    def create_git_repo(self, name: str) -> None:
        self._git_container().create_repo(name)

    def stop_git(self) -> None:
        self._git_container().stop()

    def start_git(self) -> None:
        self._git_container().start_again()

    def git_reachable(self) -> bool:
        return self._git_container().reachable()

    # -- teardown ---------------------------------------------------------------------------
    def teardown(self) -> None:
        """Remove every container, network and volume of this run; safe to call twice."""
        with self._teardown_lock:
            interrupted: BaseException | None = None
            try:
                if self._sup is not None:
                    self._sup.stop()
            except KeyboardInterrupt as exc:
                interrupted = exc
            if self._kube is not None:
                try:
                    self._kube.close()
                except BaseException:  # noqa: BLE001
                    pass
            if self._proxy is not None:
                self._proxy.close()
            docker = self._docker
            if docker is None:
                try:
                    docker = connect_docker()
                except BackendError:
                    docker = None
            if docker is not None:
                for _ in range(2):
                    try:
                        remove_labelled(docker, f"{LABEL_RUN}={self.run_id}")
                        break
                    except KeyboardInterrupt as exc:
                        interrupted = exc
                    except Exception as exc:  # noqa: BLE001
                        log.warning("fluxchaos: teardown of run %s: %s", self.run_id, exc)
                        break
            self._provisioned = False
            self._crds_applied = False
            self._iac_crds_applied = False
            if self._runtime is not None:
                self._runtime.namespaces.clear()
                self._runtime.automation.clear()
            exit_hooks.untrack(self)
            if self._own_run_dir and not self._keep_run_dir and self._run_dir is not None:
                shutil.rmtree(self._run_dir, ignore_errors=True)
                self._run_dir = None
            if interrupted is not None:
                raise interrupted
