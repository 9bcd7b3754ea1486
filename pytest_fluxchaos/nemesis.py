"""The nemesis: injects a fault, confirms it landed, heals it; every step in the history.

The kind of fault decides which bug you get (DESIGN §3): an OOM kill or SIGKILL
restarts the *container* and keeps its emptyDir (stale DB later), a pod deletion drops
it (empty DB), a lease deletion only moves leadership. So confirmation is strict and
specific: an OOM kill counts only if the kernel's verdict (OOMKilled, exit 137) is seen
together with a restart; a SIGKILL that looks like an OOM is not one. Anything that
cannot be confirmed is recorded as ``unconfirmed`` and the faults-landed checker turns
it into *unknown*.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

from .backends.base import PodStatus
from .environment import Environment
from .history import Fault, History
from .scenario import FaultAction
from .waiting import poll as _poll


class TargetError(Exception):
    """The schedule named a target that does not exist right now (e.g. no standby)."""


@dataclass
class ActiveFault:
    fault_id: str
    action: FaultAction
    namespace: str
    resolved: str | None = None
    heal_at: float | None = None
    healed: bool = False
    detail: dict[str, Any] = field(default_factory=dict)


class Nemesis:
    """Fault injection for one variant namespace, recorded in ``history``."""

    def __init__(self, env: Environment, namespace: str, history: History) -> None:
        self.env = env
        self.namespace = namespace
        self.history = history
        self.active: list[ActiveFault] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    # -- targets -----------------------------------------------------------------
    def resolve_target(self, target: str) -> str:
        pods = self.env.pods(self.namespace)
        if target == "leader":
            leader = self.env.leader(self.namespace)
            if leader is None:
                raise TargetError("no pod holds the leader Lease")
            return leader
        if target == "standby":
            leader = self.env.leader(self.namespace)
            standbys = [p.name for p in pods if p.name != leader]
            if not standbys:
                raise TargetError("no standby pod (only one replica)")
            return standbys[0]
        if target.startswith("pod-"):
            index = int(target.removeprefix("pod-"))
            if index >= len(pods):
                raise TargetError(f"{target} does not exist ({len(pods)} pods)")
            return pods[index].name
        if target == "registry":
            return "registry"
        raise TargetError(f"unknown target {target!r}")

    def _pod(self, name: str) -> PodStatus | None:
        return next((p for p in self.env.pods(self.namespace) if p.name == name), None)

    # -- lifecycle ---------------------------------------------------------------
    def inject(self, action: FaultAction) -> ActiveFault:
        fault_id = action.id or f"f{next(self._ids)}"
        fault = ActiveFault(fault_id, action, self.namespace)
        record = lambda phase, **kw: self.history.record(  # noqa: E731
            Fault, fault_id=fault_id, f=action.kind, phase=phase, target=action.target, **kw)
        try:
            fault.resolved = self.resolve_target(action.target)
        except TargetError as exc:
            record("inject", outcome="failed", detail={"error": str(exc)})
            record("confirm", outcome="failed", detail={"error": str(exc)})
            fault.healed = True
            return fault
        before = self._pod(fault.resolved) if action.kind != "registry-outage" else None
        leader_before = self.env.leader(self.namespace)
        record("inject", resolved=fault.resolved,
               detail={"leader": leader_before,
                       "container_id": before.container_id if before else None,
                       "restart_count": before.restart_count if before else None})
        try:
            outcome, detail = self._inject_and_confirm(action, fault.resolved, before, leader_before)
        except Exception as exc:  # the backend failed: the fault did not land (or we can't tell)
            outcome, detail = "failed", {"error": f"{type(exc).__name__}: {exc}"}
        fault.detail = detail
        record("confirm", resolved=fault.resolved, outcome=outcome, detail=detail)
        if action.kind == "registry-outage" and outcome != "failed":
            fault.heal_at = self.history.now() + (action.duration or 0.0)
        else:
            heal_detail = {}
            if action.keep_down and outcome == "ok" and fault.resolved:
                # The heal of a kept-down fault is the thaw, once another pod leads.
                heal_detail["keep_down"] = self._keep_down(action, fault.resolved, leader_before)
            self._heal(fault, heal_detail)
        with self._lock:
            self.active.append(fault)
        return fault

    def _inject_and_confirm(self, action: FaultAction, pod: str, before: PodStatus | None,
                            leader_before: str | None) -> tuple[str, dict[str, Any]]:
        kind, timeout, ns = action.kind, action.confirm_timeout, self.namespace
        if kind in ("oom-kill", "kill"):
            assert before is not None
            evidence = (self.env.oom_kill(ns, pod, timeout) if kind == "oom-kill"
                        else self.env.kill(ns, pod))

            def restarted() -> PodStatus | None:
                now = self._pod(pod)
                if (now and now.restart_count > before.restart_count
                        and now.container_id != before.container_id):
                    return now
                return None

            after = _poll(restarted, timeout)
            detail = {"evidence": evidence, "old_container_id": before.container_id}
            if after is None:
                return "unconfirmed", {**detail, "why": f"no restart within {timeout:.0f}s"}
            detail.update(new_container_id=after.container_id, restart_count=after.restart_count,
                          exit_code=after.exit_code, reason=after.reason,
                          oom_killed=after.oom_killed)
            # The kernel's verdict: the runtime's OOMKilled flag, or the backend's reading of
            # the memory cgroup's own OOM-kill counter (runtimes sometimes miss the event).
            kernel = after.oom_killed or bool(isinstance(evidence, dict)
                                              and evidence.get("kernel_confirmed"))
            detail["oom_confirmed_by"] = ("runtime" if after.oom_killed else
                                          "cgroup-counter" if kernel else None)
            if kind == "oom-kill" and not (kernel and after.exit_code == 137):
                return "unconfirmed", {**detail, "why": "container restarted but the kernel "
                                                        "did not report an OOM kill"}
            if kind == "kill" and after.exit_code != 137:
                return "unconfirmed", {**detail, "why": f"exit code {after.exit_code}, not 137"}
            return "ok", detail
        if kind == "pod-delete":
            new_name = self.env.delete_pod(ns, pod)
            gone = _poll(lambda: self._pod(pod) is None and self._pod(new_name) is not None, timeout)
            if not gone:
                return "unconfirmed", {"why": "old pod still present or new pod missing",
                                       "new_pod": new_name}
            return "ok", {"old_pod": pod, "new_pod": new_name}
        if kind == "lease-delete":
            holder = self.env.delete_lease(ns)
            new_holder = _poll(lambda: self.env.leader(ns), timeout)
            if new_holder is None:
                return "unconfirmed", {"why": f"no pod re-acquired the lease within {timeout:.0f}s",
                                       "holder_before": holder}
            return "ok", {"holder_before": holder, "holder_after": new_holder}
        if kind == "registry-outage":
            self.env.registry_outage(True)
            down = _poll(lambda: not self.env.registry_reachable(), timeout)
            return ("ok", {"reachable": False}) if down else (
                "unconfirmed", {"why": "registry still answered"})
        raise ValueError(kind)

    def _keep_down(self, action: FaultAction, pod: str, leader_before: str | None) -> dict[str, Any]:
        """Freeze the restarted container until another pod holds the lease, then thaw it."""
        ns = self.namespace
        if len(self.env.pods(ns)) < 2:
            return {"applied": False, "why": "single replica: no other pod can lead"}
        container = self.env.freeze(ns, pod, True)
        frozen_at = self.history.now()
        def other_leader() -> str | None:
            holder = self.env.leader(ns)
            return holder if holder not in (None, pod) else None

        try:
            other = _poll(other_leader, action.keep_down_timeout)
        finally:
            self.env.freeze(ns, pod, False)
        return {"applied": True, "container_id": container, "new_leader": other,
                "frozen_seconds": round(self.history.now() - frozen_at, 3),
                "leader_before": leader_before}

    def _heal(self, fault: ActiveFault, detail: dict[str, Any] | None = None) -> None:
        if fault.healed:
            return
        detail = dict(detail or {})
        outcome = "ok"
        try:
            if fault.action.kind == "registry-outage":
                self.env.registry_outage(False)
                up = _poll(self.env.registry_reachable, fault.action.confirm_timeout)
                detail["reachable"] = bool(up)
                outcome = "ok" if up else "failed"
        except Exception as exc:
            outcome, detail = "failed", {"error": f"{type(exc).__name__}: {exc}"}
        fault.healed = True
        self.history.record(Fault, fault_id=fault.fault_id, f=fault.action.kind, phase="heal",
                            target=fault.action.target, resolved=fault.resolved,
                            outcome=outcome, detail=detail)

    def heal_due(self) -> None:
        """Heal faults whose duration has elapsed (called from the run loop)."""
        now = self.history.now()
        for fault in list(self.active):
            if not fault.healed and fault.heal_at is not None and now >= fault.heal_at:
                self._heal(fault)

    def next_heal_at(self) -> float | None:
        pending = [f.heal_at for f in self.active if not f.healed and f.heal_at is not None]
        return min(pending) if pending else None

    def heal_all(self) -> None:
        """Heal everything still active; called at the end of every run, even on failure."""
        for fault in list(self.active):
            self._heal(fault)
