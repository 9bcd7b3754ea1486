"""The nemesis: injects a fault, confirms it landed, heals it; every step in the history.

It knows no fault kind by name. Each kind (:mod:`pytest_fluxchaos.faults`) says how it
is injected from backend primitives and how it is confirmed; the nemesis resolves the
target (leader, standby, pod-N, registry), runs before -> inject -> after -> confirm,
records ``inject``/``confirm``/``heal`` events, applies keep-down, and heals faults with
a duration when they are due, and every fault at the end of a run, even on failure.
Kinds confirmed at their heal (``FaultKind.confirms_at_heal``) get their ``confirm``
event then, judged over the whole window.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

from . import faults
from .domain import BackendError, WaitTimeout
from .environment import Environment
from .domain import REFLECTOR
from .faults import Confirmation, FaultContext, as_detail, action_controller, env_leader, env_pods
from .history import Fault, History
from .scenario import FaultAction
from .waiting import wait_until

FREEZE_RETRY_S = 10.0
"""How long keep-down retries a failed freeze: runc's cgroup-v1 freezer answers "unable to
freeze" now and then while the restarted container's processes are starting (seen once in
five replays on a loaded machine, which ended that run in an error)."""


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
    pending: tuple[Any, Any] | None = None  # (before, evidence) of a kind confirmed at its heal
    injection: int = 0  # unique per injection (a repeated step re-uses its fault id)


class Nemesis:
    """Fault injection for one variant namespace, recorded in ``history``."""

    def __init__(self, env: Environment, namespace: str, history: History) -> None:
        self.env = env
        self.namespace = namespace
        self.history = history
        self.active: list[ActiveFault] = []
        self._ids = itertools.count(1)
        self._injections = itertools.count(1)
        self._lock = threading.Lock()

    # -- targets -----------------------------------------------------------------
    def resolve_target(self, target: str, controller: str = REFLECTOR, timeout: float = 0.0) -> str:
        """A pod of ``controller`` (IRC's unless a fault says ``controller: automation``).

        ``leader`` is a *live* pod holding the Lease: right after a pod deletion the Lease
        still names the deleted pod until it expires, so wait (up to ``timeout``) for a
        current pod to lead instead of faulting a pod that is gone.
        """
        if target in ("registry", "git"):
            return target
        if target == "leader":
            def live_leader() -> str | None:
                holder = env_leader(self.env, self.namespace, controller)
                names = {p.name for p in env_pods(self.env, self.namespace, controller)}
                return holder if holder in names else None
            try:
                # an API error while the control plane is under a fault is "not yet"
                return wait_until(live_leader, timeout, what="a live pod to hold the leader Lease",
                                  interval=0.2)
            except WaitTimeout:
                holder = env_leader(self.env, self.namespace, controller)
                raise TargetError("no pod holds the leader Lease" if holder is None else
                                  f"the leader Lease names {holder}, which is no current pod") from None
        pods = env_pods(self.env, self.namespace, controller)
        if target == "standby":
            leader = env_leader(self.env, self.namespace, controller)
            standbys = [p.name for p in pods if p.name != leader]
            if not standbys:
                raise TargetError("no standby pod (only one replica)")
            return standbys[0]
        if target.startswith("pod-"):
            index = int(target.removeprefix("pod-"))
            if index >= len(pods):
                raise TargetError(f"{target} does not exist ({len(pods)} pods)")
            return pods[index].name
        raise TargetError(f"unknown target {target!r}")

    def _record(self, fault: ActiveFault, phase: str, **kw: Any) -> None:
        self.history.record(Fault, fault_id=fault.fault_id, f=fault.action.kind, phase=phase,
                            target=fault.action.target, **kw)

    # -- lifecycle ---------------------------------------------------------------
    def _shared_target_active(self, kind: faults.FaultKind) -> list[ActiveFault]:
        """Unhealed faults of ``kind`` on its server (registry, git): the same fault again.

        Different kinds on one server may overlap on purpose (latency during an outage);
        whether they can is the server's to say (the registry liar refuses overlapping lies,
        and that injection fails)."""
        if "pod" in kind.targets:
            return []
        return [f for f in self.active if not f.healed and f.action.kind == kind.name]

    def _end_overlap(self, kind: faults.FaultKind) -> list[str]:
        """Let the same fault's earlier injection on the server run its duration out, and heal it.

        Two faults on one server at once cannot both be confirmed: a second outage of a
        registry that is already down sees no change, and the first one's heal would lift
        both (an explorer schedule with two short outages a push apart gave a false
        faults-landed "finding" this way). So the new one starts when the earlier one's
        duration has ended, as the schedule reads.
        """
        earlier = self._shared_target_active(kind)
        for fault in earlier:
            heal_at = fault.heal_at if fault.heal_at is not None else self.history.now()
            wait_until(lambda: self.history.now() >= heal_at, max(0.0, heal_at - self.history.now()) + 5.0,
                       interval=0.05, what=f"{fault.fault_id}'s duration to end")
            self._heal(fault)
        return [f.fault_id for f in earlier]

    def inject(self, action: FaultAction) -> ActiveFault:
        kind = faults.get(action.kind)
        ended = self._end_overlap(kind)
        fault = ActiveFault(action.id or f"f{next(self._ids)}", action, self.namespace,
                            injection=next(self._injections))
        try:
            fault.resolved = self.resolve_target(action.target, action_controller(action),
                                                 timeout=action.confirm_timeout)
        except TargetError as exc:
            self._record(fault, "inject", outcome="failed", detail={"error": str(exc)})
            self._record(fault, "confirm", outcome="failed", detail={"error": str(exc)})
            fault.healed = True
            return fault
        ctx = FaultContext(self.env, self.namespace, self.history, action, fault.resolved,
                           action_controller(action), fault.injection)
        leader_before = env_leader(self.env, self.namespace, ctx.controller)
        before = kind.before(ctx)
        inject_detail: dict[str, Any] = {"leader": leader_before, "before": as_detail(before)}
        if ended:
            inject_detail["after_healing"] = ended
        self._record(fault, "inject", resolved=fault.resolved, detail=inject_detail)
        try:
            evidence = kind.inject(ctx, before)
            if kind.confirms_at_heal:
                fault.pending = (before, evidence)
            else:
                after = kind.after(ctx, before, evidence)
                verdict = kind.confirm(before, after, evidence)
                detail = {**verdict.facts, "evidence": as_detail(evidence)}
        except Exception as exc:  # the backend failed: the fault did not land (or we can't tell)
            verdict = Confirmation("failed", f"{type(exc).__name__}: {exc}")
            detail = {}
        if fault.pending is not None:  # confirmed at its heal, over the whole window
            fault.heal_at = self.history.now() + (action.duration or 0.0)
            with self._lock:
                self.active.append(fault)
            return fault
        if verdict.why:
            detail["why"] = verdict.why
        fault.detail = detail
        self._record(fault, "confirm", resolved=fault.resolved, outcome=verdict.outcome, detail=detail)
        if kind.needs_duration and verdict.outcome != "failed":
            fault.heal_at = self.history.now() + (action.duration or 0.0)
        else:
            heal_detail = {}
            if action.keep_down and verdict.outcome == "ok":
                # The heal of a kept-down fault is the thaw, once another pod leads.
                heal_detail["keep_down"] = self._keep_down(action, fault.resolved, leader_before)
            self._heal(fault, heal_detail)
        with self._lock:
            self.active.append(fault)
        return fault

    @staticmethod
    def _judge_at_heal(kind: faults.FaultKind, ctx: FaultContext, before: Any,
                       evidence: Any) -> tuple[Confirmation, dict[str, Any]]:
        """after -> confirm for a kind confirmed at its heal, and the confirm event's details."""
        try:
            after = kind.after(ctx, before, evidence)
            judged = kind.confirm(before, after, evidence)
            detail = {**judged.facts, "evidence": as_detail(evidence)}
        except Exception as exc:  # the backend failed: we can't tell whether it landed
            judged, detail = Confirmation("failed", f"{type(exc).__name__}: {exc}"), {}
        if judged.why:
            detail["why"] = judged.why
        return judged, detail

    def _keep_down(self, action: FaultAction, pod: str, leader_before: str | None) -> dict[str, Any]:
        """Freeze the restarted container until another pod holds the lease, then thaw it."""
        ns = self.namespace
        controller = action_controller(action)
        if len(env_pods(self.env, ns, controller)) < 2:
            return {"applied": False, "why": "single replica: no other pod can lead"}
        try:  # runc's cgroup-v1 freezer can fail transiently ("unable to freeze") under load
            container = wait_until(lambda: self.env.freeze(ns, pod, True), FREEZE_RETRY_S, interval=0.5,
                                   what=f"freezing {pod} in {ns}", retry_on=(BackendError,))
        except WaitTimeout as exc:
            raise BackendError(str(exc)) from None
        frozen_at = self.history.now()

        def other_leader() -> str | None:
            holder = env_leader(self.env, ns, controller)
            return holder if holder not in (None, pod) else None

        other: str | None = None
        try:
            other = wait_until(other_leader, action.keep_down_timeout,
                               what=f"a pod other than {pod} to lead in {ns}")
        except WaitTimeout:
            pass
        finally:
            self.env.freeze(ns, pod, False)
        return {"applied": True, "container_id": container, "new_leader": other,
                "frozen_seconds": round(self.history.now() - frozen_at, 3),
                "leader_before": leader_before}

    def _heal(self, fault: ActiveFault, detail: dict[str, Any] | None = None) -> None:
        if fault.healed:
            return
        detail = dict(detail or {})
        kind = faults.get(fault.action.kind)
        ctx = FaultContext(self.env, self.namespace, self.history, fault.action, fault.resolved or "",
                           action_controller(fault.action), fault.injection)
        try:
            verdict = kind.heal(ctx)
        except Exception as exc:
            verdict = Confirmation("failed", f"{type(exc).__name__}: {exc}")
        detail.update(verdict.facts)
        if verdict.why:
            detail["why"] = verdict.why
        if fault.pending is not None:  # judged now, over the whole window, after the heal
            before, evidence = fault.pending
            fault.pending = None
            judged, fault.detail = self._judge_at_heal(kind, ctx, before, evidence)
            self._record(fault, "confirm", resolved=fault.resolved, outcome=judged.outcome, detail=fault.detail)
        fault.healed = True
        self._record(fault, "heal", resolved=fault.resolved, outcome=verdict.outcome, detail=detail)

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
