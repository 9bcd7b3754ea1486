"""A generated schedule: abstract moves plus a variant pick, and how it becomes a scenario.

The explorer and the shrinker work on moves, not on suite steps, because a move is what
a person would cut or weaken ("drop this push", "a kill instead of an OOM kill"); a
schedule compiles to an ordinary :class:`~pytest_fluxchaos.scenario.Scenario` and
:class:`~pytest_fluxchaos.variants.Variant`, so every generated schedule is a valid suite
scenario and a finding replays as one. Moves carry explicit tags, so removing one push
never changes the tags of the others.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Literal

from ..durations import format_duration
from ..policy import PolicyError, latest_tag
from ..scenario import (DeleteAction, FaultAction, PushAction, ReconcileAction, Scenario, Step,
                        Trigger)
from ..variants import LeaderElection, Variant, VariantError, resolve
from .spec import LEASE_TIMINGS, ExploreSpec


@dataclass(frozen=True)
class Push:
    image: str
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Delete:
    image: str
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Inject:
    kind: str
    target: str = "leader"
    keep_down: bool = False
    duration: float | None = None


@dataclass(frozen=True)
class Reconcile:
    repository: str


WaitFor = Literal["converged", "pods-running", "leader", "delay"]


@dataclass(frozen=True)
class Wait:
    """Wait for the policies to reach the oracle's tag, for running pods, for a leader
    (each bounded by the exploration's ``waits``, then go on), or for ``seconds``."""

    until: WaitFor
    seconds: float = 0.0


Move = Push | Delete | Inject | Reconcile | Wait


@dataclass(frozen=True)
class VariantPick:
    """A named variant, or one built from axes (``name`` is then derived from them)."""

    name: str
    replicas: int | None = None
    storage: str | None = None
    memory: str | None = None
    leader_election: str | None = None

    @property
    def from_axes(self) -> bool:
        return self.replicas is not None

    @staticmethod
    def axes(replicas: int, storage: str, memory: str, leader_election: str) -> VariantPick:
        name = f"x{replicas}-{storage.lower()}-{memory.lower()}" + (
            "" if leader_election == "default" else f"-{leader_election}")
        return VariantPick(name, replicas, storage, memory, leader_election)


@dataclass(frozen=True)
class Schedule:
    variant: VariantPick
    moves: tuple[Move, ...]
    seed: int  # the run's seed (jitter); the schedule itself is already concrete

    def with_moves(self, moves: tuple[Move, ...]) -> Schedule:
        return replace(self, moves=moves)


def describe(move: Move) -> str:
    """One line a person reads in a finding: ``push app 1.1.0, 1.2.0``."""
    if isinstance(move, Push):
        return f"push {move.image} {', '.join(move.tags)}"
    if isinstance(move, Delete):
        return f"delete {move.image} {', '.join(move.tags)}"
    if isinstance(move, Inject):
        extra = [x for x, on in (("keep-down", move.keep_down),
                                 (f"for {format_duration(move.duration or 0)}", move.duration is not None)) if on]
        return f"{move.kind} {move.target}" + (f" ({', '.join(extra)})" if extra else "")
    if isinstance(move, Reconcile):
        return f"reconcile repository {move.repository}"
    if move.until == "delay":
        return f"wait {format_duration(move.seconds)}"
    return f"wait until {move.until}"


def shape(move: Move) -> str:
    """The move without its data (tags, durations): what deduplicates findings."""
    if isinstance(move, Inject):
        return f"{move.kind}@{move.target}{'+kd' if move.keep_down else ''}"
    if isinstance(move, Wait):
        return f"wait-{move.until}"
    return type(move).__name__.lower()


STRENGTH = {"pod-delete": 0, "kill": 1, "oom-kill": 2}


def _covers(move: Move, known: Move) -> bool:
    if isinstance(known, Inject) and isinstance(move, Inject):
        if move.target != known.target:
            return False
        if known.kind in STRENGTH and move.kind in STRENGTH:
            return STRENGTH[move.kind] >= STRENGTH[known.kind]
        return move.kind == known.kind
    return type(move) is type(known) and (not isinstance(known, Wait) or move == known
                                          or known.until != "delay")


def contains(schedule: Schedule, known: Schedule) -> bool:
    """Does ``schedule`` hold ``known``'s moves in order (the same or stronger faults, same
    variant)? Then a failure of ``schedule`` is most likely the bug ``known`` already shows."""
    if schedule.variant != known.variant:
        return False
    it = iter(schedule.moves)
    return all(any(_covers(m, k) for m in it) for k in known.moves)


def signature(schedule: Schedule) -> str:
    text = schedule.variant.name + "|" + ",".join(shape(m) for m in schedule.moves)
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def key(schedule: Schedule) -> str:
    """Everything that decides a run (moves with their data, variant): the shrinker's cache key."""
    return hashlib.sha1(repr((schedule.variant, schedule.moves)).encode()).hexdigest()


class InvalidSchedule(ValueError):
    """A candidate that is no valid scenario (e.g. a standby fault on one replica)."""


def variant_of(pick: VariantPick, custom: dict[str, Variant] | None = None) -> Variant:
    if not pick.from_axes:
        try:
            return resolve(pick.name, custom)
        except VariantError as exc:
            raise InvalidSchedule(str(exc)) from None
    timings = LEASE_TIMINGS.get(pick.leader_election or "default")
    le = (LeaderElection.model_validate({"lease-duration": timings[0], "renew-deadline": timings[1],
                                         "retry-period": timings[2]}) if timings else None)
    return Variant.model_validate({"name": pick.name, "replicas": pick.replicas,
                                   "storage": pick.storage, "memory": pick.memory,
                                   "leader-election": le.model_dump(by_alias=True) if le else None,
                                   "description": "generated from the exploration's axes"})


def compile_schedule(spec: ExploreSpec, schedule: Schedule,
                     custom: dict[str, Variant] | None = None, *,
                     name: str | None = None) -> tuple[Scenario, Variant]:
    """The scenario and variant a schedule runs as; raises :class:`InvalidSchedule`."""
    if not any(isinstance(m, Push) for m in schedule.moves):
        raise InvalidSchedule("no push: a world without tags tests nothing")
    variant = variant_of(schedule.variant, custom)
    replicas = variant.replicas or 1
    base = spec.base()
    present: dict[str, set[str]] = {i.name: set() for i in base.images}
    steps: list[Step] = []
    for index, move in enumerate(schedule.moves):
        if isinstance(move, Push):
            present[move.image].update(move.tags)
            steps.append(Step(push=PushAction(image=move.image, tags=list(move.tags))))
            steps.extend(_webhook_steps(spec, move.image, move.tags[-1], present))
        elif isinstance(move, Delete):
            present[move.image].difference_update(move.tags)
            steps.append(Step(delete=DeleteAction(image=move.image, tags=list(move.tags))))
            steps.extend(_webhook_steps(spec, move.image, None, present))
        elif isinstance(move, Reconcile):
            steps.append(Step(reconcile=ReconcileAction(repository=move.repository)))
        elif isinstance(move, Inject):
            if move.target in ("standby", "pod-1") and replicas < 2:
                raise InvalidSchedule(f"{describe(move)}: the variant has one replica")
            data: dict[str, object] = {"kind": move.kind, "id": f"f{index + 1}",
                                       "keep-down": move.keep_down and replicas >= 2}
            if move.target not in ("registry", "git"):
                data["target"] = move.target
            if move.duration is not None:
                data["duration"] = move.duration
            try:
                steps.append(Step(fault=FaultAction.model_validate(data)))
            except ValueError as exc:
                raise InvalidSchedule(f"{describe(move)}: {exc}") from None
        else:
            steps.extend(_wait_steps(spec, move, present))
    scenario = base.model_copy(update={"name": name or f"{spec.name}-{signature(schedule)}",
                                       "steps": steps, "seed": schedule.seed,
                                       "variants": [variant.name]})
    return scenario, variant


def _webhook_steps(spec: ExploreSpec, image: str, pushed: str | None,
                   present: dict[str, set[str]]) -> list[Step]:
    """``webhook: true``: after a push or deletion, a reconcile request of each repository
    of the image, then waits (each bounded by ``waits``, optional) for the scan that handles
    it and for the repository's policies to resolve from that scan, as ``flux reconcile``
    waits for its request to be handled.

    Without the waits the next move races the pipeline, and a found schedule's outcome
    depends on how busy the machine is: one that regressed 3 of 3 times loaded regressed 0
    of 4 times alone, its first leader killed before it had scanned anything; a shrunk one
    whose loaded runs had waited for the scan missed the policy's first resolution when
    replayed alone (killed 0.3 s after the scan), so the regression had nothing to undo.
    """
    if not spec.webhook:
        return []
    steps: list[Step] = []
    for repo in (r for r in spec.repositories if r.image == image):
        steps.append(Step(reconcile=ReconcileAction(repository=repo.name)))
        steps.append(Step(after=Trigger(scan=repo.name, contains=pushed, timeout=spec.waits, optional=True)))
        steps.extend(_policy_waits(spec, present, repository=repo.name))
    return steps


def _wait_steps(spec: ExploreSpec, move: Wait, present: dict[str, set[str]]) -> list[Step]:
    if move.until == "delay":
        return [Step(delay=move.seconds)] if move.seconds > 0 else []
    if move.until == "pods-running":
        return [Step(after=Trigger(pods="running", timeout=spec.waits, optional=True))]
    if move.until == "leader":
        return [Step(after=Trigger(leader="any", timeout=spec.waits, optional=True))]
    return _policy_waits(spec, present)


def _policy_waits(spec: ExploreSpec, present: dict[str, set[str]], *,
                  repository: str | None = None) -> list[Step]:
    """A wait for each policy (of ``repository``, or all) to resolve to the newest present tag."""
    steps = []
    for pol in spec.policies:
        if repository is not None and pol.repository != repository:
            continue
        image = next(r.image for r in spec.repositories if r.name == pol.repository)
        tags = sorted(present[image])
        if not tags:
            continue
        try:
            want = latest_tag(tags, pol.policy, pol.filter_tags)
        except PolicyError:
            continue  # no tag matches yet: nothing to wait for
        steps.append(Step(after=Trigger(policy=pol.name, tag=want, timeout=spec.waits, optional=True)))
    return steps
