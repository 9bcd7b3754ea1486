"""Shrinking a failing schedule: ddmin over its moves, then simpler moves, to a fixpoint.

Zeller and Hildebrandt's ddmin (TSE 2002) removes chunks of moves while the schedule
still fails; at granularity n = len it has tried removing every single move, so the
result is 1-minimal (no one move can go). Then each move is made simpler, one change at
a time: fewer tags per push, a weaker fault (oom-kill -> kill -> pod-delete), no
keep-down, half the duration or delay, and the variant's axes back to their defaults.
Both passes repeat until neither changes anything or the budget runs out.

With ``parallel`` > 1, ddmin tests its candidates (the chunks, then the complements) that
many at a time and takes the first failing one *in ddmin's order*, so the result is the
one a sequential ddmin reaches; a real run is mostly waiting (a lease to expire, a scan),
so K namespaces on one control plane shrink about K times faster.

``fails`` is the judged predicate (k of r runs, see :mod:`.judge`); every candidate and
its answer is recorded, cached by the schedule's content, so the report can show the path
and no candidate is ever run twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from .schedule import Delete, Inject, InvalidSchedule, Move, Push, Schedule, VariantPick, Wait, key
from .spec import ExploreSpec

WEAKER = {"oom-kill": "kill", "kill": "pod-delete"}
"""The fault ladder: a weaker fault that still fails is the better report."""


class BudgetExhausted(Exception):
    pass


@dataclass
class Step:
    """One candidate on the shrink path."""

    schedule: Schedule
    failing: bool | None  # None: not a valid scenario, never run
    why: str  # what was tried ("remove moves 3-4", "oom-kill -> kill")
    runs: int = 0


@dataclass
class ShrinkResult:
    minimal: Schedule
    path: list[Step] = field(default_factory=list)
    runs: int = 0
    one_minimal: bool = False  # every single-move removal was tried and passed
    exhausted: bool = False  # stopped by the budget
    kept: list[Schedule] = field(default_factory=list)  # each smaller failing schedule, in order
    verifications: list[Verification] = field(default_factory=list)


@dataclass
class Verification:
    """One check of a shrunk schedule by further runs (the explorer's ``verify``)."""

    schedule: Schedule
    failing: bool
    runs: int
    failures: int


class Shrinker:
    """``fails(schedule) -> (failing, runs spent)``; raises InvalidSchedule for non-scenarios."""

    def __init__(self, spec: ExploreSpec, fails: Callable[[Schedule], tuple[bool, int]], *,
                 max_runs: int, out_of_time: Callable[[], bool] = lambda: False,
                 parallel: int = 1) -> None:
        self.spec = spec
        self.fails = fails
        self.max_runs = max_runs
        self.parallel = max(1, parallel)
        self._lock = threading.Lock()
        self.out_of_time = out_of_time
        self.cache: dict[str, bool | None] = {}
        self.result: ShrinkResult | None = None

    def shrink(self, schedule: Schedule) -> ShrinkResult:
        self.result = result = ShrinkResult(minimal=schedule)
        self.cache[key(schedule)] = True
        try:
            while True:
                before = key(result.minimal)
                result.minimal, result.one_minimal = self._ddmin(result.minimal)
                result.minimal = self._simplify(result.minimal)
                if key(result.minimal) == before:
                    break
        except BudgetExhausted:
            result.exhausted = True
            result.one_minimal = False
        return result

    # -- the predicate, cached and budgeted -------------------------------------------
    def _test(self, candidate: Schedule, why: str) -> bool:
        assert self.result is not None
        k = key(candidate)
        with self._lock:
            if k in self.cache:
                return bool(self.cache[k])
            if self.result.runs >= self.max_runs or self.out_of_time():
                raise BudgetExhausted
        try:
            failing, runs = self.fails(candidate)
        except InvalidSchedule:
            with self._lock:
                self.cache[k] = None
                self.result.path.append(Step(candidate, None, why))
            return False
        with self._lock:
            self.cache[k] = failing
            self.result.runs += runs
            self.result.path.append(Step(candidate, failing, why, runs))
        return failing

    def _first_failing(self, candidates: list[tuple[Schedule, str]]) -> int | None:
        """Index of the first failing candidate, testing ``parallel`` of them at a time."""
        if self.parallel == 1:
            return next((i for i, (c, why) in enumerate(candidates) if self._test(c, why)), None)
        with ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="fluxchaos-shrink") as pool:
            for start in range(0, len(candidates), self.parallel):
                batch = candidates[start:start + self.parallel]
                futures = [pool.submit(self._test, c, why) for c, why in batch]
                outcomes = []
                exhausted = False
                for future in futures:  # every started run is waited for and recorded
                    try:
                        outcomes.append(future.result())
                    except BudgetExhausted:
                        exhausted = True
                        outcomes.append(False)
                hit = next((start + i for i, failed in enumerate(outcomes) if failed), None)
                if hit is not None:
                    return hit
                if exhausted:
                    raise BudgetExhausted
        return None

    # -- ddmin over moves ----------------------------------------------------------------
    def _ddmin(self, schedule: Schedule) -> tuple[Schedule, bool]:
        moves = list(schedule.moves)
        n = 2
        while len(moves) >= 2:
            chunks = _split(moves, n)
            reduced = False
            # Everything but one chunk first: a bug that needs several steps (two leadership
            # flips) survives losing one chunk far more often than it fits in one, and each
            # candidate here is a real run of minutes.
            rests = [[m for j, c in enumerate(chunks) if j != i for m in c] for i in range(len(chunks))]
            hit = self._first_failing([(schedule.with_moves(tuple(rest)), _removed(chunks, i, moves))
                                       for i, rest in enumerate(rests)])
            if hit is not None:
                moves, n, reduced = rests[hit], max(n - 1, 2), True
            if not reduced and len(chunks) > 2:  # a chunk alone
                hit = self._first_failing([(schedule.with_moves(tuple(chunk)), f"keep chunk {i + 1}/{n}")
                                           for i, chunk in enumerate(chunks)])
                if hit is not None:
                    moves, n, reduced = chunks[hit], 2, True
            if reduced:
                self._keep(schedule.with_moves(tuple(moves)))
            if not reduced:
                if n >= len(moves):
                    return schedule.with_moves(tuple(moves)), True
                n = min(len(moves), 2 * n)
        return schedule.with_moves(tuple(moves)), True

    # -- simpler moves and variant ----------------------------------------------------------
    def _simplify(self, schedule: Schedule) -> Schedule:
        current = schedule
        for index in range(len(current.moves)):
            for why, simpler in _simpler(current.moves[index]):
                moves = current.moves[:index] + (simpler,) + current.moves[index + 1:]
                candidate = current.with_moves(moves)
                if self._test(candidate, f"move {index + 1}: {why}"):
                    current = self._keep(candidate)
                    break
        for why, pick in _simpler_variants(self.spec, current.variant):
            candidate = replace(current, variant=pick)
            if self._test(candidate, why):
                current = self._keep(candidate)
        return current

    def _keep(self, schedule: Schedule) -> Schedule:
        """The smallest failing schedule so far: what a shrink stopped by its budget reports
        (the first real shrink lost 15 -> 7 moves so, reporting the original)."""
        assert self.result is not None
        self.result.minimal = schedule
        self.result.kept.append(schedule)
        return schedule


def _split(moves: list[Move], n: int) -> list[list[Move]]:
    size, extra = divmod(len(moves), n)
    out, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        out.append(moves[start:end])
        start = end
    return [c for c in out if c]


def _removed(chunks: list[list[Move]], i: int, moves: list[Move]) -> str:
    start = sum(len(c) for c in chunks[:i]) + 1
    end = start + len(chunks[i]) - 1
    return f"remove move {start}" if start == end else f"remove moves {start}-{end}"


def _simpler(move: Move) -> Iterator[tuple[str, Move]]:
    """Simpler versions of one move, the most promising first."""
    if isinstance(move, (Push, Delete)) and len(move.tags) > 1:
        for i, tag in enumerate(move.tags):
            yield f"without tag {tag}", replace(move, tags=move.tags[:i] + move.tags[i + 1:])
    elif isinstance(move, Inject):
        if move.kind in WEAKER:
            yield f"{move.kind} -> {WEAKER[move.kind]}", replace(move, kind=WEAKER[move.kind])
        if move.keep_down:
            yield "without keep-down", replace(move, keep_down=False)
        if move.duration is not None and move.duration >= 2:
            yield f"duration {move.duration:g}s -> {move.duration // 2:g}s", replace(move, duration=move.duration // 2)
    elif isinstance(move, Wait) and move.until == "delay" and move.seconds >= 2:
        yield f"wait {move.seconds:g}s -> {move.seconds // 2:g}s", replace(move, seconds=move.seconds // 2)


def _simpler_variants(spec: ExploreSpec, pick: VariantPick) -> Iterator[tuple[str, VariantPick]]:
    """Each axis back to its default (the first value), or the first named variant."""
    if not pick.from_axes:
        first = spec.variant_names()[0]
        if pick.name != first:
            yield f"variant {pick.name} -> {first}", VariantPick(first)
        return
    axes = spec.axes
    assert axes is not None
    defaults = {"replicas": axes.replicas[0], "storage": axes.storage[0], "memory": axes.memory[0],
                "leader_election": axes.leader_election[0]}
    for axis, default in defaults.items():
        if getattr(pick, axis) != default:
            values = {a: getattr(pick, a) for a in defaults} | {axis: default}
            yield f"{axis.replace('_', '-')} -> {default}", VariantPick.axes(**values)
