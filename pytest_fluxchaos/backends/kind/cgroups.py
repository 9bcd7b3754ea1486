"""A pod container's process and memory cgroup on a kind node, from the node's own view.

The OOM fault (:mod:`pytest_fluxchaos.faults.oom_kill`) runs its helper through
``run_host_helper``, which on kind is a ``docker exec`` into the node container, i.e.
in the node's PID and cgroup namespaces, where:

* the container's PID comes from ``crictl inspect <id>`` (``info.pid``):
  :func:`pid_from_crictl_inspect`, used by ``container_process``;
* its cgroup comes from ``/proc/<pid>/cgroup`` read in the node, never guessed (the
  helper does this itself under ``CG=/sys/fs/cgroup``): kind nodes run with a private
  cgroup namespace and ``cgroupRoot: /kubelet`` under the systemd driver, so paths look
  like ``/kubelet.slice/kubelet-kubepods.slice/...``;
* cgroup v1 uses the ``memory`` controller line, mounted at ``/sys/fs/cgroup/memory``;
  cgroup v2 (no ``memory`` v1 line) the ``0::`` line under ``/sys/fs/cgroup``. A v1
  host in hybrid mode has both a ``memory`` line and ``0::/``: the memory line wins,
  because the v1 memory controller is the one enforcing the limit.

:func:`parse_proc_cgroup` states those rules in Python; the tests hold the helper's
shell to them. Pure functions only, so the parsing is unit-tested on text samples.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ...domain import BackendError

NODE_CGROUP_ROOT = "/sys/fs/cgroup"


@dataclass(frozen=True)
class MemoryCgroup:
    version: int  # 1 or 2
    path: str  # relative to the (node's) cgroup namespace root, e.g. "/kubelet.slice/..."

    def directory(self, root: str = NODE_CGROUP_ROOT) -> str:
        """The cgroup's directory under ``root`` (the node's /sys/fs/cgroup); with
        ``root=""`` the path the OOM helper reports (``/memory/...`` on v1)."""
        base = f"{root.rstrip('/')}/memory" if self.version == 1 else root.rstrip("/")
        return base + (self.path if self.path != "/" else "")

    @property
    def limit_file(self) -> str:
        return "memory.limit_in_bytes" if self.version == 1 else "memory.max"

    @property
    def events_file(self) -> str:
        return "memory.oom_control" if self.version == 1 else "memory.events"


def parse_proc_cgroup(text: str) -> MemoryCgroup:
    """``/proc/<pid>/cgroup`` text -> the memory cgroup (v1 memory line, else v2 ``0::``)."""
    unified: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hid, controllers, path = parts
        if hid == "0" and controllers == "":
            unified = path
            continue
        if "memory" in controllers.split(","):
            return MemoryCgroup(1, path)
    if unified is not None:
        return MemoryCgroup(2, unified)
    raise BackendError(f"no memory cgroup in /proc/<pid>/cgroup: {' | '.join(text.split())[:200]!r}")


def strip_runtime_scheme(container_id: str | None) -> str | None:
    """``containerd://abc`` (pod status) -> ``abc`` (what crictl takes)."""
    if not container_id:
        return None
    return container_id.split("://", 1)[-1]


def pid_from_crictl_inspect(text: str) -> int:
    """The host (node) PID of a container from ``crictl inspect`` JSON.

    containerd reports it as ``info.pid``; CRI-O as a top-level ``pid`` (Litmus reads
    both the same way). A stopped container has pid 0: an error.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BackendError(f"crictl inspect gave no JSON ({exc}): {text[:120]!r}") from None
    pid = (data.get("info") or {}).get("pid") or data.get("pid") or 0
    state = (data.get("status") or {}).get("state")
    if not isinstance(pid, int) or pid <= 0:
        raise BackendError(f"the container has no running process (crictl state {state or 'unknown'})")
    return pid
