"""The explorer: generate schedules, run them K at a time, confirm failures, shrink them.

It never touches an environment itself. The caller gives it an ``execute`` function that
runs one compiled scenario under one variant and returns an :class:`Outcome` (the pytest
session runs it in its own namespace on the shared control plane; tests give it a
planted bug). So the exploration is the same on every backend, and on the in-memory one
in the fast tier.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from ..scenario import ExpectedVerdict, Scenario
from ..variants import Variant, VariantError, resolve
from .grammar import generate, schedule_seed
from .judge import judge, judge_batched
from .schedule import InvalidSchedule, Schedule, compile_schedule, contains, key, signature
from .shrink import ShrinkResult, Shrinker, Verification
from .spec import ExploreSpec


@dataclass(frozen=True)
class Outcome:
    """What one run gave: verdict per checker (``true``/``false``/``unknown``) and why."""

    verdicts: dict[str, str]
    error: str | None = None
    seconds: float = 0.0
    artifacts: str | None = None
    summaries: dict[str, str] = field(default_factory=dict)
    controllers: dict[str, Any] = field(default_factory=dict)


Execute = Callable[[Scenario, Variant, str], Outcome]
"""(scenario, variant, label) -> outcome; ``label`` says which phase asked (for progress)."""


SEVERITY = ("no-regression", "git-no-regression", "converges", "git-converges", "never-stuck", "ready-honest", "no-oom",
            "faults-landed")
"""Which failure a finding is about when a run fails several checkers: the harm first."""


def _rank(checker: str) -> int:
    return SEVERITY.index(checker) if checker in SEVERITY else len(SEVERITY)


def primary(checkers: tuple[str, ...]) -> str:
    return min(checkers, key=_rank)


def failing_checkers(outcome: Outcome, expect: dict[str, ExpectedVerdict]) -> tuple[str, ...]:
    """Checkers that failed: false, or unknown where true was expected (``any`` never fails).

    A run that errored (the environment broke) proves nothing: no checker counts. When a
    checker is false, the unknowns beside it are left out: they are its consequence (a
    policy that never resolved cannot be judged for regressions) and would name the
    finding after the wrong checker (seen on the real controller: "no-regression" for a
    run whose only failure was converges).
    """
    if outcome.error is not None:
        return ()
    false, unknown = [], []
    for name, verdict in outcome.verdicts.items():
        want = expect.get(name, True)
        if want == "any" or verdict == "true":
            continue
        if verdict == "false" and want is not False:
            false.append(name)
        elif verdict == "unknown" and want is True:
            unknown.append(name)
    return tuple(false or unknown)


@dataclass
class Trial:
    """One run, in the order it happened."""

    index: int
    phase: str  # explore / confirm / shrink
    schedule: Schedule
    scenario: Scenario
    variant: Variant
    outcome: Outcome
    failing: tuple[str, ...]


@dataclass
class Finding:
    checkers: tuple[str, ...]
    original: Schedule
    found_at: float  # seconds into the exploration
    shrink: ShrinkResult
    minimal_trial: Trial | None  # the last failing run of the minimal schedule
    runs: int  # confirm + shrink runs spent on it

    @property
    def signature(self) -> str:
        return f"{self.checkers[0]}:{signature(self.shrink.minimal)}"


@dataclass
class Exploration:
    seed: int
    trials: list[Trial] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    schedules: int = 0  # schedules generated and run (not counting confirm and shrink runs)
    errors: int = 0
    invalid: int = 0
    flaky: int = 0  # failed once, not confirmed
    duplicates: int = 0
    seconds: float = 0.0


Progress = Callable[[str], None]


class Explorer:
    def __init__(self, spec: ExploreSpec, execute: Execute, *, seed: int,
                 custom: dict[str, Variant] | None = None, worker: int = 0, workers: int = 1,
                 max_schedules: int | None = None, time_budget: float | None = None,
                 parallel: int | None = None, until_found: bool | None = None,
                 shrink_runs: int | None = None,
                 progress: Progress = lambda _m: None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.spec = spec
        self.execute = execute
        self.custom = custom or {}
        self.seed = seed
        self.worker, self.workers = worker, workers
        self.max_schedules = max_schedules if max_schedules is not None else spec.budget.schedules
        self.time_budget = time_budget if time_budget is not None else spec.budget.time
        self.parallel = parallel or spec.parallel
        self.until_found = spec.budget.until_found if until_found is None else until_found
        self.shrink_runs = spec.shrink.runs if shrink_runs is None else shrink_runs
        self.progress = progress
        self.clock = clock
        self.expect = dict(spec.expect)
        self._lock = threading.Lock()
        self._replicas = {}
        for name in (spec.variant_names() if spec.axes is None else []):
            try:
                self._replicas[name] = resolve(name, self.custom).replicas or 1
            except VariantError as exc:
                raise ValueError(f"explore {spec.name}: variants: {exc}") from None

    # -- the budget -----------------------------------------------------------------------
    def _elapsed(self) -> float:
        return self.clock() - self._t0

    def _out_of_time(self) -> bool:
        return self.time_budget is not None and self._elapsed() >= self.time_budget

    def _found_all(self) -> bool:
        wanted = set(self.spec.expect_findings)
        return self.until_found and bool(wanted) and wanted <= {primary(f.checkers) for f in self.result.findings}

    def _more(self, started: int) -> bool:
        return ((self.max_schedules is None or started < self.max_schedules) and not self._out_of_time()
                and not self._found_all())

    # -- running ----------------------------------------------------------------------------
    def run(self) -> Exploration:
        self._t0 = self.clock()
        self.result = Exploration(seed=self.seed)
        started = 0
        index = self.worker
        with ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="fluxchaos-explore") as pool:
            running: dict[Future[Trial | None], Schedule] = {}
            while running or self._more(started):
                while len(running) < self.parallel and self._more(started):
                    schedule = generate(self.spec, schedule_seed(self.seed, index), self._replicas)
                    index += self.workers
                    started += 1
                    running[pool.submit(self._trial, schedule, "explore")] = schedule
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in done:
                    schedule = running.pop(future)
                    trial = future.result()
                    self.result.schedules += 1
                    if trial is not None and trial.failing:
                        if self._found_all():  # schedules still running when the last finding came in
                            self.result.duplicates += 1
                        else:
                            self._on_failure(trial)
                    self._report()
        self.result.seconds = round(self._elapsed(), 3)
        return self.result

    def _report(self) -> None:
        r = self.result
        left = "" if self.time_budget is None else f", {max(0.0, self.time_budget - self._elapsed()):.0f}s left"
        self.progress(f"explore {self.spec.name}: {r.schedules} schedules, {len(r.findings)} findings"
                      f" ({r.flaky} flaky, {r.errors} errored){left}")

    def _trial(self, schedule: Schedule, phase: str) -> Trial | None:
        try:
            scenario, variant = compile_schedule(self.spec, schedule, self.custom)
        except InvalidSchedule:
            if phase == "explore":
                with self._lock:
                    self.result.invalid += 1
            return None
        outcome = self.execute(scenario, variant, phase)
        failing = failing_checkers(outcome, scenario.expected(variant.name) | self.expect)
        with self._lock:
            trial = Trial(len(self.result.trials), phase, schedule, scenario, variant, outcome, failing)
            self.result.trials.append(trial)
            if outcome.error is not None and phase == "explore":
                self.result.errors += 1
        return trial

    def _fails(self, schedule: Schedule, checker: str, phase: str,
               first: bool | None = None) -> tuple[bool, int, Trial | None, int]:
        """Judged: ``checker`` fails in k of r runs (another checker failing is another bug).

        Returns: failing, runs made here, the last failing run, failures counted."""
        last: list[Trial] = []

        def attempt(_i: int) -> bool:
            trial = self._trial(schedule, phase)
            if trial is None:
                raise InvalidSchedule("not a valid scenario")
            if checker in trial.failing:
                last.append(trial)
                return True
            return False

        if phase == "verify":
            assert self.spec.shrink.verify is not None
            verdict = judge_batched(attempt, self.spec.shrink.verify.k, self.spec.shrink.verify.r,
                                    parallel=self.parallel)
        else:
            verdict = judge(attempt, self.spec.confirm.k, self.spec.confirm.r, first=first)
        return (verdict.failing, verdict.runs - (1 if first is not None else 0), (last[-1] if last else None),
                verdict.failures)

    def _verify(self, original: Schedule, result: ShrinkResult, checker: str) -> tuple[int, Trial | None]:
        """Run the shrunk schedule again (``shrink.verify``); when it does not fail often
        enough, bisect the schedules the shrink kept for the smallest one that does (the
        original, confirmed schedule when none does). Returns the runs spent and the last
        failing run of the schedule kept.

        The shrinker judges each candidate in the conditions of its own runs; a candidate
        that dropped a wait can fail there only because the machine was slow (the first
        real shrink's 6-move schedule failed 3 of 3 while shrinking under load and
        regressed in 1 of 5 replays). Verification is a second, larger sample of the one
        schedule that will be published. The kept schedules form a chain, each cut from
        the one before, so a schedule that holds up makes its predecessors likely to hold
        up too: bisecting needs log2(chain) verifications, at most ``1 + fallbacks``.
        """
        rules = self.spec.shrink.verify
        if rules is None or key(result.minimal) == key(original):
            return 0, None
        chain: list[Schedule] = []
        for schedule in [*result.kept, result.minimal]:
            if key(schedule) != key(original) and (not chain or key(chain[-1]) != key(schedule)):
                chain.append(schedule)
        spent, checks = 0, 1 + self.spec.shrink.fallbacks
        good, good_trial, bad = -1, None, len(chain)  # chain[good] held up (-1: the original)
        probe = len(chain) - 1  # the shrunk schedule first: it usually holds up
        while good + 1 < bad and checks > 0:
            checks -= 1
            schedule = chain[probe]
            failing, runs, last, failures = self._fails(schedule, checker, "verify")
            spent += runs
            result.verifications.append(Verification(schedule, failing, runs, failures))
            self.progress(f"explore {self.spec.name}: shrunk schedule ({len(schedule.moves)} moves) "
                          f"failed {failures} of {runs} verification runs"
                          + ("" if failing else f", needed {rules.k} of {rules.r}"))
            if failing:
                good, good_trial = probe, last
            else:
                bad = probe
            probe = (good + bad) // 2
        if good < 0:  # nothing smaller held up: publish what was confirmed
            result.minimal, result.one_minimal = original, False
            return spent, None
        if key(chain[good]) != key(result.minimal):
            result.minimal, result.one_minimal = chain[good], False
        return spent, good_trial

    def _on_failure(self, trial: Trial) -> None:
        """Confirm (k of r), skip what is already known, shrink, record the finding."""
        found_at = self._elapsed()
        if any(primary(f.checkers) == primary(trial.failing) and contains(trial.schedule, f.shrink.minimal)
               for f in self.result.findings):
            self.result.duplicates += 1  # holds a known minimal schedule: no runs spent on it
            return
        confirmed, runs, last, _ = self._fails(trial.schedule, primary(trial.failing), "confirm", first=True)
        if not confirmed:
            self.result.flaky += 1
            return
        last = last or trial
        minimal_trials: dict[str, Trial] = {}

        def fails(candidate: Schedule) -> tuple[bool, int]:
            failing, spent, failing_trial, _ = self._fails(candidate, primary(trial.failing), "shrink")
            if failing_trial is not None:
                with self._lock:
                    minimal_trials[signature(candidate) + repr(candidate.moves)] = failing_trial
            return failing, spent

        budget_end = None if self.spec.shrink.time is None else self.clock() + self.spec.shrink.time
        shrinker = Shrinker(self.spec, fails, max_runs=self.shrink_runs,
                            out_of_time=lambda: budget_end is not None and self.clock() >= budget_end,
                            parallel=self.parallel)
        result = shrinker.shrink(trial.schedule)
        verify_runs, verified = self._verify(trial.schedule, result, primary(trial.failing))
        minimal = verified or minimal_trials.get(signature(result.minimal) + repr(result.minimal.moves), last)
        finding = Finding(tuple(sorted(trial.failing, key=_rank)), trial.schedule, round(found_at, 3), result, minimal,
                          runs + result.runs + verify_runs)
        if any(f.signature == finding.signature for f in self.result.findings):
            self.result.duplicates += 1
            return
        self.result.findings.append(finding)
