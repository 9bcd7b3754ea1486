"""The schedule grammar: random but valid schedules, a pure function of (spec, seed).

Written on the model rather than with Hypothesis strategies: one example here is a run of
minutes on a real controller, with timing noise. Hypothesis's engine expects cheap,
deterministic examples (it replays hundreds while shrinking and raises ``Flaky`` when a
failure does not reproduce), and it cannot express "fails in k of r runs" or a wall-clock
budget per shrink. A seeded ``random.Random`` gives the same replayability: schedule ``i``
of seed ``s`` is always the same schedule, on every machine and xdist worker.

Swarm testing (Groce et al., ISSTA 2012): each schedule first draws which move and fault
kinds it may use at all, so some schedules are dense in one kind of fault instead of
every schedule being an even mix; that finds bugs that need many of one thing.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator, Sequence
from typing import TypeVar

from .. import faults
from ..tags import build_series
from .schedule import Delete, Inject, Move, Push, Reconcile, Schedule, VariantPick, Wait
from .spec import ExploreSpec

T = TypeVar("T")


def schedule_seed(seed: int, index: int) -> int:
    """The seed of schedule ``index`` of an exploration: independent of how many schedules
    ran before it, so a slice of the seed space replays alone (xdist workers)."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{index}".encode()).digest()[:4], "big") >> 1


def _weighted(rng: random.Random, table: dict[str, float]) -> str:
    names = [n for n, w in table.items() if w > 0]
    return rng.choices(names, weights=[table[n] for n in names])[0]


def _pick(rng: random.Random, items: Sequence[T]) -> T:
    return items[rng.randrange(len(items))]


def pick_variant(spec: ExploreSpec, rng: random.Random) -> VariantPick:
    if spec.axes is None:
        return VariantPick(_pick(rng, spec.variant_names()))
    axes = spec.axes
    return VariantPick.axes(_pick(rng, axes.replicas), _pick(rng, axes.storage),
                            _pick(rng, axes.memory), _pick(rng, axes.leader_election))


def replicas_of(pick: VariantPick, custom_replicas: dict[str, int]) -> int:
    return pick.replicas if pick.replicas is not None else custom_replicas.get(pick.name, 1)


class _Tags:
    """Per-image tag cursors; an out-of-order push holds one older tag back for later."""

    def __init__(self, spec: ExploreSpec) -> None:
        self.cursors: dict[str, Iterator[str]] = {i.name: iter(build_series(i.tags)) for i in spec.images
                                                  if i.tags}
        self.held: dict[str, list[str]] = {name: [] for name in self.cursors}
        self.pushed: dict[str, list[str]] = {name: [] for name in self.cursors}

    def take(self, image: str, n: int, out_of_order: bool) -> tuple[str, ...]:
        fresh: list[str] = []
        for _ in range(n + (1 if out_of_order else 0)):
            tag = next(self.cursors[image], None)
            if tag is None:
                break
            fresh.append(tag)
        late: list[str] = []
        if out_of_order:
            if len(fresh) >= 2:
                self.held[image].append(fresh.pop(0))  # an older tag arrives after newer ones
        else:
            late, self.held[image] = self.held[image], []  # held tags arrive now, after newer ones
        tags = tuple(fresh + late)
        self.pushed[image].extend(tags)
        return tags


def generate(spec: ExploreSpec, seed: int, custom_replicas: dict[str, int] | None = None) -> Schedule:
    """Schedule for ``seed``: rounds of pushes, maybe one extra move, then one fault.

    The shape is Jepsen's: a workload interleaved with a nemesis cycle. Each push may be
    followed by a wait for convergence and each pod fault by a wait for running pods
    (``settle``), so a later fault meets a settled system, as in production.
    """
    rng = random.Random(seed)
    pick = pick_variant(spec, rng)
    replicas = replicas_of(pick, custom_replicas or {})
    # swarm: each schedule keeps a random non-empty subset of the extra moves and fault kinds
    extras = _swarm(rng, {k: v for k, v in spec.weights.model_dump().items() if v > 0}, keep=set())
    fault_weights = _swarm(rng, {k: v for k, v in spec.faults.items() if v > 0}, keep=set())
    tags = _Tags(spec)
    images = list(tags.cursors)
    if not images:
        raise ValueError(f"explore {spec.name}: no image has a tag sequence to push from")
    moves: list[Move] = []
    for _round in range(rng.randint(spec.rounds.min, spec.rounds.max)):
        for _ in range(rng.randint(spec.pushes.min, spec.pushes.max)):
            _add(moves, _move("push", spec, rng, tags, images, replicas, fault_weights), spec, rng)
        if extras and rng.random() < spec.extra:
            _add(moves, _move(_weighted(rng, extras), spec, rng, tags, images, replicas, fault_weights), spec, rng)
        if fault_weights:
            _add(moves, _move("fault", spec, rng, tags, images, replicas, fault_weights), spec, rng)
    return Schedule(variant=pick, moves=tuple(moves), seed=rng.randrange(2**31))


def _add(moves: list[Move], move: Move | None, spec: ExploreSpec, rng: random.Random) -> None:
    """Append ``move``, and maybe the wait that lets the system settle after it."""
    if move is None:
        return
    moves.append(move)
    if rng.random() < spec.settle:
        if isinstance(move, Push):
            moves.append(Wait("converged"))
        elif isinstance(move, Inject) and move.target not in ("registry", "git"):
            moves.append(Wait("pods-running"))


def _swarm(rng: random.Random, table: dict[str, float], keep: set[str]) -> dict[str, float]:
    if len(table) < 2:
        return table
    kept = {k: v for k, v in table.items() if k in keep or rng.random() < 0.75}
    return kept or {(k := _pick(rng, sorted(table))): table[k]}


def _move(kind: str, spec: ExploreSpec, rng: random.Random, tags: _Tags, images: list[str],
          replicas: int, fault_weights: dict[str, float]) -> Move | None:
    if kind == "push":
        image = _pick(rng, images)
        got = tags.take(image, rng.randint(1, spec.push.max_tags), rng.random() < spec.push.out_of_order)
        return Push(image, got) if got else None
    if kind == "delete":
        candidates = [(img, t) for img in images for t in tags.pushed[img]]
        if not candidates:
            return None
        image, tag = candidates[-1] if rng.random() < 0.5 else _pick(rng, candidates)
        tags.pushed[image].remove(tag)
        return Delete(image, (tag,))
    if kind == "reconcile":
        return Reconcile(_pick(rng, [r.name for r in spec.repositories]))
    if kind == "wait":
        until = _weighted(rng, {"converged": 3, "pods-running": 1, "leader": 1, "delay": 3})
        if until == "delay":
            return Wait("delay", float(rng.randint(int(spec.delays.min), int(spec.delays.max))))
        return Wait(until)  # type: ignore[arg-type]
    fault = faults.get(_weighted(rng, fault_weights))
    duration = (float(rng.randint(int(spec.durations.min), int(spec.durations.max)))
                if fault.needs_duration else None)
    if "pod" not in fault.targets:
        return Inject(fault.name, next(iter(fault.targets)), duration=duration)
    target = _weighted(rng, spec.targets.table(replicas))
    keep_down = (fault.keeps_down and replicas >= 2 and target == "leader"
                 and rng.random() < spec.keep_down)
    return Inject(fault.name, target, keep_down=keep_down, duration=duration)
