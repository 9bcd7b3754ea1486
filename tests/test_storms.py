"""never-stuck reports each policy's DependencyNotReady Warning storm
(image-reflector-controller#930) from hand-made ``KubeEvent`` histories, without letting
it change the verdict."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from pytest_fluxchaos.checkers import NeverStuck, Validity
from pytest_fluxchaos.checkers.storms import warning_storm
from pytest_fluxchaos.history import History, KubeEvent

from test_checkers import NO_TAGS, SEMVER, T0, ctx, ev, fault, hist, latest, ready, seeded


def stamp(t: float) -> str:
    return (T0 + timedelta(seconds=t)).strftime("%Y-%m-%dT%H:%M:%SZ")


def warning(t, count, *, first=45.0, involved=SEMVER.name, reason="DependencyNotReady",
            message=NO_TAGS, name="app-semver.17a", stamped=True):
    return ev(KubeEvent, t, involved_kind="ImagePolicy", involved=involved, reason=reason,
              message=message, count=count, first_timestamp=stamp(first) if stamped else None,
              last_timestamp=stamp(t) if stamped else None, name=f"flux-system/{name}")


def storm(every=30.0, n=9, start=45.0, **kw):
    """``n`` repetitions of one Warning, ``every`` seconds apart, folded into one Event."""
    return [warning(start + i * every, i + 1, first=start, **kw) for i in range(n)]


def stuck_history(*extra):
    """The pod-deletion shape: not Ready with matching tags from t=45 to t=300."""
    return hist(seeded("1.0.0", "1.1.0"), latest(10.0, "1.1.0"), ready(10.0),
                fault(40.0, "inject", f="pod-delete"),
                fault(41.0, "confirm", f="pod-delete", outcome="ok", new_pod="irc-abc-9"),
                ready(45.0, "False", reason="DependencyNotReady", message=NO_TAGS),
                ready(300.0, "True"), *extra)


def test_a_storm_is_counted_timed_and_told():
    v = NeverStuck().check(stuck_history(*storm()), ctx())
    assert v.valid is Validity.FALSE  # stuck for 255s: the storm does not decide this
    warnings = v.data["policies"][SEMVER.name]["warnings"]
    assert (warnings["warnings"], warnings["duration"], warnings["per_minute"]) == (9, 240.0, 2.0)
    assert (warnings["first"], warnings["last"]) == (stamp(45.0), stamp(285.0))
    assert warnings["messages"] == [NO_TAGS]
    assert v.story[-1] == (f"policy {SEMVER.name}: 9 DependencyNotReady warning(s) over 240s "
                           f"(2.0/min): {NO_TAGS}")
    json.dumps(v.data)


def test_the_storm_never_changes_the_verdict():
    quiet = hist(seeded("1.0.0"), latest(10.0, "1.0.0"), ready(10.0),
                 ready(45.0, "False", reason="DependencyNotReady", message=NO_TAGS), ready(60.0))
    loud = History.from_events([*quiet.events, *storm(every=1.0, n=15)])
    assert NeverStuck().check(quiet, ctx()).valid is NeverStuck().check(loud, ctx()).valid \
        is Validity.TRUE
    assert NeverStuck().check(quiet, ctx()).data["policies"][SEMVER.name]["warnings"] is None
    assert NeverStuck().check(loud, ctx()).data["policies"][SEMVER.name]["warnings"]["warnings"] == 15


def test_folded_events_add_up_by_object_not_by_observation():
    h = hist(*storm(n=4), *storm(n=3, start=200.0, name="app-semver.9f1", message="other text"))
    s = warning_storm(h, SEMVER.name)
    assert s is not None and s.warnings == 4 + 3
    assert s.duration == pytest.approx(215.0)  # from t=45 to t=260
    assert s.messages == (NO_TAGS, "other text")


def test_only_this_policys_dependency_warnings_count():
    h = hist(*storm(n=3), warning(50.0, 5, involved="flux-system/other", name="other.1"),
             warning(60.0, 7, reason="Failure", name="app-semver.2"))
    s = warning_storm(h, SEMVER.name)
    assert s is not None and s.warnings == 3
    assert warning_storm(h, "flux-system/nobody") is None


def test_a_single_warning_has_no_rate():
    s = warning_storm(hist(warning(45.0, 1)), SEMVER.name)
    assert s is not None and (s.warnings, s.duration, s.per_minute) == (1, 0.0, None)
    assert s.describe().startswith("1 DependencyNotReady warning(s) over 0s (once)")


def test_without_timestamps_the_history_clock_times_the_storm():
    s = warning_storm(hist(*storm(every=10.0, n=4, stamped=False)), SEMVER.name)
    assert s is not None and (s.duration, s.per_minute) == (30.0, 6.0)
    assert (s.first, s.last) == (None, None)
