"""The fault primitives on docker "pods": signal, freeze, find the process, run a helper,
replace a pod. What a fault *is* lives in :mod:`pytest_fluxchaos.faults`; this is only
how each primitive is done with Docker.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from ...domain import BackendError, ContainerProcess, HelperResult, one_line
from .client import Containers
from .labels import LABEL_POD, LABEL_ROLE, LABEL_RUN
from .pods import PodRuntime
from .supervisor import PodRecord

HOST_CGROUP_MOUNT = "/host/cgroup"


class Primitives:
    def __init__(self, runtime: PodRuntime, c: Containers) -> None:
        self.rt = runtime
        self.c = c

    def _running(self, namespace: str, pod: str, doing: str) -> tuple[PodRecord, str]:
        rec = self.rt.record(namespace, pod)
        cid = rec.container_id
        if rec.state != "running" or not cid:
            raise BackendError(f"pod {namespace}/{pod} has no running container to {doing} ({rec.state})")
        return rec, cid

    def signal_container(self, namespace: str, pod: str, signal: str = "KILL") -> str:
        _rec, cid = self._running(namespace, pod, "signal")
        try:
            self.c.api.kill(cid, signal=signal)
        except Exception as exc:  # noqa: BLE001
            raise BackendError(f"signalling {namespace}/{pod} failed: {one_line(exc)}") from None
        return cid

    def freeze(self, namespace: str, pod: str, frozen: bool) -> str:
        """Freeze (cgroup freezer, ``docker pause``) or thaw the pod's current container."""
        verb = "freeze" if frozen else "thaw"
        cid = self.rt.record(namespace, pod).container_id
        if not cid:
            raise BackendError(f"pod {namespace}/{pod} has no container to {verb}")
        try:
            (self.c.api.pause if frozen else self.c.api.unpause)(cid)
        except Exception as exc:  # noqa: BLE001
            raise BackendError(f"{'freezing' if frozen else 'thawing'} {namespace}/{pod} failed: "
                               f"{one_line(exc)}") from None
        return cid

    def container_process(self, namespace: str, pod: str) -> ContainerProcess:
        _rec, cid = self._running(namespace, pod, "inspect")
        pid = int(self.c.api.inspect_container(cid)["State"].get("Pid") or 0)
        if not pid:
            raise BackendError(f"pod {namespace}/{pod}: container {cid[:12]} has no process")
        return ContainerProcess(container_id=cid, pid=pid, where="host")

    def run_host_helper(self, namespace: str, pod: str, script: str, env: Mapping[str, str],
                        timeout: float) -> HelperResult:
        """A privileged helper container in the host's PID and cgroup namespaces."""
        name = f"{self.rt.prefix}-helper-{secrets.token_hex(3)}"
        try:
            code, log = self.c.run_to_end(
                name, self.rt.helper_image, timeout, entrypoint=["sh", "-c"], command=[script], user="0",
                pid_mode="host", cgroupns="host", network_mode="none",
                environment={**env, "CG": HOST_CGROUP_MOUNT},
                volumes={"/sys/fs/cgroup": {"bind": HOST_CGROUP_MOUNT, "mode": "rw"}},
                labels=self.c.label(**{LABEL_ROLE: "helper", LABEL_POD: f"{namespace}/{pod}"}))
        except BackendError as exc:
            return HelperResult(exit_code=None, output="", error=str(exc))
        return HelperResult(exit_code=code, output=log,
                            error=None if code is not None else f"helper did not end within {timeout:g}s")

    def delete_pod(self, namespace: str, pod: str) -> str:
        """Delete a pod like the API would (SIGTERM, grace period) and create its replacement."""
        rt = self.rt
        rec = rt.sup.remove(namespace, pod)
        state = rt.state_for(rec) if rec is not None else None
        if rec is None or state is None:
            raise BackendError(f"no pod {pod} in namespace {namespace} (run {rt.run_id})")
        if rec.container_id and rec.state == "running":
            try:
                self.c.api.stop(rec.container_id, timeout=int(rec.template.grace_period))
            except Exception:  # noqa: BLE001
                pass
        for container in self.c.api.containers(
                all=True, filters={"label": [f"{LABEL_RUN}={rt.run_id}", f"{LABEL_POD}={namespace}/{pod}"]}):
            self.c.remove(container["Id"])
        for vol in rec.owned_volumes:
            try:
                self.c.api.remove_volume(vol, force=True)
            except Exception:  # noqa: BLE001
                pass
        with rt.lock:
            new = rt.new_pod(state, rec.index)
            uid, gid = state.template.volume_owner(state.image_user)
            rt.prepare_volumes(new.owned_volumes, uid, gid, state.template.fs_group is not None)
            rt.sup.add(new)
            rt.sup.launch(new, self.c.client)
        return new.name
