"""The controller's pods as supervised containers: install, create, probe, uninstall.

One namespace per variant. Each pod is ONE container ``<prefix>-<ns>-<pod>-<attempt>``
restarted by :class:`.supervisor.Supervisor` like a kubelet would, with its emptyDir
volumes ``<prefix>-<ns>-<pod>-<volume>`` (or shared PVC volumes
``<prefix>-<ns>-pvc-<claim>``) and in-cluster credentials (TokenRequest token, CA,
namespace) bind-mounted read-only at ``/var/run/secrets/kubernetes.io/serviceaccount``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...domain import (AUTOMATION, CONTROLLERS, REFLECTOR, BackendError, InstallRequest, PodStatus, WaitTimeout,
                       lease_name)
from ...waiting import wait_until
from ..automation import automation_rbac
from ..install_manifests import rbac_objects
from .client import Containers
from .control_plane import APISERVER_PORT
from .labels import LABEL_NAMESPACE, LABEL_POD, LABEL_RESTART, LABEL_ROLE, LABEL_RUN, ROLE_POD
from .podspec import PodTemplate, translate_deployment
from .quantities import cpu_millis, host_memory_bytes, memory_bytes, pod_name
from .supervisor import PodRecord, Supervisor


def can_lower_oom_score_adj() -> bool:
    """Whether this host grants CAP_SYS_RESOURCE (negative oom_score_adj needs it)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("CapBnd:"):
                    return bool(int(line.split()[1], 16) & (1 << 24))
    except OSError:
        pass
    return True


def kubelet_oom_score_adj(template: PodTemplate, host_memory: int, can_lower: bool = True) -> int:
    """The kubelet's QoS-derived oom_score_adj of the pod's container (pkg/kubelet/qos).

    Guaranteed -997 (clamped to 0 where CAP_SYS_RESOURCE is missing), BestEffort 1000,
    Burstable ``1000 - 1000*request/capacity`` within [2, 999].
    """
    lim, req = template.limits, template.requests
    if not lim and not req:
        return 1000
    req_mem = req.get("memory", lim.get("memory"))
    req_cpu = req.get("cpu", lim.get("cpu"))
    guaranteed = ("memory" in lim and "cpu" in lim and req_mem is not None and req_cpu is not None
                  and memory_bytes(req_mem) == memory_bytes(lim["memory"])
                  and cpu_millis(req_cpu) == cpu_millis(lim["cpu"]))
    if guaranteed:
        return -997 if can_lower else 0
    mem_request = memory_bytes(req_mem) if req_mem is not None else 0
    adj = 1000 - (1000 * mem_request) // max(host_memory, 1)
    return 2 if adj < 2 else 999 if adj >= 1000 else int(adj)


@dataclass
class NamespaceState:
    name: str
    template: PodTemplate
    image: str
    image_user: str | None
    sa_dir: Path
    pvc_volumes: dict[str, str] = field(default_factory=dict)
    ready_s: float | None = None
    controller: str = REFLECTOR


class PodRuntime:
    """Runs each namespace's controller pods; the supervisor restarts their containers."""

    def __init__(self, c: Containers, *, prefix: str, run_id: str, network: str, apiserver: str,
                 run_dir: Path, ca_pem: bytes, kube: Any, sup: Supervisor, install_timeout: float,
                 manifests_dir: Path, helper_image: str, iac_manifests_dir: Path | None = None) -> None:
        self.c = c
        self.prefix = prefix
        self.run_id = run_id
        self.network = network
        self.apiserver = apiserver
        self.run_dir = run_dir
        self.ca_pem = ca_pem
        self.kube = kube
        self.sup = sup
        self.install_timeout = install_timeout
        self.namespaces: dict[str, NamespaceState] = {}
        self.lock = threading.RLock()
        self.manifests_dir = manifests_dir
        self.iac_manifests_dir = iac_manifests_dir
        self.automation: dict[str, NamespaceState] = {}  # namespace -> IAC's pods' state
        self.helper_image = helper_image
        self._host_memory = host_memory_bytes()
        self._can_lower_adj = can_lower_oom_score_adj()

    # -- install ------------------------------------------------------------------------
    def install(self, request: InstallRequest, image: str, progress: Callable[[str], None]) -> NamespaceState:
        ns = request.namespace
        with self.lock:
            if ns in self.namespaces:
                raise BackendError(f"namespace {ns} already runs a controller in run {self.run_id}")
            template = translate_deployment(request.deployment, ns)
            image_user = self.c.image_config(image).get("User") or None
            progress(f"docker: installing image-reflector-controller {request.irc_version} in {ns} "
                     f"({template.replicas} replica(s))")
            for obj in rbac_objects(self.manifests_dir, ns, template.service_account, request.labels):
                self.kube.apply_manifest(obj)
            sa_dir = self._write_sa_credentials(ns, template.service_account)
            state = NamespaceState(name=ns, template=template, image=image, image_user=image_user, sa_dir=sa_dir)
            self.namespaces[ns] = state
            uid, gid = template.volume_owner(image_user)
            fresh: list[str] = []
            for claim in template.pvc_claims:
                vol = f"{self.prefix}-{ns}-pvc-{claim}"
                if self._create_volume(vol, namespace=ns, claim=claim):
                    fresh.append(vol)
                state.pvc_volumes[claim] = vol
            pods = [self.new_pod(state, i) for i in range(template.replicas)]
            for pod in pods:
                fresh += pod.owned_volumes
            self.prepare_volumes(fresh, uid, gid, template.fs_group is not None)
            for pod in pods:
                self.sup.add(pod)
                self.sup.launch(pod, self.c.client)
        if template.replicas > 0:
            self._wait_installed(state, pods)
        return state

    def install_automation(self, request: InstallRequest, image: str,
                           progress: Callable[[str], None]) -> NamespaceState:
        """IAC's pods beside IRC's in the request's namespace (its own SA, RBAC and Lease)."""
        ns = request.namespace
        assert request.automation is not None
        if self.iac_manifests_dir is None:
            raise BackendError("the assets have no image-automation-controller manifests; "
                               "run `python -m pytest_fluxchaos.assets build`")
        with self.lock:
            if ns in self.automation:
                raise BackendError(f"namespace {ns} already runs image-automation-controller in run {self.run_id}")
            template = translate_deployment(request.automation, ns)
            image_user = self.c.image_config(image).get("User") or None
            progress(f"docker: installing image-automation-controller {request.automation_version or '?'} "
                     f"in {ns}")
            for obj in automation_rbac(self.iac_manifests_dir, ns, request.labels, template.service_account):
                self.kube.apply_manifest(obj)
            sa_dir = self._write_sa_credentials(ns, template.service_account)
            state = NamespaceState(name=ns, template=template, image=image, image_user=image_user,
                                   sa_dir=sa_dir, controller=AUTOMATION)
            self.automation[ns] = state
            uid, gid = template.volume_owner(image_user)
            pods = [self.new_pod(state, i) for i in range(template.replicas)]
            self.prepare_volumes([v for p in pods for v in p.owned_volumes], uid, gid, template.fs_group is not None)
            for pod in pods:
                self.sup.add(pod)
                self.sup.launch(pod, self.c.client)
        if template.replicas > 0:
            self._wait_installed(state, pods)
        return state

    def state_for(self, pod: PodRecord) -> NamespaceState | None:
        """The install state of the controller this pod belongs to."""
        table = self.automation if pod.controller == AUTOMATION else self.namespaces
        return table.get(pod.namespace)

    def _write_sa_credentials(self, ns: str, sa: str) -> Path:
        token = self.kube.request_token(ns, sa, expiration_seconds=7 * 24 * 3600)
        d = self.run_dir / "serviceaccounts" / ns / sa
        d.mkdir(parents=True, exist_ok=True)
        os.chmod(d, 0o755)
        for name, data in (("token", token.encode()), ("ca.crt", self.ca_pem), ("namespace", ns.encode())):
            path = d / name
            path.write_bytes(data)
            path.chmod(0o644)
        return d

    def _create_volume(self, name: str, **labels: str) -> bool:
        """Create a labelled volume; False if it already existed."""
        from docker.errors import NotFound

        try:
            self.c.client.volumes.get(name)
            return False
        except NotFound:
            pass
        self.c.client.volumes.create(name, labels=self.c.label(**{f"io.fluxchaos.{k}": v for k, v in labels.items()}))
        return True

    def prepare_volumes(self, volumes: list[str], uid: int, gid: int, fs_group: bool) -> None:
        """Make fresh volumes writable by the controller, as a kubelet does for emptyDir.

        Owner ``uid:gid`` (gid = fsGroup when set), mode 0777 (+ setgid with fsGroup).
        """
        if not volumes:
            return
        mode = "2777" if fs_group else "0777"
        mounts = {v: {"bind": f"/v/{i}", "mode": "rw"} for i, v in enumerate(volumes)}
        name = f"{self.prefix}-volprep-{secrets.token_hex(3)}"
        code, log = self.c.run_to_end(name, self.helper_image, 60, entrypoint=["sh", "-c"],
                                      command=[f"chown {uid}:{gid} /v/* && chmod {mode} /v/*"], user="0",
                                      network_mode="none", volumes=mounts,
                                      labels=self.c.label(**{LABEL_ROLE: "helper"}))
        if code != 0:
            raise BackendError(f"preparing volumes failed (exit {code}): {' | '.join(log.splitlines()[-3:])}")

    def new_pod(self, state: NamespaceState, index: int) -> PodRecord:
        tmpl = state.template
        existing = {p.name for p in self.sup.records(state.name)}
        name = pod_name(tmpl.deployment_name, tmpl.template_hash)
        while name in existing:
            name = pod_name(tmpl.deployment_name, tmpl.template_hash)
        volumes: dict[str, str] = {}
        owned: list[str] = []
        for m in tmpl.mounts:
            if m.kind == "emptyDir":
                vol = f"{self.prefix}-{state.name}-{name}-{m.volume}"
                if m.volume not in volumes:
                    self._create_volume(vol, namespace=state.name, pod=name)
                    owned.append(vol)
            else:
                assert m.claim is not None
                vol = state.pvc_volumes[m.claim]
            volumes[m.volume] = vol
        return PodRecord(namespace=state.name, name=name, uid=str(uuid.uuid4()), index=index, template=tmpl,
                         image=state.image, volumes=volumes, owned_volumes=owned, crash=self.sup.new_crash_loop(),
                         controller=state.controller)

    def create_container(self, pod: PodRecord, docker: Any) -> tuple[str, str]:
        """Supervisor callback: create and start the pod's next container."""
        state = self.state_for(pod)
        assert state is not None, f"no install state for {pod.namespace}/{pod.name}"
        cname = f"{self.prefix}-{pod.namespace}-{pod.name}-{pod.attempts}"
        cfg = pod.template.container_config(
            pod_name=pod.name, pod_uid=pod.uid, container_name=cname, image=pod.image,
            image_user=state.image_user, apiserver_host=self.apiserver, apiserver_port=APISERVER_PORT,
            network=self.network, volume_names=pod.volumes, sa_dir=str(state.sa_dir),
            labels=self.c.label(**{LABEL_ROLE: ROLE_POD, LABEL_NAMESPACE: pod.namespace,
                                   LABEL_POD: f"{pod.namespace}/{pod.name}",
                                   LABEL_RESTART: str(pod.attempts - 1)}))
        cfg["oom_score_adj"] = kubelet_oom_score_adj(pod.template, self._host_memory, self._can_lower_adj)
        cfg.pop("detach", None)
        cfg.pop("name", None)
        image = cfg.pop("image")
        try:
            docker.api.remove_container(cname, force=True, v=True)
        except Exception:  # noqa: BLE001 - no stale container of that name
            pass
        container = docker.containers.create(image, name=cname, **cfg)
        try:
            container.start()
        except Exception:
            try:
                container.remove(force=True, v=True)
            except Exception:  # noqa: BLE001
                pass
            raise
        return container.id, cname

    def _probe_ready(self, pod: PodRecord) -> bool:
        probe = pod.template.readiness
        if pod.state != "running":
            return False
        if probe is None or not pod.ip:
            return True
        url = f"{probe.scheme.lower()}://{pod.ip}:{probe.port}{probe.path}"
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                return 200 <= resp.status < 400
        except Exception:  # noqa: BLE001
            return False

    def _wait_installed(self, state: NamespaceState, pods: list[PodRecord]) -> None:
        """Bounded wait: a pod passes its readiness probe, and the Lease has a holder."""
        deadline = time.monotonic() + self.install_timeout
        names = {p.name for p in pods}
        what = CONTROLLERS[state.controller]

        def current() -> list[PodRecord]:
            return [p for p in self.sup.records(state.name) if p.name in names]

        try:
            wait_until(lambda: any(self._probe_ready(p) for p in current()), self.install_timeout,
                       what=f"a ready {what} pod in {state.name}", interval=0.1)
        except WaitTimeout:
            pod = next(iter(current()), None)
            tail = self.c.logs_tail(pod.container_name) if pod and pod.container_name else "(no container)"
            raise BackendError(f"{what} in {state.name} not ready within "
                               f"{self.install_timeout:g}s; last log lines of {pod.name if pod else '?'}: "
                               f"{tail}") from None
        args = state.template.args or []
        if any(a in ("--enable-leader-election", "--enable-leader-election=true") for a in args):
            try:
                # IRC's Lease is the client's default: its call stays as it always was
                named = {} if state.controller == REFLECTOR else {"name": lease_name(state.controller)}
                self.kube.wait_lease_holder(state.name, timeout=max(1.0, deadline - time.monotonic()), **named)
            except BackendError as exc:
                raise BackendError(f"{what} in {state.name} never took the Lease: {exc}") from None

    # -- uninstall ----------------------------------------------------------------------
    def uninstall(self, namespace: str) -> None:
        """Remove the namespace's pods, their volumes (emptyDir and PVC) and its Lease.

        The Kubernetes Namespace object stays (with no kube-controller-manager its deletion
        would never finish), and so do the image objects in it.
        """
        with self.lock:
            state = self.namespaces.pop(namespace, None)
            iac = self.automation.pop(namespace, None)
            for rec in self.sup.records(namespace):
                self.sup.remove(namespace, rec.name)
        selector = [f"{LABEL_RUN}={self.run_id}", f"{LABEL_NAMESPACE}={namespace}"]
        for container in self.c.api.containers(all=True, filters={"label": selector}):
            self.c.remove(container["Id"])
        for vol in (self.c.api.volumes(filters={"label": selector}) or {}).get("Volumes") or []:
            try:
                self.c.api.remove_volume(vol["Name"], force=True)
            except Exception:  # noqa: BLE001
                pass
        if state is not None:
            shutil.rmtree(self.run_dir / "serviceaccounts" / namespace, ignore_errors=True)
            try:
                # The dead pods' Lease would make a re-install wait out its duration.
                self.kube.delete_lease(namespace)
                if iac is not None:
                    self.kube.delete_lease(namespace, lease_name(AUTOMATION))
            except BackendError:
                pass

    # -- observation --------------------------------------------------------------------
    def statuses(self, namespace: str) -> list[PodStatus]:
        return self.sup.statuses(namespace)

    def record(self, namespace: str, pod: str) -> PodRecord:
        rec = self.sup.get(namespace, pod)
        if rec is None:
            raise BackendError(f"no pod {pod} in namespace {namespace} (run {self.run_id})")
        return rec


__all__ = ["NamespaceState", "PodRuntime", "kubelet_oom_score_adj"]
