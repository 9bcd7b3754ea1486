"""no-oom: an OOM kill nobody injected is a finding; an injected one is not."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pytest_fluxchaos.checkers import CheckContext, NoOom, PolicyUnderTest, Validity
from pytest_fluxchaos.history import Fault, History, OomKill, RepositoryScan

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
POD = "ns/irc-abc-1"
CTX = CheckContext(policies=(PolicyUnderTest("ns/app", "app", {"semver": {"range": ">=1.0.0"}}),))


def ev(cls, t, **fields):
    return cls(t=t, wall=(T0 + timedelta(seconds=t)).isoformat(timespec="milliseconds"), **fields)


def injected(t: float, pod: str = POD) -> list[Fault]:
    return [ev(Fault, t, fault_id="oom-a", f="oom-kill", phase="inject", target="leader", resolved=pod),
            ev(Fault, t + 2, fault_id="oom-a", f="oom-kill", phase="confirm", outcome="ok", resolved=pod),
            ev(Fault, t + 3, fault_id="oom-a", f="oom-kill", phase="heal", resolved=pod)]


def test_no_kill_is_true() -> None:
    verdict = NoOom().check(History.from_events([]), CTX)
    assert verdict.valid is Validity.TRUE


def test_a_kill_nobody_injected_is_false_and_says_what_was_scanned() -> None:
    history = History.from_events([
        ev(RepositoryScan, 5.0, repository="ns/app", revision="r1", tag_count=3000),
        ev(OomKill, 9.0, pod=POD, restart=0, exit_code=137)])
    verdict = NoOom().check(history, CTX)
    assert verdict.valid is Validity.FALSE
    assert verdict.data["natural"][0]["tags_at_last_scan"] == {"ns/app": 3000}
    assert "OOM-killed by the kernel" in verdict.story[0] and "app 3000" in verdict.story[1]


def test_an_injected_kill_is_set_aside() -> None:
    history = History.from_events([*injected(10.0), ev(OomKill, 11.0, pod=POD, restart=0, exit_code=137)])
    verdict = NoOom().check(history, CTX)
    assert verdict.valid is Validity.TRUE
    assert verdict.data["injected"][0]["fault_id"] == "oom-a"


def test_a_kill_of_another_pod_or_long_after_the_fault_is_natural() -> None:
    other = NoOom().check(History.from_events([*injected(10.0), ev(OomKill, 11.0, pod="ns/irc-abc-2")]), CTX)
    late = NoOom().check(History.from_events([*injected(10.0), ev(OomKill, 60.0, pod=POD)]), CTX)
    assert other.valid is Validity.FALSE and late.valid is Validity.FALSE
