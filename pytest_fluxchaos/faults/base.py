"""What a fault kind is: inject it from backend primitives, confirm it, heal it.

Each kind lives in one module of this package and exports ``FAULT``, an instance of a
:class:`FaultKind` subclass. The nemesis runs every kind through the same four steps:

1. ``before``: a snapshot of the target (its pod status, the Lease holder);
2. ``inject``: the fault, made only of backend primitives; returns typed evidence;
3. ``after``: a bounded wait for the effect the fault must have (a restart, a new pod);
4. ``confirm(before, after, evidence)``: a *pure* decision, so the rule that says "this
   was a kernel OOM kill" is written once and unit-tested without any backend.

Kinds with ``confirms_at_heal`` run ``after``/``confirm`` when their duration ends, just
after ``heal``, over everything the window saw.

A fault that cannot be confirmed is recorded ``unconfirmed`` and the faults-landed
checker turns it into *unknown*, never a pass.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field, is_dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from ..domain import REFLECTOR, PodStatus, WaitTimeout
from ..waiting import wait_until

if TYPE_CHECKING:
    from ..environment import Environment
    from ..history import History
    from ..scenario import FaultAction

Outcome = Literal["ok", "unconfirmed", "failed"]
TargetKind = Literal["pod", "registry", "git"]


class NoParams(BaseModel):
    """A kind's own suite fields beyond the common ones (kind, target, duration, ...)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class ControllerParams(NoParams):
    """``controller``: whose pods (or Lease) the fault hits; IRC's unless told otherwise."""

    controller: Literal["reflector", "automation"] = "reflector"


def action_controller(action: Any) -> str:
    """The ``controller`` a suite's fault action targets (``reflector`` when it has none)."""
    return str(getattr(getattr(action, "params", None), "controller", REFLECTOR))


def env_pods(env: Environment, namespace: str, controller: str = REFLECTOR) -> list[PodStatus]:
    """A controller's pods; environments that run only IRC need not know the keyword."""
    return env.pods(namespace) if controller == REFLECTOR else env.pods(namespace, controller=controller)


def env_leader(env: Environment, namespace: str, controller: str = REFLECTOR) -> str | None:
    """The holder of a controller's Lease (IRC's by default)."""
    return env.leader(namespace) if controller == REFLECTOR else env.leader(namespace, controller=controller)


@dataclass(frozen=True)
class Confirmation:
    """The verdict on one injection, with the facts it rests on."""

    outcome: Outcome
    why: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def ok(cls, **facts: Any) -> Confirmation:
        return cls("ok", None, facts)

    @classmethod
    def unconfirmed(cls, why: str, **facts: Any) -> Confirmation:
        return cls("unconfirmed", why, facts)


@dataclass
class FaultContext:
    """One injection: the environment's primitives, where, and the suite's action."""

    env: Environment
    namespace: str
    history: History
    action: FaultAction
    target: str  # a pod name, or "registry"
    controller: str = REFLECTOR  # whose pods: reflector (IRC) | automation (IAC)
    injection: int = 0  # unique per injection in the namespace, the same for its heal

    def pod(self, name: str | None = None) -> PodStatus | None:
        name = name or self.target
        return next((p for p in env_pods(self.env, self.namespace, self.controller) if p.name == name), None)


def as_detail(value: Any) -> Any:
    """Evidence (a dataclass) -> plain JSON-able data for the history."""
    if is_dataclass(value) and not isinstance(value, type):
        return {k: as_detail(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {k: as_detail(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_detail(v) for v in value]
    return value


class FaultKind(ABC):
    """One kind of fault. Subclasses set the class attributes and implement inject/confirm."""

    name: ClassVar[str]
    how: ClassVar[str]  # one line for the docs' fault table
    confirmed_by: ClassVar[str]  # one line: what must be observed
    targets: ClassVar[frozenset[TargetKind]] = frozenset({"pod"})
    needs_duration: ClassVar[bool] = False  # healed after ``duration`` (else at once)
    keeps_down: ClassVar[bool] = False  # supports keep-down (freeze the restarted pod)
    #: Judged when the duration ends, not right after the injection: for a fault whose
    #: effect is what the controllers met over the whole window (lies served), which a
    #: wait after injecting would only stall (the steps that make them ask come later).
    confirms_at_heal: ClassVar[bool] = False
    params: ClassVar[type[BaseModel]] = NoParams

    def validate(self, action: FaultAction) -> None:
        """Kind-specific rules for a suite's fault action; raise ValueError."""
        if self.needs_duration and action.duration is None:
            raise ValueError(f"{self.name} needs a duration")
        if action.keep_down and not self.keeps_down:
            raise ValueError(f"keep-down does not apply to {self.name}")

    def before(self, ctx: FaultContext) -> Any:
        """The target's state before the injection (default: its pod status)."""
        return ctx.pod() if "pod" in self.targets and ctx.target not in ("registry", "git") else None

    @abstractmethod
    def inject(self, ctx: FaultContext, before: Any) -> Any:
        """Make the fault happen from backend primitives; returns evidence (a dataclass)."""

    def after(self, ctx: FaultContext, before: Any, evidence: Any) -> Any:
        """Wait (bounded by the action's confirm-timeout) for the fault's effect; None if absent."""
        return None

    @abstractmethod
    def confirm(self, before: Any, after: Any, evidence: Any) -> Confirmation:
        """Pure: did the fault land, judged from before, after and the evidence?"""

    def heal(self, ctx: FaultContext) -> Confirmation:
        """Undo the fault (faults with a duration); default: nothing to undo."""
        return Confirmation.ok()


def restarted(ctx: FaultContext, before: PodStatus, timeout: float) -> PodStatus | None:
    """The target pod once its restart count went up (None if it did not); whether it runs
    a *new* container is for ``confirm`` to judge."""
    def newer() -> PodStatus | None:
        now = ctx.pod(before.name)
        return now if now and now.restart_count > before.restart_count else None

    try:
        return wait_until(newer, timeout, what=f"pod {ctx.namespace}/{before.name} to restart")
    except WaitTimeout:
        return None


def restart_facts(before: PodStatus, after: PodStatus) -> dict[str, Any]:
    return {"old_container_id": before.container_id, "new_container_id": after.container_id,
            "restart_count": after.restart_count, "exit_code": after.exit_code,
            "reason": after.reason, "oom_killed": after.oom_killed}


def no_restart(before: PodStatus, after: PodStatus | None) -> Confirmation | None:
    """The shared first rule of container faults: a restart into a new container."""
    if after is None:
        return Confirmation.unconfirmed("no restart within the confirm timeout",
                                        old_container_id=before.container_id)
    if after.restart_count <= before.restart_count:
        return Confirmation.unconfirmed("the restart count did not go up", **restart_facts(before, after))
    if after.container_id == before.container_id:
        return Confirmation.unconfirmed("the same container still runs", **restart_facts(before, after))
    return None
