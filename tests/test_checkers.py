"""Checkers judge hand-built histories: true / false / unknown, with evidence."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_fluxchaos.checkers import (DEFAULT_CHECKERS, CheckContext, Converges, FaultsLanded,
                                       NeverStuck, NoRegression, PolicyUnderTest, Validity,
                                       Verdict, combine, overall, run_checkers)
from pytest_fluxchaos.history import (Fault, History, LeaseHolder, Op, PodState, PolicyLatest,
                                      PolicyReady, PolicySpec, RepositoryScan)

IMAGE = "127.0.0.1:5000/app"
T0 = datetime(2026, 11, 28, 4, 9, 0, tzinfo=timezone.utc)
SEMVER = PolicyUnderTest("flux-system/app-semver", IMAGE, {"semver": {"range": ">=1.0.0"}})


def wall(t: float) -> str:
    return (T0 + timedelta(seconds=t)).isoformat(timespec="milliseconds")


def ev(cls, t, **fields):
    return cls(t=t, wall=wall(t), **fields)


def push(t, tag, type_="ok", image=IMAGE, process="client-0", **kw):
    """An invoke just before ``t`` and its completion at ``t``."""
    return [ev(Op, t - 0.05, f="push-tag", type="invoke", image=image, tag=tag, process=process),
            ev(Op, t, f="push-tag", type=type_, image=image, tag=tag, process=process, **kw)]


def delete(t, tag, type_="ok", image=IMAGE, process="client-0"):
    return [ev(Op, t - 0.05, f="delete-tag", type="invoke", image=image, tag=tag, process=process),
            ev(Op, t, f="delete-tag", type=type_, image=image, tag=tag, process=process)]


def latest(t, tag, policy=SEMVER.name, previous=None):
    return ev(PolicyLatest, t, policy=policy, tag=tag, previous=previous)


def ready(t, status="True", policy=SEMVER.name, reason="Succeeded", message=""):
    return ev(PolicyReady, t, policy=policy, status=status, reason=reason, message=message)


def fault(t, phase, fid="f1", f="kill", target="leader", resolved="flux-system/irc-abc-1",
          outcome=None, **detail):
    return ev(Fault, t, fault_id=fid, f=f, phase=phase, target=target, resolved=resolved,
              outcome=outcome, detail=detail)


def hist(*parts) -> History:
    events = []
    for p in parts:
        events.extend(p if isinstance(p, list) else [p])
    return History.from_events(events)


def ctx(*policies, **kw) -> CheckContext:
    return CheckContext(policies=policies or (SEMVER,), **kw)


def seeded(*tags, t=1.0):
    return [e for i, tag in enumerate(tags) for e in push(t + i * 0.1, tag)]


# --------------------------------------------------------------------------- combine


def test_combine_precedence():
    assert combine([]) is Validity.TRUE
    assert combine([Validity.TRUE, Validity.UNKNOWN]) is Validity.UNKNOWN
    assert combine([Validity.UNKNOWN, Validity.FALSE, Validity.TRUE]) is Validity.FALSE
    assert combine(["true", "unknown"]) is Validity.UNKNOWN
    assert combine([True, None]) is Validity.UNKNOWN
    assert combine([True, False]) is Validity.FALSE
    assert Validity.UNKNOWN.value == "unknown" and str(Validity.FALSE) == "false"


validities = st.sampled_from(list(Validity))


@given(validities, validities)
def test_combine_commutative(a, b):
    assert combine([a, b]) is combine([b, a])


@given(validities, validities, validities)
def test_combine_associative(a, b, c):
    assert combine([combine([a, b]), c]) is combine([a, combine([b, c])])


@given(st.lists(validities))
def test_false_dominates_and_true_is_identity(vs):
    assert combine(vs + [Validity.FALSE]) is Validity.FALSE
    assert combine(vs + [Validity.TRUE]) is combine(vs)
    if Validity.FALSE not in vs and Validity.UNKNOWN in vs:
        assert combine(vs) is Validity.UNKNOWN


def test_overall_takes_verdict_dict():
    verdicts = {"a": Verdict("a", Validity.TRUE, "ok"), "b": Verdict("b", Validity.UNKNOWN, "?")}
    assert overall(verdicts) is Validity.UNKNOWN
    assert overall(list(verdicts.values())) is Validity.UNKNOWN


# --------------------------------------------------------------------------- no-regression


def regression_history(extra=()):
    """The 4984 shape: 1.2.0 is pushed and picked up, two leader flips, back to 1.1.0."""
    return hist(
        seeded("1.0.0", "1.1.0"),
        ev(LeaseHolder, 0.5, lease="flux-system/irc-leader", holder="irc-abc-0"),
        latest(10.0, "1.1.0"), ready(10.0),
        fault(90.0, "inject", fid="f1", resolved="flux-system/irc-abc-0"),
        fault(90.6, "confirm", fid="f1", outcome="ok", resolved="flux-system/irc-abc-0",
              exit_code=137, restart_count=1),
        ev(LeaseHolder, 95.0, lease="flux-system/irc-leader", holder="irc-abc-1"),
        push(101.0, "1.2.0"),
        ev(RepositoryScan, 105.0, repository="flux-system/app", revision="123", tag_count=3,
           latest_tags=("1.2.0", "1.1.0", "1.0.0")),
        latest(106.0, "1.2.0"),
        fault(130.5, "inject", fid="f2", resolved="flux-system/irc-abc-1"),
        fault(131.0, "confirm", fid="f2", outcome="ok", resolved="flux-system/irc-abc-1",
              exit_code=137, restart_count=1),
        ev(PodState, 131.0, pod="flux-system/irc-abc-1", state="terminated", reason="Error",
           exit_code=137, restart_count=1),
        ev(LeaseHolder, 170.1, lease="flux-system/irc-leader", holder="irc-abc-0"),
        latest(184.2, "1.1.0"),
        *extra,
    )


def test_regression_is_false_with_evidence():
    v = NoRegression().check(regression_history(), ctx())
    assert v.valid is Validity.FALSE
    assert "1.2.0 -> 1.1.0" in v.summary
    (reg,) = v.data["regressions"]
    assert (reg["old"], reg["new"], reg["t"]) == ("1.2.0", "1.1.0", 184.2)
    story = "\n".join(v.story)
    assert v.story[0] == ("policy flux-system/app-semver regressed 1.2.0 -> 1.1.0 at "
                          "t=184.2s (2026-11-28T04:12:04.200Z)")
    assert v.story[1] == ("  policy semver >=1.0.0; 1.2.0 pushed t=101.0s, latest since "
                          "t=106.0s, still in the registry")
    assert "  t=170.1s  leader irc-abc-1 -> irc-abc-0" in v.story
    assert "fault f2 kill leader -> irc-abc-1 injected; confirmed t=131.0s (exit 137, restarts 1)" \
        in story
    assert "leader irc-abc-1 -> irc-abc-0" in story
    assert "latest 1.2.0 -> 1.1.0 (Ready True)" in story
    assert "sticky" in story
    # events older than the story window are left out
    assert "fault f1" not in story
    json.dumps(v.data)


def test_regression_that_recovers_says_when():
    v = NoRegression().check(regression_history([latest(250.0, "1.2.0")]), ctx())
    assert v.valid is Validity.FALSE
    assert v.data["regressions"][0]["recovered_at"] == 250.0
    assert any("back at or ahead of 1.2.0 at t=250.0s" in line for line in v.story)


def test_drop_after_previous_tag_deleted_is_not_a_regression():
    v = NoRegression().check(regression_history([*delete(150.0, "1.2.0")]), ctx())
    assert v.valid is Validity.TRUE, v.story
    (change,) = [c for c in v.data["policies"][SEMVER.name]["changes"] if c["new"] == "1.1.0"]
    assert change["judgement"] == "excused-deleted"
    assert any("deleted" in line for line in v.story)


def test_drop_after_delete_and_repush_is_a_regression():
    v = NoRegression().check(regression_history([*delete(150.0, "1.2.0"), *push(160.0, "1.2.0")]),
                             ctx())
    assert v.valid is Validity.FALSE


def test_indeterminate_delete_makes_the_drop_unknown():
    v = NoRegression().check(regression_history([*delete(150.0, "1.2.0", type_="info")]), ctx())
    assert v.valid is Validity.UNKNOWN


def test_spec_change_rebases_the_order():
    spec1 = {"imageRepositoryRef": {"name": "app"}, "policy": {"semver": {"range": ">=1.0.0"}}}
    spec2 = {"imageRepositoryRef": {"name": "app"}, "policy": {"alphabetical": {"order": "desc"}}}
    h = hist(
        seeded("1.0.0", "1.1.0", "1.2.0"),
        ev(PolicySpec, 0.5, policy=SEMVER.name, generation=1, spec=spec1),
        latest(10.0, "1.2.0"), ready(10.0),
        ev(PolicySpec, 150.0, policy=SEMVER.name, generation=2, spec=spec2),
        latest(151.0, "1.1.0"),          # excused: the spec changed
        latest(200.0, "1.0.0"),          # forward under desc (backwards under semver)
        latest(250.0, "1.1.0"),          # backwards under desc -- judged by the new spec
    )
    v = NoRegression().check(h, ctx())
    assert v.valid is Validity.FALSE
    changes = v.data["policies"][SEMVER.name]["changes"]
    assert [c["judgement"] for c in changes] == ["excused-spec", "forward", "regression"]
    assert "alphabetical desc" in v.data["regressions"][0]["policy_spec"]

    ok = NoRegression().check(hist(h.events[:-1]), ctx())
    assert ok.valid is Validity.TRUE


def test_spec_event_recorded_just_after_the_change_still_excuses():
    spec2 = {"policy": {"semver": {"range": "<1.2.0"}}}
    h = hist(seeded("1.1.0", "1.2.0"), latest(10.0, "1.2.0"), latest(150.0, "1.1.0"),
             ev(PolicySpec, 151.5, policy=SEMVER.name, generation=2, spec=spec2))
    assert NoRegression().check(h, ctx()).valid is Validity.TRUE
    assert NoRegression().check(h, ctx(spec_grace=1.0)).valid is Validity.FALSE


def test_same_generation_seen_again_is_not_a_spec_change():
    spec1 = {"policy": {"semver": {"range": ">=1.0.0"}}}
    h = hist(seeded("1.1.0", "1.2.0"),
             ev(PolicySpec, 0.5, policy=SEMVER.name, generation=1, spec=spec1),
             latest(10.0, "1.2.0"),
             ev(PolicySpec, 140.0, policy=SEMVER.name, generation=1, spec=spec1),
             latest(150.0, "1.1.0"))
    assert NoRegression().check(h, ctx()).valid is Validity.FALSE


def test_no_observations_is_unknown():
    v = NoRegression().check(hist(seeded("1.0.0")), ctx())
    assert v.valid is Validity.UNKNOWN
    assert "never observed" in v.summary


def test_forward_moves_and_tie_are_true():
    h = hist(seeded("1.0.0", "v1.1.0", "1.1.0"),
             latest(5.0, "1.0.0"), latest(10.0, "v1.1.0"), latest(20.0, "1.1.0"))
    v = NoRegression().check(h, ctx())
    assert v.valid is Validity.TRUE
    assert [c["judgement"] for c in v.data["policies"][SEMVER.name]["changes"]] == ["forward", "tie"]
    assert any("tie" in line for line in v.story)


def test_cleared_latest_is_told_and_next_tag_compared_with_last_one():
    h = hist(seeded("1.1.0", "1.2.0"), latest(5.0, "1.2.0"), latest(10.0, None),
             latest(20.0, "1.1.0"))
    v = NoRegression().check(h, ctx())
    assert v.valid is Validity.FALSE
    assert any("cleared" in line for line in v.story)
    h2 = hist(seeded("1.1.0", "1.2.0"), latest(5.0, "1.2.0"), latest(10.0, None))
    assert NoRegression().check(h2, ctx()).valid is Validity.TRUE


@pytest.mark.parametrize("policy, tags, verdict", [
    ({"alphabetical": {"order": "asc"}}, ["2026-01-02", "2026-01-01"], Validity.FALSE),
    ({"alphabetical": {"order": "asc"}}, ["2026-01-01", "2026-01-02"], Validity.TRUE),
    ({"alphabetical": {"order": "desc"}}, ["b", "a"], Validity.TRUE),
    ({"alphabetical": {"order": "desc"}}, ["a", "b"], Validity.FALSE),
    ({"numerical": {"order": "asc"}}, ["10", "9"], Validity.FALSE),   # numeric, not byte-wise
    ({"numerical": {"order": "asc"}}, ["9", "10"], Validity.TRUE),
    ({"numerical": {"order": "desc"}}, ["2", "1.5"], Validity.TRUE),
    ({"numerical": {"order": "desc"}}, ["1.5", "2"], Validity.FALSE),
    ({"semver": {"range": ">=1.0.0"}}, ["1.10.0", "1.9.0"], Validity.FALSE),
    ({"semver": {"range": ">=1.0.0"}}, ["1.9.0", "1.10.0"], Validity.TRUE),
])
def test_policy_kinds_order(policy, tags, verdict):
    put = PolicyUnderTest("ns/p", IMAGE, policy)
    h = hist(seeded(*tags), latest(10.0, tags[0], policy="ns/p"),
             latest(20.0, tags[1], policy="ns/p"))
    assert NoRegression().check(h, ctx(put)).valid is verdict


def test_filter_tags_extract_orders_by_key():
    put = PolicyUnderTest("ns/p", IMAGE, {"numerical": {"order": "asc"}},
                          {"pattern": r"^main-[a-f0-9]+-(?P<ts>\d+)$", "extract": "$ts"})
    h = hist(seeded("main-abc-1700000002", "main-fff-1700000001"),
             latest(10.0, "main-abc-1700000002", policy="ns/p"),
             latest(20.0, "main-fff-1700000001", policy="ns/p"))
    v = NoRegression().check(h, ctx(put))
    assert v.valid is Validity.FALSE


def test_unrankable_tag_is_unknown():
    h = hist(seeded("1.2.0", "latest"), latest(10.0, "1.2.0"), latest(20.0, "latest"))
    v = NoRegression().check(h, ctx())
    assert v.valid is Validity.UNKNOWN
    assert any("latest" in line for line in v.story)


def test_other_policies_and_images_are_ignored():
    other = PolicyUnderTest("ns/other", "127.0.0.1:5000/other", {"semver": {"range": ">=0"}})
    h = hist(seeded("1.1.0", "1.2.0"), latest(10.0, "1.2.0"),
             latest(12.0, "9.0.0", policy="ns/other"), latest(13.0, "1.0.0", policy="ns/other"),
             *delete(15.0, "1.2.0", image="127.0.0.1:5000/other"), latest(20.0, "1.1.0"))
    v = NoRegression().check(h, ctx(SEMVER))
    assert v.valid is Validity.FALSE
    v2 = NoRegression().check(h, ctx(SEMVER, other))
    assert len(v2.data["regressions"]) == 2


def test_story_is_bounded():
    noise = [ev(PodState, 100.0 + i, pod=f"ns/p-{i}", state="running") for i in range(40)]
    v = NoRegression().check(regression_history(noise), ctx())
    first_story = v.story[: v.story.index("  still behind at the end of the history "
                                          "(sticky regression)")]
    assert len(first_story) <= 2 + 15
    assert any("omitted" in line for line in first_story)


# --------------------------------------------------------------------------- converges


def converge_history(converge_at=150.0, end=300.0, final_tag="1.2.0"):
    return hist(
        seeded("1.0.0", "1.1.0"),
        latest(10.0, "1.1.0"), ready(10.0),
        fault(50.0, "inject"), fault(50.5, "confirm", outcome="ok", exit_code=137),
        push(60.0, "1.2.0"),
        fault(100.0, "heal"),
        latest(converge_at, final_tag),
        ev(Op, end, f="push-tag", type="invoke", image="elsewhere", tag="x"),  # history end
    )


def test_converges_inside_bound():
    v = Converges().check(converge_history(), ctx())
    assert v.valid is Validity.TRUE, v.story
    assert v.data["time_to_converge"][SEMVER.name] == pytest.approx(50.0)
    p = v.data["policies"][SEMVER.name]
    assert p["anchor"] == "last fault heal" and p["expected_tags"] == ["1.2.0"]
    json.dumps(v.data)


def test_converges_outside_bound_is_false():
    v = Converges().check(converge_history(converge_at=250.0), ctx())
    assert v.valid is Validity.FALSE
    assert "late" in v.summary
    assert v.data["time_to_converge"][SEMVER.name] == pytest.approx(150.0)


def test_never_converging_is_false():
    v = Converges().check(converge_history(final_tag="1.0.0"), ctx())
    assert v.valid is Validity.FALSE
    assert any("did not converge" in line and "1.2.0" in line for line in v.story)


def test_history_too_short_is_unknown():
    h = hist(converge_history(converge_at=400.0, end=180.0).events[:-2],
             ev(Op, 180.0, f="push-tag", type="invoke", image="elsewhere", tag="x"))
    v = Converges().check(h, ctx())
    assert v.valid is Validity.UNKNOWN
    assert "before the bound" in v.summary


def test_converged_then_moved_away_is_false():
    h = hist(converge_history(converge_at=150.0).events, latest(200.0, "1.1.0"))
    v = Converges().check(h, ctx())
    assert v.valid is Validity.FALSE
    assert "moved away" in v.summary


def test_converges_without_faults_counts_from_last_op():
    h = hist(seeded("1.0.0"), push(60.0, "1.3.0"), latest(5.0, "1.0.0"), ready(5.0),
             latest(70.0, "1.3.0"), ready(200.0, "True"))
    v = Converges().check(h, ctx())
    assert v.valid is Validity.TRUE
    assert v.data["policies"][SEMVER.name]["anchor"] == "last registry op"
    assert v.data["time_to_converge"][SEMVER.name] == pytest.approx(10.0)


def test_indeterminate_push_accepts_either_answer():
    for final in ("1.2.0", "1.3.0"):
        h = hist(seeded("1.2.0"), push(60.0, "1.3.0", type_="info", error="timeout"),
                 latest(70.0, final), ready(70.0), latest(300.0, final))
        v = Converges().check(h, ctx())
        assert v.valid is Validity.TRUE, (final, v.story)
    assert sorted(v.data["policies"][SEMVER.name]["expected_tags"]) == ["1.2.0", "1.3.0"]


def test_deleted_tags_leave_the_expectation():
    h = hist(seeded("1.2.0", "1.3.0"), delete(60.0, "1.3.0"),
             latest(70.0, "1.2.0"), ready(70.0), latest(300.0, "1.2.0"))
    assert Converges().check(h, ctx()).valid is Validity.TRUE


def test_signature_tags_are_excluded_by_default():
    put = PolicyUnderTest("ns/p", IMAGE, {"alphabetical": {"order": "asc"}})
    h = hist(seeded("sha256-abc.sig", "b"), latest(10.0, "b", policy="ns/p"),
             ready(10.0, policy="ns/p"), ready(300.0, policy="ns/p"))
    assert Converges().check(h, ctx(put)).valid is Validity.TRUE


def test_oracle_error_expects_not_ready_with_its_message():
    put = PolicyUnderTest("ns/p", IMAGE, {"semver": {"range": ">=5.0.0"}})
    good = hist(seeded("1.0.0"),
                ready(10.0, "False", policy="ns/p", reason="Failure",
                      message="unable to determine latest version from provided list"),
                ready(300.0, "False", policy="ns/p", reason="Failure",
                      message="unable to determine latest version from provided list"))
    v = Converges().check(good, ctx(put))
    assert v.valid is Validity.TRUE, v.story
    assert v.data["policies"]["ns/p"]["expected_errors"]
    bad = hist(seeded("1.0.0"), latest(10.0, "1.0.0", policy="ns/p"), ready(10.0, policy="ns/p"),
               ready(300.0, policy="ns/p"))
    assert Converges().check(bad, ctx(put)).valid is Validity.FALSE


def test_empty_registry_expects_no_tags_in_database():
    h = hist(ready(10.0, "False", reason="DependencyNotReady",
                   message="retrying in 30s error: no tags in database"),
             ready(300.0, "False", reason="DependencyNotReady",
                   message="retrying in 30s error: no tags in database"))
    assert Converges().check(h, ctx()).valid is Validity.TRUE


def test_converges_unobserved_policy_is_unknown():
    v = Converges().check(hist(seeded("1.0.0"), fault(10.0, "heal")), ctx())
    assert v.valid is Validity.UNKNOWN


# --------------------------------------------------------------------------- never-stuck

NO_TAGS = "retrying in 30s error: no tags in database"


def test_stuck_policy_is_false():
    h = hist(seeded("1.0.0", "1.1.0"), latest(10.0, "1.1.0"), ready(10.0),
             fault(40.0, "inject", f="pod-delete"),
             fault(41.0, "confirm", f="pod-delete", outcome="ok", new_pod="irc-abc-9"),
             ready(45.0, "False", reason="DependencyNotReady", message=NO_TAGS),
             ready(200.0, "True"))
    v = NeverStuck().check(h, ctx())
    assert v.valid is Validity.FALSE
    assert v.data["policies"][SEMVER.name]["max_stuck"] == pytest.approx(155.0)
    story = "\n".join(v.story)
    assert "not Ready from t=45.0s" in story and "155.0s" in story
    assert "DependencyNotReady: retrying in 30s error: no tags in database" in story
    assert "fault f1 pod-delete leader -> irc-abc-1 injected" in story
    json.dumps(v.data)


def test_short_blip_is_true():
    h = hist(seeded("1.0.0"), latest(10.0, "1.0.0"), ready(10.0),
             ready(45.0, "Unknown", reason="Progressing", message="reconciliation in progress"),
             ready(50.0, "True"), ready(300.0, "True"))
    v = NeverStuck().check(h, ctx())
    assert v.valid is Validity.TRUE
    assert v.data["policies"][SEMVER.name]["max_stuck"] == pytest.approx(5.0)


def test_not_ready_without_matching_tags_is_not_stuck():
    h = hist(ready(1.0, "False", reason="DependencyNotReady", message=NO_TAGS),
             seeded("latest", t=2.0),        # not a semver tag: nothing to resolve
             push(250.0, "1.0.0"), ready(300.0, "True"))
    v = NeverStuck().check(h, ctx())
    assert v.valid is Validity.TRUE
    assert v.data["policies"][SEMVER.name]["max_stuck"] == pytest.approx(50.0)


def test_stuck_clock_stops_while_tags_are_deleted():
    h = hist(seeded("1.0.0"), ready(10.0, "False", reason="Failure", message="x"),
             delete(70.0, "1.0.0"), push(150.0, "1.0.0"), ready(230.0, "True"))
    v = NeverStuck().check(h, ctx())
    assert v.valid is Validity.TRUE
    assert v.data["policies"][SEMVER.name]["max_stuck"] == pytest.approx(80.0)


@pytest.mark.parametrize("end, verdict", [(80.0, Validity.TRUE), (150.0, Validity.FALSE)])
def test_open_stretch_at_end(end, verdict):
    h = hist(seeded("1.0.0"), ready(5.0), ready(10.0, "False", reason="Failure", message="x"),
             ev(Op, end, f="push-tag", type="invoke", image="elsewhere", tag="x"))
    v = NeverStuck().check(h, ctx())
    assert v.valid is verdict
    if verdict is Validity.FALSE:
        assert "to the end of the history" in v.story[0]


def test_never_stuck_without_ready_observations_is_unknown():
    assert NeverStuck().check(hist(seeded("1.0.0")), ctx()).valid is Validity.UNKNOWN


# --------------------------------------------------------------------------- faults-landed


def test_fault_confirmed_is_true():
    h = hist(fault(10.0, "inject"), fault(11.0, "confirm", outcome="ok", exit_code=137,
                                          restart_count=1), fault(12.0, "heal"))
    v = FaultsLanded().check(h, ctx())
    assert v.valid is Validity.TRUE
    assert v.story == ["fault f1 kill leader -> irc-abc-1 injected at t=10.0s "
                       "(2026-11-28T04:09:10Z): confirmed t=11.0s (exit 137, restarts 1); "
                       "healed t=12.0s"]
    assert v.data["faults"][0]["status"] == "landed"


def test_fault_never_confirmed_is_unknown():
    h = hist(fault(10.0, "inject"), fault(30.0, "heal"))
    v = FaultsLanded().check(h, ctx())
    assert v.valid is Validity.UNKNOWN
    assert "never confirmed" in v.summary


def test_fault_unconfirmed_outcome_is_unknown():
    h = hist(fault(10.0, "inject", f="oom-kill"),
             fault(40.0, "confirm", f="oom-kill", outcome="unconfirmed", reason="no OOMKilled"))
    v = FaultsLanded().check(h, ctx())
    assert v.valid is Validity.UNKNOWN
    assert "unconfirmed" in v.summary and "NOT LANDED" in v.story[0]


def test_fault_injection_failed_is_unknown_and_says_so():
    h = hist(fault(10.0, "inject"), fault(10.2, "confirm", outcome="failed",
                                          error="pod not found"))
    v = FaultsLanded().check(h, ctx())
    assert v.valid is Validity.UNKNOWN
    assert "injection failed" in v.summary
    assert "error: pod not found" in v.story[0]


def test_no_faults_is_true():
    v = FaultsLanded().check(hist(seeded("1.0.0")), ctx())
    assert v.valid is Validity.TRUE and v.summary == "no faults scheduled"


def test_mixed_faults_unknown_lists_each():
    h = hist(fault(10.0, "inject", fid="f1"), fault(11.0, "confirm", fid="f1", outcome="ok"),
             fault(20.0, "inject", fid="f2", target="standby"))
    v = FaultsLanded().check(h, ctx())
    assert v.valid is Validity.UNKNOWN
    assert len(v.story) == 2 and "f2 (never confirmed)" in v.summary


# --------------------------------------------------------------------------- run_checkers


def test_run_checkers_runs_all_and_records_crashes():
    class Boom:
        name = "boom"

        def check(self, history, ctx):
            raise RuntimeError("kaput")

    h = regression_history()
    verdicts = run_checkers(h, ctx(), (*DEFAULT_CHECKERS, Boom()))
    assert list(verdicts) == ["no-regression", "converges", "never-stuck", "ready-honest",
                              "no-oom", "faults-landed", "boom"]
    assert verdicts["boom"].valid is Validity.UNKNOWN and "kaput" in verdicts["boom"].summary
    assert overall(verdicts) is Validity.FALSE
    for v in verdicts.values():
        json.dumps(v.to_dict())
        assert "\n" not in v.summary
    assert verdicts["no-regression"].render().startswith("no-regression: false - ")


def test_recorded_history_with_fake_clock_roundtrips(tmp_path):
    now = [0.0]
    h = History(clock=lambda: now[0], wall_clock=lambda: wall(now[0]))

    def at(t, cls, **fields):
        now[0] = t
        return h.record(cls, **fields)

    at(1.0, Op, f="push-tag", type="invoke", image=IMAGE, tag="1.1.0")
    at(1.1, Op, f="push-tag", type="ok", image=IMAGE, tag="1.1.0")
    at(2.0, Op, f="push-tag", type="invoke", image=IMAGE, tag="1.2.0")
    at(2.1, Op, f="push-tag", type="ok", image=IMAGE, tag="1.2.0")
    at(10.0, PolicyLatest, policy=SEMVER.name, tag="1.2.0")
    at(10.0, PolicyReady, policy=SEMVER.name, status="True", reason="Succeeded")
    at(50.0, PolicyLatest, policy=SEMVER.name, tag="1.1.0", previous="1.2.0")
    path = tmp_path / "history.jsonl"
    h.write_jsonl(path)
    verdicts = run_checkers(History.read_jsonl(path), ctx())
    assert verdicts["no-regression"].valid is Validity.FALSE
    assert verdicts["converges"].valid is Validity.FALSE
    assert verdicts["faults-landed"].summary == "no faults scheduled"


def test_no_policies_is_unknown():
    empty = CheckContext(policies=())
    for checker in (NoRegression(), Converges(), NeverStuck()):
        assert checker.check(hist(seeded("1.0.0")), empty).valid is Validity.UNKNOWN


# --------------------------------------------------------------------------- more cases


@given(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=8))
def test_alphabetical_regression_iff_a_change_goes_down(seq):
    put = PolicyUnderTest("ns/p", IMAGE, {"alphabetical": {"order": "asc"}})
    h = hist(seeded("a", "b", "c", "d"),
             [latest(10.0 + i, tag, policy="ns/p") for i, tag in enumerate(seq)])
    changes = [(o, n) for o, n in zip(seq, seq[1:]) if o != n]
    expected = Validity.FALSE if any(n < o for o, n in changes) else Validity.TRUE
    v = NoRegression().check(h, ctx(put))
    assert v.valid is expected
    assert len(v.data["regressions"]) == sum(n < o for o, n in changes)


def test_filter_ties_accept_any_candidate():
    # keys "5" and "5.0" are equal numbers; Go map order decides, so both are right
    put = PolicyUnderTest("ns/p", IMAGE, {"numerical": {"order": "asc"}},
                          {"pattern": r"^v(?P<n>[\d.]+)$", "extract": "$n"})
    for final in ("v5", "v5.0"):
        h = hist(seeded("v4", "v5", "v5.0"), latest(10.0, final, policy="ns/p"),
                 ready(10.0, policy="ns/p"), ready(300.0, policy="ns/p"))
        v = Converges().check(h, ctx(put))
        assert v.valid is Validity.TRUE, v.story
    assert v.data["policies"]["ns/p"]["expected_tags"] == ["v5", "v5.0"]
    h = hist(seeded("v4", "v5", "v5.0"), latest(10.0, "v5", policy="ns/p"),
             latest(20.0, "v5.0", policy="ns/p"))
    v = NoRegression().check(h, ctx(put))
    assert v.valid is Validity.TRUE and v.data["policies"]["ns/p"]["changes"][0]["judgement"] == "tie"


def test_same_key_collision_is_deterministic():
    # two tags extracting the same key: the later one in stored order wins, no tie
    put = PolicyUnderTest("ns/p", IMAGE, {"numerical": {"order": "asc"}},
                          {"pattern": r"^(?P<n>\d+)-", "extract": "$n"})
    h = hist(seeded("4-z", "5-a", "5-b"), latest(10.0, "5-b", policy="ns/p"),
             ready(10.0, policy="ns/p"), ready(300.0, policy="ns/p"))
    v = Converges().check(h, ctx(put))
    assert v.valid is Validity.FALSE
    assert v.data["policies"]["ns/p"]["expected_tags"] == ["5-a"]


def test_converges_uses_the_spec_in_force_after_a_change():
    spec2 = {"policy": {"semver": {"range": "<1.2.0"}}}
    h = hist(seeded("1.1.0", "1.2.0"), latest(10.0, "1.2.0"), ready(10.0),
             fault(20.0, "inject"), fault(21.0, "confirm", outcome="ok"), fault(30.0, "heal"),
             ev(PolicySpec, 40.0, policy=SEMVER.name, generation=2, spec=spec2),
             latest(41.0, "1.1.0"), ready(300.0))
    v = Converges().check(h, ctx())
    assert v.valid is Validity.TRUE, v.story
    p = v.data["policies"][SEMVER.name]
    assert p["anchor"] == "last spec change" and p["expected_tags"] == ["1.1.0"]


def test_old_irc_version_is_passed_to_the_oracle():
    h = hist(seeded("1.1.0", "1.2.0"), latest(10.0, "1.2.0"), ready(10.0),
             latest(20.0, "1.1.0"))
    v = NoRegression().check(h, ctx(irc_version="0.32.0"))
    assert v.valid is Validity.FALSE


def test_story_scans_are_narrowed_to_the_policy_repository():
    put = PolicyUnderTest(SEMVER.name, IMAGE, SEMVER.policy, repository="flux-system/app")
    extra = [ev(RepositoryScan, 150.0, repository="flux-system/other", revision="9",
                tag_count=1, latest_tags=("x",)),
             ev(RepositoryScan, 160.0, repository="flux-system/app", revision="7",
                tag_count=3, latest_tags=("1.2.0", "1.1.0", "1.0.0"))]
    story = "\n".join(NoRegression().check(regression_history(extra), ctx(put)).story)
    assert "scan flux-system/app: 3 tags [1.2.0 1.1.0 1.0.0] rev 7" in story
    assert "flux-system/other" not in story
