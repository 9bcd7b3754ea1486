"""KindBackend: a kind cluster (via pytest-kind), a wired local registry, IRC per namespace.

Life of one session (``<c>`` = the cluster name, default ``fluxchaos``):

1. preflight, before anything is created or touched: the kind binary (``--kind-bin``,
   PATH, pytest-kind's pinned download) and its version, the Docker engine, whether
   ``<c>`` exists and, if so, whose it is (the foreign-cluster guard, ``guard.py``);
2. ``KindCluster.create(kind-config.yaml)`` (pytest-kind) with the pinned node image,
   or reuse of a cluster this plugin created and kept; the ownership ConfigMap; bounded
   waits for the node, CoreDNS and the local-path provisioner;
3. the registry container ``<c>-registry`` on the kind network, published on
   ``127.0.0.1:<port>``, with containerd ``certs.d`` entries on every node and the
   ``local-registry-hosting`` ConfigMap (``registry.py``);
4. the controller image loaded into the nodes (``kind load docker-image``);
5. per variant namespace: CRDs once, RBAC, the rendered Deployment (+ PVC), bounded
   wait for a Ready pod and a Lease holder;
6. faults: ``docker exec`` into the pod's node for SIGKILL and for the OOM helper
   (``crictl inspect`` -> PID -> its memory cgroup), pod deletion through the API,
   registry outage by stopping the container; confirmation from pod status;
7. teardown on every exit path (normal close, provisioning failure, atexit,
   SIGTERM/SIGHUP): the cluster and the registry are deleted, unless kept
   (``--keep-cluster`` / ``--fluxchaos-keep``) or foreign (never deleted).
"""

from __future__ import annotations

import atexit
import logging
import os
import secrets
import shutil
import signal
import socket
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..base import BackendError, ClusterAccess, InstallRequest, PodStatus, RegistryEndpoint
from . import commands as cmd
from .cgroups import parse_proc_cgroup, pid_from_crictl_inspect
from .guard import (OWNER_CONFIGMAP, OWNER_NAMESPACE, ClusterPlan, owner_marker,
                    plan_cluster)
from ...waiting import poll
from ..registry_wait import wait_registry
from .manifests import claim_names, crd_files, leader_election_enabled, rbac_objects, selector_of
from .options import (INSTALL_HINT, KIND_VERSION, KindOptions, check_kind_version,
                      resolve_kind_binary)
from .pods import CONTAINER, SlotTable, is_terminating, pod_status
from .registry import (LABEL_CLUSTER, REGISTRY_PORT, certs_d_entries, local_registry_hosting,
                       registry_name, run_registry_args)

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
MarkerReader = Callable[[Path], "tuple[dict[str, Any] | None, str | None]"]


def _quiet(_m: str) -> None:
    pass


def _one_line(text: object, limit: int = 300) -> str:
    return " ".join(str(text).split())[:limit]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------------------
# Every exit path: atexit and SIGTERM/SIGHUP tear live backends down
# --------------------------------------------------------------------------------------

_LIVE: weakref.WeakSet[KindBackend] = weakref.WeakSet()
_HOOKS = False


def _teardown_live() -> None:
    for backend in list(_LIVE):
        try:
            backend.teardown()
        except BaseException:  # noqa: BLE001 - at exit: best effort
            pass


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # finally blocks run, then atexit sweeps


def _install_hooks() -> None:
    global _HOOKS
    if _HOOKS:
        return
    _HOOKS = True
    atexit.register(_teardown_live)
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGHUP):
        try:
            if signal.getsignal(signum) in (signal.SIG_DFL, None):
                signal.signal(signum, _exit_on_signal)
        except (ValueError, OSError):
            pass


# --------------------------------------------------------------------------------------


def read_owner_marker(kubeconfig: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The ownership ConfigMap of the cluster behind ``kubeconfig`` (None if absent),
    or why it could not be read."""
    from kubernetes.client.exceptions import ApiException

    from ...kube import KubeClient, KubeError

    try:
        kube = KubeClient(kubeconfig, request_timeout=10)
    except KubeError as exc:
        return None, str(exc)
    try:
        cm = kube.core.read_namespaced_config_map(OWNER_CONFIGMAP, OWNER_NAMESPACE, _request_timeout=10)
        return kube.api_client.sanitize_for_serialization(cm), None
    except ApiException as exc:
        if exc.status == 404:
            return None, None
        return None, f"HTTP {exc.status} {exc.reason}"
    except Exception as exc:  # noqa: BLE001 - unreachable API: cannot verify
        return None, _one_line(exc, 160)
    finally:
        kube.close()


class KindBackend:
    """The ``kind`` backend; see the module docstring."""

    name = "kind"

    def __init__(
        self,
        assets: Any,
        options: KindOptions | None = None,
        *,
        allow_cluster: str | None = None,
        keep: bool = False,
        offline: bool = False,
        runner: Callable[..., cmd.Result] | None = None,
        marker_reader: MarkerReader = read_owner_marker,
        run_dir: str | Path | None = None,
        cluster_timeout: float = 600.0,
        ready_timeout: float = 240.0,
        install_timeout: float = 240.0,
        load_timeout: float = 300.0,
        plugin_version: str = "0.1.0",
    ) -> None:
        self.assets = assets
        self.options = options or KindOptions()
        self.cluster_name = self.options.cluster_name
        self.allow_cluster = allow_cluster
        self.keep = keep or self.options.keep_cluster
        self.offline = offline
        self.run = runner or cmd.Runner()
        self.marker_reader = marker_reader
        self.cluster_timeout = cluster_timeout
        self.ready_timeout = ready_timeout
        self.install_timeout = install_timeout
        self.load_timeout = load_timeout
        self.plugin_version = plugin_version
        self.run_id = secrets.token_hex(3)
        self.registry_name = registry_name(self.cluster_name)
        self._own_run_dir = run_dir is None
        self._run_dir = Path(run_dir) if run_dir else None
        self.kind_path: Path | None = None
        self.kind_source = ""
        self.kind_version: tuple[int, int, int] | None = None
        self.plan: ClusterPlan | None = None
        self.registry_port: int | None = None
        self.network = "kind"
        self.nodes: list[str] = []
        self.irc_image: str | None = getattr(assets, "irc_image", None)
        self._cluster: Any = None
        self._kube: Any = None
        self._provisioned = False
        self._created_cluster = False
        self._created_registry = False
        self._wrote_registry_hosting = False
        self._certs_written: list[str] = []
        self._crds_applied = False
        self._namespaces: dict[str, dict[str, Any]] = {}
        self._slots = SlotTable()
        self._lock = threading.RLock()
        self._teardown_lock = threading.Lock()
        self._torn_down = False
        self.timings: dict[str, float] = {}

    # -- small helpers ---------------------------------------------------------------------

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

    def _require(self) -> None:
        if not self._provisioned:
            raise BackendError("the kind backend is not provisioned (call provision() first)")

    def _kind(self) -> str:
        assert self.kind_path is not None
        return str(self.kind_path)

    def _faults_allowed(self) -> None:
        """Defence in depth: provision() already refused a foreign, unnamed cluster."""
        self._require()
        assert self.plan is not None
        if not self.plan.created_by_plugin and self.allow_cluster != self.cluster_name:
            raise BackendError(f"refusing to inject faults into kind cluster {self.cluster_name!r}: "
                               "it was not created by pytest-fluxchaos and "
                               f"--fluxchaos-allow-cluster does not name it")

    # -- preflight -----------------------------------------------------------------------

    def preflight(self, progress: Progress = _quiet) -> ClusterPlan:
        """Check tools and decide create / reuse / foreign, without changing anything."""
        path, source = resolve_kind_binary(self.options)
        if path is None:
            if self.offline:
                raise BackendError(f"kind not found on PATH (offline mode does not download it); {INSTALL_HINT}")
            self.kind_source = f"pytest-kind download of {KIND_VERSION}"
        else:
            self.kind_path, self.kind_source = path, source
        try:
            self.run(cmd.docker_server_version(), timeout=30, what="docker version")
        except BackendError as exc:
            raise BackendError(f"Docker is not usable ({exc}); {cmd.DOCKER_HINT}") from None
        if self.kind_path is None:
            # pytest-kind's download of the pinned version (online); errors are one line.
            from .cluster import make_cluster

            cluster = make_cluster(self.options, None, allow_download=True)
            cluster.ensure_kind()
            self.kind_path, self.kind_source = Path(cluster.kind_path), f"pytest-kind download of {KIND_VERSION}"
        out = self.run([self._kind(), "version"], timeout=30, what="kind version")
        self.kind_version = check_kind_version(out.stdout, self.kind_path)
        progress(f"kind: {out.stdout.strip() or 'kind'} ({self.kind_source})")
        clusters = cmd.parse_cluster_list(
            self.run(cmd.kind_get_clusters(self._kind()), timeout=60, what="kind get clusters").stdout)
        exists = self.cluster_name in clusters
        marker: dict[str, Any] | None = None
        marker_error: str | None = None
        if exists:
            got = self.run(cmd.kind_get_kubeconfig(self._kind(), self.cluster_name), timeout=60,
                           check=False)
            if got.returncode != 0 or not got.stdout.strip():
                marker_error = ("`kind get kubeconfig` failed: "
                                + (_one_line(got.stderr or got.stdout, 160) or f"exit {got.returncode}"))
            else:
                self._write_kubeconfig(got.stdout)
                marker, marker_error = self.marker_reader(self.kubeconfig_path)
        self.plan = plan_cluster(self.cluster_name, exists=exists, marker=marker,
                                 marker_error=marker_error, allow_cluster=self.allow_cluster)
        if self.plan.action == "create":
            self._ensure_node_image(progress)
        return self.plan

    def _ensure_node_image(self, progress: Progress) -> None:
        image = self.options.node_image
        if self.run(cmd.inspect_image(image), timeout=30, check=False).returncode == 0:
            return
        if self.offline:
            raise BackendError(node_image_missing(image, "offline mode does not pull it"))
        progress(f"kind: pulling node image {image}")
        pulled = self.run([cmd.DOCKER, "pull", image], timeout=900, check=False)
        if pulled.returncode != 0:
            raise BackendError(node_image_missing(image, _one_line(pulled.stderr or pulled.stdout, 200)))

    def _write_kubeconfig(self, text: str) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.kubeconfig_path.write_text(text)
        self.kubeconfig_path.chmod(0o600)

    # -- provision -------------------------------------------------------------------------

    def provision(self, progress: Progress = _quiet) -> None:
        with self._lock:
            if self._provisioned:
                return
            t0 = time.monotonic()
            _LIVE.add(self)
            _install_hooks()
            self._torn_down = False
            try:
                self._provision(progress, t0)
            except BaseException:
                try:
                    self.teardown()
                except BaseException:  # noqa: BLE001 - the original error matters
                    pass
                raise

    def _provision(self, progress: Progress, t0: float) -> None:
        plan = self.plan or self.preflight(progress)
        from .cluster import make_cluster

        self._cluster = make_cluster(self.options, self.kind_path, allow_download=not self.offline)
        if plan.action == "create":
            progress(f"kind: creating cluster {self.cluster_name} ({self.options.node_image}, "
                     f"config {self.options.config_file})")
            self._created_cluster = True  # from here on, every failure deletes it
            self._create_cluster()
        else:
            progress(f"kind: reusing cluster {self.cluster_name} ({plan.detail})")
            self._prepare_reuse_kubeconfig()
            try:
                self._cluster.create(config_file=self.options.config_file)
            except Exception as exc:  # noqa: BLE001
                raise BackendError(f"kind cluster {self.cluster_name}: {_one_line(exc)}") from None
        got = self.run(cmd.kind_get_kubeconfig(self._kind(), self.cluster_name), timeout=60,
                       what="kind get kubeconfig")
        self._write_kubeconfig(got.stdout)
        from ...kube import KubeClient

        self._kube = KubeClient(self.kubeconfig_path, request_timeout=15)
        if plan.action == "create":
            self._kube.apply_manifest(owner_marker(self.cluster_name, self.run_id, self.plugin_version))
        self.timings["cluster_s"] = time.monotonic() - t0
        self._wait_cluster_ready(progress)
        self.nodes = self._node_names()
        self.network = self._node_network(self.nodes[0])
        self._ensure_registry(progress)
        self._wire_registry(progress)
        self._load_images(progress)
        self._provisioned = True
        self.timings["provision_s"] = time.monotonic() - t0
        progress(f"kind: cluster {self.cluster_name} ready in {self.timings['provision_s']:.1f}s "
                 f"(registry 127.0.0.1:{self.registry_port}, kubeconfig {self.kubeconfig_path})")

    def _create_cluster(self) -> None:
        done: dict[str, Any] = {}

        def target() -> None:
            try:
                self._cluster.create(config_file=self.options.config_file)
            except BaseException as exc:  # noqa: BLE001 - reported below
                done["error"] = exc

        # pytest-kind's create() has no timeout of its own: bound it here.
        thread = threading.Thread(target=target, name="fluxchaos-kind-create", daemon=True)
        thread.start()
        thread.join(self.cluster_timeout)
        if thread.is_alive():
            raise BackendError(f"`kind create cluster --name {self.cluster_name}` did not finish "
                               f"within {self.cluster_timeout:g}s")
        if "error" in done:
            exc = done["error"]
            code = getattr(exc, "returncode", None)
            raise BackendError(
                f"`kind create cluster --name {self.cluster_name}` failed"
                + (f" (exit {code}); kind's output is above" if code is not None else f": {_one_line(exc)}"))

    def _prepare_reuse_kubeconfig(self) -> None:
        """pytest-kind reuses a cluster without writing its kubeconfig: write it first."""
        path = Path(self._cluster.kubeconfig_path)
        if path.exists() and path.stat().st_size > 0:
            return
        got = self.run(cmd.kind_get_kubeconfig(self._kind(), self.cluster_name), timeout=60,
                       what="kind get kubeconfig")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(got.stdout)
        path.chmod(0o600)

    def _wait_cluster_ready(self, progress: Progress) -> None:
        from kubernetes import client as k8s

        from ...kube import wait_for

        progress("kind: waiting for the node, CoreDNS and the local-path provisioner")
        core = self._kube.core
        apps = k8s.AppsV1Api(self._kube.api_client)

        def nodes_ready() -> bool:
            nodes = core.list_node(_request_timeout=10).items
            return bool(nodes) and all(
                any(c.type == "Ready" and c.status == "True" for c in (n.status.conditions or []))
                for n in nodes)

        wait_for(nodes_ready, timeout=self.ready_timeout, what=f"the nodes of {self.cluster_name} to be Ready",
                 interval=1.0)
        for ns, name in (("kube-system", "coredns"), ("local-path-storage", "local-path-provisioner")):
            def available(ns: str = ns, name: str = name) -> bool:
                dep = apps.read_namespaced_deployment(name, ns, _request_timeout=10)
                return bool(dep.status and (dep.status.available_replicas or 0) >= 1)

            wait_for(available, timeout=self.ready_timeout, what=f"deployment {ns}/{name} to be available",
                     interval=1.0)

    def _node_names(self) -> list[str]:
        out = self.run(cmd.kind_get_nodes(self._kind(), self.cluster_name), timeout=60,
                       what="kind get nodes").stdout
        nodes = [ln.strip() for ln in out.splitlines() if ln.strip() and " " not in ln.strip()]
        if not nodes:
            raise BackendError(f"kind cluster {self.cluster_name} has no nodes")
        return nodes

    def _node_network(self, node: str) -> str:
        out = self.run(cmd.inspect_container(node, "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}"),
                       timeout=30, what=f"docker inspect {node}").stdout.split()
        return "kind" if "kind" in out or not out else out[0]

    # -- registry ----------------------------------------------------------------------------

    def _ensure_registry(self, progress: Progress) -> None:
        name = self.registry_name
        labels = self.run(cmd.inspect_container(name, f'{{{{index .Config.Labels "{LABEL_CLUSTER}"}}}}'),
                          timeout=30, check=False)
        if labels.returncode == 0:
            if labels.stdout.strip() != self.cluster_name:
                raise BackendError(f"a container named {name} exists and is not this plugin's registry "
                                   f"for cluster {self.cluster_name}; remove it or choose another --cluster-name")
            running = self.run(cmd.inspect_container(name, "{{.State.Running}}"), timeout=30).stdout.strip()
            if running != "true":
                self.run([cmd.DOCKER, "start", name], timeout=60, what=f"docker start {name}")
            self.registry_port = self._published_port(name)
            self.run([cmd.DOCKER, "network", "connect", self.network, name], timeout=30, check=False)
            progress(f"kind: reusing registry {name} on 127.0.0.1:{self.registry_port}")
        else:
            image = self.assets.registry_image
            for _attempt in range(3):
                port = _free_port()
                started = self.run([cmd.DOCKER, *run_registry_args(
                    name, image, port, self.cluster_name, secrets.token_hex(16), self.network)],
                    timeout=120, check=False)
                if started.returncode == 0:
                    self._created_registry = True
                    self.registry_port = port
                    break
                self.run([cmd.DOCKER, "rm", "-f", name], timeout=60, check=False)
                if "port is already allocated" not in started.stderr and "address already in use" not in started.stderr:
                    raise BackendError(f"cannot start the registry {name} ({image}): "
                                       f"{_one_line(started.stderr, 200)}")
            else:
                raise BackendError(f"cannot publish a port for the registry {name}; free a port on 127.0.0.1")
            progress(f"kind: registry {name} on 127.0.0.1:{self.registry_port} and network {self.network}")
        self._wait_registry()

    def _published_port(self, name: str) -> int:
        out = self.run([cmd.DOCKER, "port", name, f"{REGISTRY_PORT}/tcp"], timeout=30,
                       what=f"docker port {name}").stdout
        for line in out.splitlines():
            host, _, port = line.strip().rpartition(":")
            if port.isdigit():
                return int(port)
        raise BackendError(f"the registry {name} publishes no port for {REGISTRY_PORT}/tcp")

    def _wait_registry(self, timeout: float = 30.0) -> None:
        def logs() -> str:
            out = self.run([cmd.DOCKER, "logs", "--tail", "5", self.registry_name], timeout=30, check=False)
            return _one_line(out.stderr + out.stdout, 300)

        wait_registry(f"http://127.0.0.1:{self.registry_port}", timeout, logs=logs)

    def _wire_registry(self, progress: Progress) -> None:
        """containerd certs.d on every node, and the KEP-1755 ConfigMap."""
        assert self.registry_port is not None
        entries = certs_d_entries(self.registry_name, self.registry_port)
        for node in self.nodes:
            for path, content in entries.items():
                self.run(cmd.write_node_file(node, path), input=content, timeout=30,
                         what=f"write {path} on {node}")
        self._certs_written = sorted({p.rsplit("/", 1)[0] for p in entries})
        hosting = local_registry_hosting(self.registry_name, self.registry_port)
        try:
            current = self._kube.core.read_namespaced_config_map("local-registry-hosting", "kube-public",
                                                                 _request_timeout=10)
            ours = (current.data or {}).get("localRegistryHosting.v1", "").find(self.registry_name) >= 0
        except Exception:  # noqa: BLE001 - absent
            current, ours = None, True
        if current is None or ours or (self.plan and self.plan.created_by_plugin):
            self._kube.apply_manifest(hosting)
            self._wrote_registry_hosting = True
        progress(f"kind: containerd on {', '.join(self.nodes)} pulls "
                 f"localhost:{self.registry_port} and {self.registry_name}:{REGISTRY_PORT} over HTTP")

    def _load_images(self, progress: Progress) -> None:
        image = self.irc_image
        if not image:
            return
        t0 = time.monotonic()
        progress(f"kind: loading {image} into {self.cluster_name}")
        self.run(cmd.kind_load_image(self._kind(), self.cluster_name, image), timeout=self.load_timeout,
                 what=f"kind load docker-image {image}")
        self.timings["load_images_s"] = time.monotonic() - t0

    # -- access -----------------------------------------------------------------------------

    def cluster(self) -> ClusterAccess:
        self._require()
        assert self.plan is not None
        return ClusterAccess(kubeconfig=self.kubeconfig_path, context=f"kind-{self.cluster_name}",
                             created_by_plugin=self.plan.created_by_plugin)

    def registry(self) -> RegistryEndpoint:
        self._require()
        return RegistryEndpoint(host_url=f"http://127.0.0.1:{self.registry_port}",
                                cluster_host=f"{self.registry_name}:{REGISTRY_PORT}", insecure=True)

    # -- install ----------------------------------------------------------------------------

    def install_flux(self, request: InstallRequest, progress: Progress = _quiet,
                     extra_objects: Iterable[dict[str, Any]] = ()) -> None:
        """CRDs once; then the namespace's RBAC, PVCs and the Deployment; bounded wait."""
        self._require()
        t0 = time.monotonic()
        ns = request.namespace
        deployment = dict(request.deployment)
        deployment["metadata"] = dict(deployment.get("metadata") or {}, namespace=ns)
        pod_spec = deployment["spec"]["template"]["spec"]
        sa = pod_spec.get("serviceAccountName") or "image-reflector-controller"
        replicas = int(deployment["spec"].get("replicas") or 1)
        progress(f"kind: installing image-reflector-controller {request.irc_version} in {ns} "
                 f"({replicas} replica(s))")
        self._ensure_crds()
        kube = self._kube
        for obj in rbac_objects(self.assets.manifests_dir, ns, sa, request.labels):
            kube.apply_manifest(obj)
        extra = [dict(o) for o in extra_objects]
        claims_given = {o["metadata"]["name"] for o in extra if o.get("kind") == "PersistentVolumeClaim"}
        for claim in claim_names(deployment):
            if claim not in claims_given:  # a bare backend user: same claim as variants.render
                extra.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                              "metadata": {"name": claim, "namespace": ns},
                              "spec": {"accessModes": ["ReadWriteOnce"],
                                       "resources": {"requests": {"storage": "1Gi"}}}})
        for obj in extra:
            obj["metadata"] = dict(obj.get("metadata") or {}, namespace=ns)
            kube.apply_manifest(obj)
        selector = selector_of(deployment)
        with self._lock:
            self._namespaces[ns] = {"selector": selector, "replicas": replicas}
        kube.apply_manifest(deployment)
        self._wait_installed(ns, selector, replicas, leader_election_enabled(deployment))
        self.timings[f"install_{ns}_s"] = time.monotonic() - t0
        progress(f"kind: image-reflector-controller ready in {ns} after {time.monotonic() - t0:.1f}s")

    def _ensure_crds(self) -> None:
        if self._crds_applied:
            return
        names: list[str] = []
        for f in crd_files(self.assets.manifests_dir):
            for obj in self._kube.apply_manifest(f):
                if obj.get("kind") == "CustomResourceDefinition":
                    names.append(obj["metadata"]["name"])
        self._kube.wait_crds_established(names, timeout=60)
        self._crds_applied = True

    def _wait_installed(self, ns: str, selector: str, replicas: int, leader_election: bool) -> None:
        from ...kube import KubeTimeout, wait_for

        deadline = time.monotonic() + self.install_timeout

        def ready() -> bool:
            pods = self._list(ns, selector)
            return len(pods) >= replicas and any(
                any(c.get("type") == "Ready" and c.get("status") == "True"
                    for c in (p.get("status") or {}).get("conditions") or []) for p in pods)

        try:
            wait_for(ready, timeout=self.install_timeout, what=f"a Ready image-reflector-controller pod in {ns}",
                     interval=1.0)
            if leader_election:
                self._kube.wait_lease_holder(ns, timeout=max(5.0, deadline - time.monotonic()))
        except KubeTimeout as exc:
            raise BackendError(f"image-reflector-controller in {ns} not ready: {exc}; "
                               f"{self._diagnose(ns, selector)}") from None

    def _diagnose(self, ns: str, selector: str) -> str:
        """Pod states and the manager's last log lines, on one line."""
        parts: list[str] = []
        try:
            for p in self._list(ns, selector):
                st = pod_status(p)
                parts.append(f"{st.name}: {st.state}"
                             + (f" ({st.reason})" if st.reason else "")
                             + f", restarts {st.restart_count}")
                if len(parts) == 1:
                    try:
                        logs = self._kube.core.read_namespaced_pod_log(
                            st.name, ns, container=CONTAINER, tail_lines=5, _request_timeout=10)
                        parts.append("last log lines: " + _one_line(logs, 500))
                    except Exception:  # noqa: BLE001
                        pass
            events = self._kube.core.list_namespaced_event(ns, _request_timeout=10).items
            warnings = [e.message for e in events if e.type == "Warning"][-3:]
            if warnings:
                parts.append("events: " + " | ".join(_one_line(w, 200) for w in warnings))
        except Exception as exc:  # noqa: BLE001
            parts.append(f"(no diagnosis: {_one_line(exc, 100)})")
        return "; ".join(parts) or "no pods"

    def uninstall(self, namespace: str) -> None:
        """Remove the namespace (image objects' finalizers first, so it can terminate)."""
        self._require()
        with self._lock:
            self._namespaces.pop(namespace, None)
        self._slots.forget(namespace)
        self._delete_namespace(namespace)

    def _delete_namespace(self, namespace: str, wait: float = 60.0) -> None:
        from kubernetes.client.exceptions import ApiException

        kube = self._kube
        for plural in ("imagepolicies", "imagerepositories"):
            try:
                version = kube.image_api_version(plural)
                items = kube.custom.list_namespaced_custom_object(
                    "image.toolkit.fluxcd.io", version, namespace, plural, _request_timeout=15).get("items", [])
                for item in items:
                    kube.custom.patch_namespaced_custom_object(
                        "image.toolkit.fluxcd.io", version, namespace, plural, item["metadata"]["name"],
                        {"metadata": {"finalizers": None}})
            except Exception:  # noqa: BLE001 - no CRDs or already gone
                pass
        try:
            for crb in kube.rbac.list_cluster_role_binding(_request_timeout=15).items:
                if crb.metadata.name.endswith(f"-{namespace}") and any(
                        s.namespace == namespace for s in (crb.subjects or [])):
                    kube.rbac.delete_cluster_role_binding(crb.metadata.name, _request_timeout=15)
        except Exception:  # noqa: BLE001
            pass
        try:
            kube.core.delete_namespace(namespace, _request_timeout=15)
        except ApiException as exc:
            if exc.status != 404:
                log.warning("fluxchaos: deleting namespace %s: %s", namespace, exc.reason)
            return
        def pods_gone() -> bool:  # free the node's memory before the next variant
            try:
                return not kube.core.list_namespaced_pod(namespace, _request_timeout=10).items
            except Exception:  # noqa: BLE001 - the namespace is gone: nothing left to wait for
                return True

        poll(pods_gone, wait, interval=1.0)

    # -- observation --------------------------------------------------------------------------

    def _list(self, namespace: str, selector: str | None = None) -> list[dict[str, Any]]:
        if selector is None:
            selector = (self._namespaces.get(namespace) or {}).get("selector") or "app=image-reflector-controller"
        pods = self._kube.core.list_namespaced_pod(namespace, label_selector=selector, _request_timeout=10)
        out = self._kube.api_client.sanitize_for_serialization(pods).get("items") or []
        return [p for p in out if not is_terminating(p)]

    def pods(self, namespace: str) -> list[PodStatus]:
        self._require()
        return [pod_status(p) for p in self._slots.order(namespace, self._list(namespace))]

    def _pod(self, namespace: str, pod: str) -> dict[str, Any]:
        try:
            obj = self._kube.core.read_namespaced_pod(pod, namespace, _request_timeout=10)
        except Exception as exc:  # noqa: BLE001
            raise BackendError(f"no pod {namespace}/{pod}: {_one_line(exc, 120)}") from None
        return self._kube.api_client.sanitize_for_serialization(obj)

    def _target(self, namespace: str, pod: str) -> tuple[str, str, PodStatus]:
        """(node, container id, status) of the pod's running controller container."""
        obj = self._pod(namespace, pod)
        status = pod_status(obj)
        node = (obj.get("spec") or {}).get("nodeName")
        if status.state != "running" or not status.container_id or not node:
            raise BackendError(f"pod {namespace}/{pod} has no running container ({status.state}"
                               + (f", {status.reason}" if status.reason else "") + ")")
        return node, status.container_id, status

    def _container_pid(self, node: str, container_id: str) -> int:
        out = self.run(cmd.crictl_inspect(node, container_id), timeout=30,
                       what=f"crictl inspect {container_id[:12]} on {node}").stdout
        return pid_from_crictl_inspect(out)

    # -- faults -------------------------------------------------------------------------------

    def kill_container(self, namespace: str, pod: str, signal: str = "KILL") -> str:
        """SIGKILL (or ``signal``) the controller process from its node; emptyDir kept."""
        self._faults_allowed()
        node, cid, _ = self._target(namespace, pod)
        pid = self._container_pid(node, cid)
        self.run(cmd.kill_pid(node, pid, signal), timeout=30, what=f"kill -{signal} {pid} on {node}")
        return cid

    def oom_kill(self, namespace: str, pod: str, timeout: float = 60.0) -> dict[str, Any]:
        """A kernel OOM kill of the controller via its memory cgroup, confirmed from pod status."""
        from ...kube import wait_for
        from ..docker.oom import HELPER_SCRIPT, parse_helper_log

        self._faults_allowed()
        t0 = time.monotonic()
        node, cid, before = self._target(namespace, pod)
        pid = self._container_pid(node, cid)
        evidence: dict[str, Any] = {
            "namespace": namespace, "pod": pod, "node": node, "container_id_before": cid,
            "restart_count_before": before.restart_count, "target_pid": pid,
        }
        try:
            cg = parse_proc_cgroup(self.run(cmd.read_proc_cgroup(node, pid), timeout=30).stdout)
            evidence["cgroup_expected"] = cg.directory("")  # as the helper reports it
            evidence["cgroup_dir"] = cg.directory()
        except BackendError as exc:
            evidence["cgroup_error"] = str(exc)
        helper = self.run(cmd.oom_helper(node, pid, timeout, HELPER_SCRIPT), timeout=timeout + 30,
                          check=False, what=f"OOM helper on {node}")
        parsed = parse_helper_log(helper.stdout)
        if parsed.get("hog_pid") and "hog_alive" not in parsed:  # the helper died mid-way
            self.run(cmd.kill_pid(node, int(parsed["hog_pid"]), "KILL"), timeout=30, check=False)
        evidence["helper"] = parsed
        evidence["helper_exit_code"] = helper.returncode
        evidence["cgroup"] = parsed.get("cgroup")
        evidence["cgroup_version"] = parsed.get("cgroup_version")
        kills = ((parsed.get("oom_kill_after") or 0) - (parsed.get("oom_kill_before") or 0)
                 if isinstance(parsed.get("oom_kill_after"), int) else None)
        evidence["kernel_oom_kills"] = kills
        evidence["hog_killed_first"] = parsed.get("error") == "the hog died before the target"
        evidence["victim"] = ("hog" if evidence["hog_killed_first"]
                              else "controller" if parsed.get("target_gone") == 1 else None)

        def restarted() -> PodStatus | None:
            now = pod_status(self._pod(namespace, pod))
            if now.restart_count > before.restart_count and now.container_id != cid:
                return now
            return None

        after: PodStatus | None = None
        if evidence["victim"] == "controller":
            try:
                after = wait_for(restarted, timeout=max(5.0, timeout - (time.monotonic() - t0)),
                                 what=f"pod {namespace}/{pod} to restart", interval=0.5)
            except BackendError as exc:
                evidence["restart_error"] = str(exc)
        evidence["restarted"] = after is not None
        evidence["restart_s"] = round(time.monotonic() - t0, 3)
        if after is not None:
            evidence.update(container_id_after=after.container_id, restart_count_after=after.restart_count,
                            exit_code=after.exit_code, reason=after.reason, oom_killed=after.oom_killed)
        evidence["confirmed"] = bool(after is not None and after.oom_killed and after.exit_code == 137
                                     and evidence["victim"] == "controller")
        if not evidence["confirmed"]:
            evidence["error"] = (parsed.get("error") or evidence.get("restart_error")
                                 or (f"helper exit {helper.returncode}: {_one_line(helper.stderr, 200)}"
                                     if helper.returncode else None)
                                 or (f"container ended with {after.reason}/{after.exit_code}, not OOMKilled/137"
                                     if after is not None else "no restart observed"))
        return evidence

    def freeze(self, namespace: str, pod: str, frozen: bool) -> str:
        """Freeze (``ctr tasks pause``: the cgroup freezer, like ``docker pause``) or thaw
        the pod's current container on its node; returns the container id.

        While frozen the kubelet's liveness probe fails; after ``failureThreshold`` x
        ``periodSeconds`` (30 s with the upstream Deployment) the kubelet restarts the
        container, so keep-down windows longer than that end in a kubelet restart.
        """
        self._faults_allowed()
        obj = self._pod(namespace, pod)
        status = pod_status(obj)
        node = (obj.get("spec") or {}).get("nodeName")
        cid = status.container_id
        verb = "freeze" if frozen else "thaw"
        if not cid or not node:
            raise BackendError(f"pod {namespace}/{pod} has no container to {verb}")
        res = self.run(cmd.ctr_task(node, "pause" if frozen else "resume", cid), timeout=30, check=False)
        if res.returncode != 0:
            text = _one_line(res.stderr or res.stdout, 200)
            # Thawing a container that is gone or no longer paused is not an error.
            if frozen or not any(w in text for w in ("not found", "not paused", "is not running")):
                raise BackendError(f"{'freezing' if frozen else 'thawing'} {namespace}/{pod} failed: {text}")
        return cid

    def delete_pod(self, namespace: str, pod: str) -> str:
        """Delete the pod through the API (graceful); the ReplicaSet's replacement takes its slot."""
        from kubernetes.client.exceptions import ApiException

        from ...kube import wait_for

        self._faults_allowed()
        previous = {p["metadata"]["name"] for p in self._list(namespace)}
        try:
            self._kube.core.delete_namespaced_pod(pod, namespace, _request_timeout=15)
        except ApiException as exc:
            raise BackendError(f"deleting pod {namespace}/{pod} failed: HTTP {exc.status} {exc.reason}") from None

        def replacement() -> str | None:
            fresh = [p["metadata"]["name"] for p in self._list(namespace)
                     if p["metadata"]["name"] not in previous]
            return sorted(fresh)[0] if fresh else None

        new = wait_for(replacement, timeout=60, what=f"a replacement for pod {namespace}/{pod}", interval=0.5)
        self._slots.replace(namespace, pod, new)
        return new

    def registry_outage(self, down: bool) -> None:
        self._faults_allowed()
        if down:
            self.run([cmd.DOCKER, "stop", "-t", "2", self.registry_name], timeout=60,
                     what=f"docker stop {self.registry_name}")
            return
        self.run([cmd.DOCKER, "start", self.registry_name], timeout=60, what=f"docker start {self.registry_name}")
        self._wait_registry()

    # -- teardown ---------------------------------------------------------------------------

    def teardown(self) -> None:
        """Delete what this session created; safe to call twice and from atexit."""
        with self._teardown_lock:
            if self._torn_down:
                return
            self._torn_down = True
            _LIVE.discard(self)
            self._provisioned = False
            plan = self.plan
            if plan is None or self._cluster is None:
                self._close_kube()  # refused or failed in preflight: nothing was created
            elif self.keep:
                log.warning("fluxchaos: kept kind cluster %s and registry %s (delete with: "
                            "kind delete cluster --name %s; docker rm -f %s)", self.cluster_name,
                            self.registry_name, self.cluster_name, self.registry_name)
                self._close_kube()
            elif plan.may_delete:  # created now, or created by the plugin and kept earlier
                self._close_kube()
                self._delete_cluster()
                self._remove_registry()
            else:  # an allowed foreign cluster: never deleted, only our additions removed
                if self._kube is not None:
                    self._clean_foreign()
                self._close_kube()
                if self._created_registry:
                    self._remove_registry()
            if self._own_run_dir and self._run_dir is not None:
                shutil.rmtree(self._run_dir, ignore_errors=True)
                self._run_dir = None
            self._remove_empty_workdir()

    def _close_kube(self) -> None:
        if self._kube is not None:
            try:
                self._kube.close()
            except BaseException:  # noqa: BLE001
                pass

    def _delete_cluster(self) -> None:
        try:
            if self._cluster is not None:
                self._cluster.delete()
            elif self.kind_path is not None:
                self.run([self._kind(), "delete", "cluster", "--name", self.cluster_name], timeout=300,
                         check=False)
        except BaseException as exc:  # noqa: BLE001 - try the CLI once more, then report
            res = self.run([self._kind(), "delete", "cluster", "--name", self.cluster_name], timeout=300,
                           check=False) if self.kind_path else None
            if res is None or res.returncode != 0:
                log.warning("fluxchaos: could not delete kind cluster %s (%s); run: kind delete cluster --name %s",
                            self.cluster_name, _one_line(exc, 120), self.cluster_name)

    def _remove_registry(self) -> None:
        try:
            self.run([cmd.DOCKER, "rm", "-f", "-v", self.registry_name], timeout=60, check=False)
        except BaseException:  # noqa: BLE001
            pass

    def _clean_foreign(self) -> None:
        """An allowed foreign cluster: remove only what this session added to it."""
        for ns in list(self._namespaces):
            try:
                self._delete_namespace(ns, wait=10.0)
            except BaseException:  # noqa: BLE001
                pass
        for node in self.nodes:
            if self._certs_written:
                self.run(cmd.remove_node_paths(node, self._certs_written), timeout=30, check=False)
        if self._wrote_registry_hosting:
            try:
                self._kube.core.delete_namespaced_config_map("local-registry-hosting", "kube-public")
            except Exception:  # noqa: BLE001
                pass

    def _remove_empty_workdir(self) -> None:
        """pytest-kind's KindCluster makes ``.pytest-kind/<name>`` in the cwd (with kind's
        kubeconfig of a deleted cluster when no --kubeconfig was given); drop it if empty."""
        d = self.options.workdir / self.cluster_name
        if self.options.kubeconfig is None and self.plan is not None and self.plan.may_delete and not self.keep:
            try:
                (d / "kubeconfig").unlink()
            except OSError:
                pass
        for path in (d, self.options.workdir):
            try:
                path.rmdir()
            except OSError:
                break


def node_image_missing(image: str, why: str) -> str:
    return (f"kind node image {image} is not present and could not be pulled ({why}); on a "
            f"machine with internet: `docker pull {image}` (or `docker save`/`docker load` it "
            "here), or pass --kind-image=<a local node image>")


def docker_has_image(ref: str, runner: Callable[..., cmd.Result] | None = None) -> bool:
    run = runner or cmd.Runner()
    try:
        return run(cmd.inspect_image(ref), timeout=30, check=False).returncode == 0
    except BackendError:
        return False


def env_offline(mode: str) -> bool:
    return mode == "offline" or os.environ.get("FLUXCHAOS_OFFLINE") == "1"
