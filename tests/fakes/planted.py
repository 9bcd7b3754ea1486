"""Planted bugs for the explorer's fast tests: executors that judge a compiled scenario
by rule, instantly, so the explorer, the judge and the shrinker can be tested exactly.

``stale_failover``: the flux2#4984 shape. ``no-regression`` is false when the variant has
two or more replicas and the steps hold, in order: a push, a kill-like fault (``kill`` or
``oom-kill``) on the leader, a push of a newer tag, and a second kill-like fault on the
leader. Its known 1-minimal schedule under the shrinker's rules is those four steps with
one tag per push, both faults weakened to ``kill``, no keep-down, on ``ha-emptydir``.
"""

from __future__ import annotations

import itertools

from pytest_fluxchaos.explore import Outcome
from pytest_fluxchaos.scenario import Scenario
from pytest_fluxchaos.variants import Variant

ALL_TRUE = {"no-regression": "true", "converges": "true", "never-stuck": "true", "faults-landed": "true"}
KILLS = ("kill", "oom-kill")


def _events(scenario: Scenario) -> list[str]:
    out = []
    for step in scenario.steps:
        if step.push:
            out.append("push")
        elif step.fault and step.fault.kind in KILLS and step.fault.target == "leader":
            out.append("kill")
    return out


def stale_failover(scenario: Scenario, variant: Variant, _label: str) -> Outcome:
    events = _events(scenario)
    pattern = ["push", "kill", "push", "kill"]
    it = iter(events)
    regressed = (variant.replicas or 1) >= 2 and all(any(e == want for e in it) for want in pattern)
    verdicts = dict(ALL_TRUE, **({"no-regression": "false"} if regressed else {}))
    return Outcome(verdicts=verdicts, summaries={"no-regression": "app-semver: 1.2.0 -> 1.1.0"} if regressed else {},
                   controllers={"flux_version": "2.9.4", "mixed_pair": False, "controllers": {
                       "image-reflector-controller": {"version": "planted", "source": "planted-rule"}}})


class FlakyLeaseDelete:
    """``converges`` false on every third run of a schedule with a lease-delete (1 in 3)."""

    def __init__(self) -> None:
        self.counter = itertools.count()
        self.runs = 0

    def __call__(self, scenario: Scenario, variant: Variant, _label: str) -> Outcome:
        self.runs += 1
        hit = any(s.fault and s.fault.kind == "lease-delete" for s in scenario.steps)
        fails = hit and next(self.counter) % 3 == 0
        return Outcome(verdicts=dict(ALL_TRUE, **({"converges": "false"} if fails else {})))


def _waits_before_first_kill(scenario: Scenario) -> bool:
    for step in scenario.steps:
        if step.fault and step.fault.kind in KILLS:
            return False
        if step.after is not None and step.after.policy is not None:
            return True
    return False


def load_dependent(scenario: Scenario, variant: Variant, label: str) -> Outcome:
    """``stale_failover``, except that in ``verify`` runs a schedule needs a wait for a
    policy between its first push and its first kill to fail: the shrink's runs (a loaded
    machine) accept dropping that wait, further runs do not (seen on the real controller)."""
    outcome = stale_failover(scenario, variant, label)
    if label == "verify" and not _waits_before_first_kill(scenario):
        return Outcome(verdicts=dict(ALL_TRUE), controllers=outcome.controllers)
    return outcome


def never_in_verification(scenario: Scenario, variant: Variant, label: str) -> Outcome:
    """``stale_failover`` that never fails a ``verify`` run: no shrunk schedule holds up."""
    outcome = stale_failover(scenario, variant, label)
    return Outcome(verdicts=dict(ALL_TRUE), controllers=outcome.controllers) if label == "verify" else outcome
