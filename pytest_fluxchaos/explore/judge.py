"""When does a schedule *fail*? k of r runs, decided sequentially, with k and r from rates.

A real controller has timing noise: one failing run may be a race that rarely happens
again, and one passing run of a real bug may be the race going the other way (flux2#4984
regressed 9/10 with a 30 s scan interval). So a candidate counts as failing when it fails
in ``k`` of ``r`` runs. Runs stop as soon as the answer is known: after ``k`` failures, or
once ``k`` can no longer be reached. :func:`plan` picks the smallest ``r`` (and its ``k``)
that accepts a real failure with probability >= ``accept`` while accepting a flake that
fails at rate ``p_flake`` with probability <= ``false_accept``: binomial tails, nothing
more (docs/explore.md has the numbers for the measured rates).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from math import comb


def at_least(k: int, r: int, p: float) -> float:
    """P[Binomial(r, p) >= k]."""
    return sum(comb(r, i) * p**i * (1 - p) ** (r - i) for i in range(k, r + 1))


@dataclass(frozen=True)
class Plan:
    k: int
    r: int

    def accepts(self, p: float) -> float:
        """Probability that a schedule failing at rate ``p`` is judged failing."""
        return at_least(self.k, self.r, p)


def plan(p_fail: float, p_flake: float, *, accept: float = 0.9, false_accept: float = 0.1,
         r_max: int = 9) -> Plan:
    """The cheapest (k, r) that separates a failure rate ``p_fail`` from ``p_flake``."""
    if not 0 <= p_flake < p_fail <= 1:
        raise ValueError(f"expected 0 <= p_flake < p_fail <= 1, got {p_flake}, {p_fail}")
    for r in range(1, r_max + 1):
        for k in range(1, r + 1):
            if at_least(k, r, p_fail) >= accept and at_least(k, r, p_flake) <= false_accept:
                return Plan(k, r)
    raise ValueError(f"no k <= r <= {r_max} separates failure rate {p_fail} from {p_flake}")


@dataclass(frozen=True)
class Judgement:
    failing: bool
    runs: int
    failures: int


def judge(attempt: Callable[[int], bool], k: int, r: int, *, first: bool | None = None) -> Judgement:
    """Run ``attempt(i)`` (True: that run failed) until k failures or k is out of reach.

    ``first`` is a run already made (the exploration's own run of the schedule): it counts.
    """
    runs = failures = 0
    if first is not None:
        runs, failures = 1, int(first)
    while failures < k and failures + (r - runs) >= k:
        failures += int(attempt(runs))
        runs += 1
    return Judgement(failures >= k, runs, failures)


def judge_batched(attempt: Callable[[int], bool], k: int, r: int, *, parallel: int) -> Judgement:
    """:func:`judge` with up to ``parallel`` runs at a time, never more than the answer can
    still need (a schedule that has failed k times, or cannot reach k, starts no more runs)."""
    runs = failures = 0
    with ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="fluxchaos-judge") as pool:
        while failures < k and failures + (r - runs) >= k:
            batch = min(max(1, parallel), r - runs, k - failures)
            results = list(pool.map(attempt, range(runs, runs + batch)))
            failures += sum(map(int, results))
            runs += batch
    return Judgement(failures >= k, runs, failures)
