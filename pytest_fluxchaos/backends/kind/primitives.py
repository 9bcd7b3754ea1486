"""The fault primitives on a kind cluster: a pod's node, its container, its process.

A kind node is a Docker container named after its Kubernetes node, so every
node-level primitive is a ``docker exec`` into the pod's node (``spec.nodeName``):

* the controller's PID *in the node* comes from ``crictl inspect <id>``;
* a signal is ``kill -<SIG> <pid>`` run in the node;
* freeze/thaw is containerd's own ``ctr tasks pause|resume`` (the cgroup freezer);
* a host helper is ``sh -c script`` as root in the node, with ``CG=/sys/fs/cgroup``
  (the node's cgroup root; the helper finds the cgroup from ``/proc/<pid>/cgroup``);
* a pod replacement is an API delete, then the ReplicaSet's new pod takes the slot.

What a fault is and how it is confirmed lives in :mod:`pytest_fluxchaos.faults`; the
foreign-cluster guard is the caller's (:class:`~.backend.KindBackend`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ...domain import BackendError, ContainerProcess, HelperResult, controller_of, one_line
from ...waiting import wait_until
from . import commands as cmd
from .cgroups import pid_from_crictl_inspect
from .pods import PodView, pod_status

REPLACEMENT_TIMEOUT = 60.0
# Exit codes of the docker CLI itself, not of the command it runs (docker exec(1)):
# 125 the daemon failed, 126 the command cannot be invoked, 127 it was not found.
_DOCKER_OWN_EXITS = (125, 126, 127)
_DOCKER_ERRORS = ("Error response from daemon", "No such container")
THAW_NOT_NEEDED = ("not found", "not paused", "is not running", "cannot resume a running process",
                   "cannot resume a stopped container")


class NodePrimitives:
    """Signal, freeze, find and run helpers beside a pod's container, through its node."""

    def __init__(self, run: Callable[..., cmd.Result], pods: PodView, kube: Callable[[], Any],
                 replacement_timeout: float = REPLACEMENT_TIMEOUT) -> None:
        self.run = run
        self.pods = pods
        self._kube = kube
        self.replacement_timeout = replacement_timeout

    # -- where the pod runs ---------------------------------------------------------------

    def node_of(self, namespace: str, pod: str) -> str:
        node = (self.pods.read(namespace, pod).get("spec") or {}).get("nodeName")
        if not node:
            raise BackendError(f"pod {namespace}/{pod} is not scheduled on a node")
        return node

    def running(self, namespace: str, pod: str) -> tuple[str, str]:
        """(node, container id) of the pod's running controller container."""
        obj = self.pods.read(namespace, pod)
        status = pod_status(obj)
        node = (obj.get("spec") or {}).get("nodeName")
        if status.state != "running" or not status.container_id or not node:
            raise BackendError(f"pod {namespace}/{pod} has no running container ({status.state}"
                               + (f", {status.reason}" if status.reason else "") + ")")
        return node, status.container_id

    def pid(self, node: str, container_id: str) -> int:
        out = self.run(cmd.crictl_inspect(node, container_id), timeout=30,
                       what=f"crictl inspect {container_id[:12]} on {node}").stdout
        return pid_from_crictl_inspect(out)

    # -- primitives -------------------------------------------------------------------------

    def container_process(self, namespace: str, pod: str) -> ContainerProcess:
        node, cid = self.running(namespace, pod)
        return ContainerProcess(container_id=cid, pid=self.pid(node, cid), where=node)

    def signal(self, namespace: str, pod: str, signal: str = "KILL") -> str:
        """``kill -<signal>`` the controller's PID from its node; returns the container id."""
        proc = self.container_process(namespace, pod)
        self.run(cmd.kill_pid(proc.where, proc.pid, signal), timeout=30,
                 what=f"kill -{signal} {proc.pid} on {proc.where}")
        return proc.container_id

    def freeze(self, namespace: str, pod: str, frozen: bool) -> str:
        """``ctr tasks pause`` (like ``docker pause``) or ``resume`` the pod's current container.

        While frozen the kubelet's liveness probe fails; after ``failureThreshold`` x
        ``periodSeconds`` (30 s with the upstream Deployment) the kubelet restarts the
        container, so keep-down windows longer than that end in a kubelet restart.
        """
        obj = self.pods.read(namespace, pod)
        cid = pod_status(obj).container_id
        node = (obj.get("spec") or {}).get("nodeName")
        if not cid or not node:
            raise BackendError(f"pod {namespace}/{pod} has no container to {'freeze' if frozen else 'thaw'}")
        res = self.run(cmd.ctr_task(node, "pause" if frozen else "resume", cid), timeout=30, check=False)
        if res.returncode != 0:
            text = one_line(res.stderr or res.stdout, 200)
            # Thawing a container that is gone or no longer paused is not an error: while it
            # was frozen the kubelet's liveness probe may have failed and the kubelet
            # restarted it, so the pod's current container is a new, running one
            # (ctr: "cannot resume a running process"), or the frozen one was killed and
            # not yet replaced ("cannot resume a stopped container", seen under CPU load).
            if frozen or not any(w in text for w in THAW_NOT_NEEDED):
                raise BackendError(f"{'freezing' if frozen else 'thawing'} {namespace}/{pod} failed: {text}")
        return cid

    def run_host_helper(self, namespace: str, pod: str, script: str, env: Mapping[str, str],
                        timeout: float) -> HelperResult:
        """``sh -c script`` as root in the pod's node; a non-zero exit is returned, not raised.

        ``output`` is stdout, then stderr; ``error`` says why ``docker exec`` itself failed
        or was not waited for (the node may still run the script after a timeout).
        """
        node = self.node_of(namespace, pod)
        what = f"host helper on {node}"
        try:
            res = self.run(cmd.host_helper(node, script, env), timeout=timeout, check=False, what=what)
        except cmd.CommandTimeout as exc:
            return HelperResult(exit_code=None, output=exc.output, error=one_line(exc, 300))
        except BackendError as exc:
            return HelperResult(exit_code=None, output="", error=one_line(exc, 300))
        output = res.stdout + (("\n" if res.stdout and not res.stdout.endswith("\n") else "") + res.stderr
                               if res.stderr else "")
        error = None
        if res.returncode in _DOCKER_OWN_EXITS or any(w in res.stderr for w in _DOCKER_ERRORS):
            error = f"docker exec on {node} failed (exit {res.returncode}): {one_line(res.stderr, 200)}"
        return HelperResult(exit_code=res.returncode, output=output, error=error)

    def delete_pod(self, namespace: str, pod: str) -> str:
        """Delete the pod through the API (graceful); the ReplicaSet's replacement takes its slot."""
        from kubernetes.client.exceptions import ApiException

        controller = controller_of(pod)
        selector = self.pods.selector(namespace, controller)
        previous = {p["metadata"]["name"] for p in self.pods.objects(namespace, selector)}
        try:
            self._kube().core.delete_namespaced_pod(pod, namespace, _request_timeout=15)
        except ApiException as exc:
            raise BackendError(f"deleting pod {namespace}/{pod} failed: HTTP {exc.status} {exc.reason}") from None

        def replacement() -> str | None:
            fresh = [p["metadata"]["name"] for p in self.pods.objects(namespace, selector)
                     if p["metadata"]["name"] not in previous]
            return sorted(fresh)[0] if fresh else None

        new = wait_until(replacement, self.replacement_timeout, interval=0.5,
                         what=f"a replacement for pod {namespace}/{pod}")
        self.pods.slots.replace(self.pods.slot_key(namespace, controller), pod, new)
        return new
