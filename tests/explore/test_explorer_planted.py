"""The explorer, judge and shrinker against planted bugs (no backend, milliseconds)."""

from __future__ import annotations

import pytest

from pytest_fluxchaos.explore import Explorer, ExploreSpec, Inject, Push, Schedule, VariantPick, Wait
from pytest_fluxchaos.explore.finding import suite_yaml, upstream_summary
from pytest_fluxchaos.explore.grammar import generate, schedule_seed
from pytest_fluxchaos.explore.judge import judge, plan
from pytest_fluxchaos.explore.schedule import compile_schedule, describe
from pytest_fluxchaos.suite import load_suite
from tests.fakes.planted import FlakyLeaseDelete, load_dependent, never_in_verification, stale_failover

WORLD = {
    "name": "stale-failover",
    "images": [{"name": "app", "tags": {"semver": {"start": "1.0.0", "bump": "minor"}}}],
    "repositories": [{"name": "app", "image": "app", "interval": "5m"}],
    "policies": [{"name": "app-semver", "repository": "app", "policy": {"semver": {"range": ">=1.0.0"}}}],
}


def spec(**extra: object) -> ExploreSpec:
    return ExploreSpec.model_validate({**WORLD, **extra})


def explore(s: ExploreSpec, execute, seed: int = 11, **kw: object):
    return Explorer(s, execute, seed=seed, **kw).run()  # type: ignore[arg-type]


def test_explorer_finds_the_planted_bug_and_shrinks_it_to_the_known_minimum():
    s = spec(budget={"schedules": 200}, rounds={"min": 2, "max": 4}, shrink={"runs": 400})
    result = explore(s, stale_failover)
    assert [f.checkers for f in result.findings] == [("no-regression",)]
    minimal = result.findings[0].shrink.minimal
    assert [describe(m) for m in minimal.moves] == [
        f"push app {minimal.moves[0].tags[0]}", "kill leader",  # type: ignore[union-attr]
        f"push app {minimal.moves[2].tags[0]}", "kill leader"]  # type: ignore[union-attr]
    assert minimal.variant.name == "ha-emptydir"
    assert result.findings[0].shrink.one_minimal
    assert len(result.findings[0].original.moves) > len(minimal.moves)


def test_every_move_of_the_minimum_is_needed():
    """1-minimal: removing any single move makes the planted bug disappear."""
    s = spec(budget={"schedules": 200}, rounds={"min": 2, "max": 4}, shrink={"runs": 400})
    minimal = explore(s, stale_failover).findings[0].shrink.minimal
    for i in range(len(minimal.moves)):
        fewer = minimal.with_moves(minimal.moves[:i] + minimal.moves[i + 1:])
        scenario, variant = compile_schedule(s, fewer)
        assert stale_failover(scenario, variant, "t").verdicts["no-regression"] == "true"


def test_a_flaky_failure_one_in_three_is_not_a_finding():
    flaky = FlakyLeaseDelete()
    s = spec(budget={"schedules": 60}, faults={"lease-delete": 1.0})
    result = explore(s, flaky)
    assert result.findings == []
    assert result.flaky >= 1  # it did fail once, and was re-run, not believed


def test_a_real_failure_is_confirmed_in_k_of_r():
    decided = judge(lambda i: True, 3, 3, first=True)
    assert (decided.failing, decided.runs) == (True, 3)
    one_in_three = judge(lambda i: i % 3 == 0, 3, 3, first=True)
    assert (one_in_three.failing, one_in_three.runs) == (False, 2)  # stops once 3 of 3 is out of reach


def test_plan_separates_measured_rates():
    p = plan(1.0, 1 / 3)
    assert p.accepts(1.0) >= 0.9 and p.accepts(1 / 3) <= 0.1
    assert (p.k, p.r) == (3, 3)
    with pytest.raises(ValueError, match="expected 0 <= p_flake < p_fail"):
        plan(0.3, 0.5)


def test_the_emitted_suite_replays_to_the_same_verdict(tmp_path):
    s = spec(budget={"schedules": 200}, rounds={"min": 2, "max": 4}, shrink={"runs": 400})
    result = explore(s, stale_failover)
    finding = result.findings[0]
    path = tmp_path / "finding.yaml"
    path.write_text(suite_yaml(s, finding, seed=11))
    suite = load_suite(path)
    (scenario,) = suite.scenarios
    assert scenario.variants == ["ha-emptydir"]
    from pytest_fluxchaos.variants import resolve
    outcome = stale_failover(scenario, resolve("ha-emptydir"), "replay")
    assert outcome.verdicts == finding.minimal_trial.outcome.verdicts  # type: ignore[union-attr]
    assert scenario.expected("ha-emptydir")["no-regression"] is False
    text = path.read_text()
    assert f"Original schedule: {len(finding.original.moves)} moves; shrunk: 4 moves" in text
    paragraph = upstream_summary(s, finding, seed=11)
    assert "no-regression" in paragraph and "kill leader" in paragraph
    assert paragraph.startswith("With image-reflector-controller planted (planted-rule) (Flux 2.9.4), deployment ha-emptydir")
    assert "Expected: No policy moves back to an older tag" in paragraph  # each expectation a sentence
    assert "reconcile request" not in paragraph  # no webhook in this world
    hooked = upstream_summary(spec(webhook=True), finding, seed=11)
    assert "the next step waits until the scan and the policies have handled it" in hooked


def test_schedules_are_a_pure_function_of_the_seed():
    s = spec(rounds={"min": 1, "max": 4})
    a = [generate(s, schedule_seed(5, i), {"ha-emptydir": 2}) for i in range(20)]
    b = [generate(s, schedule_seed(5, i), {"ha-emptydir": 2}) for i in range(20)]
    assert a == b
    assert len({x.moves for x in a}) > 15


def test_every_generated_schedule_is_a_valid_scenario():
    s = spec(rounds={"min": 1, "max": 6}, axes={"replicas": [1, 2, 3], "memory": ["1Gi", "2Gi"],
                                                 "leader-election": ["default", "fast"]},
             faults={"oom-kill": 1, "kill": 1, "pod-delete": 1, "lease-delete": 1, "registry-outage": 1})
    for i in range(300):
        schedule = generate(s, schedule_seed(3, i))
        scenario, variant = compile_schedule(s, schedule)
        from pytest_fluxchaos.scenario import Scenario
        Scenario.model_validate(scenario.model_dump(by_alias=True))  # survives a YAML round trip
        assert isinstance(schedule.moves[0], Push)
        assert all(not (isinstance(m, Inject) and m.target in ("standby", "pod-1")) or (variant.replicas or 1) >= 2
                   for m in schedule.moves)


def test_xdist_workers_explore_disjoint_slices_of_one_seed_space():
    s = spec(budget={"schedules": 10})
    seen: list[list[int]] = []
    for worker in range(2):
        runs: list[int] = []

        def record(scenario, variant, label, runs=runs):
            runs.append(scenario.seed)
            return stale_failover(scenario, variant, label)
        Explorer(s, record, seed=4, worker=worker, workers=2, max_schedules=5).run()
        seen.append(runs)
    whole: list[int] = []
    Explorer(s, lambda sc, v, label: (whole.append(sc.seed), stale_failover(sc, v, label))[1], seed=4,
             max_schedules=10).run()
    assert seen[0] and seen[1] and not set(seen[0]) & set(seen[1])
    assert set(seen[0]) | set(seen[1]) == set(whole)


def test_the_shrinker_stops_at_its_budget_and_says_so():
    s = spec(budget={"schedules": 200}, rounds={"min": 4, "max": 4}, shrink={"runs": 3})
    finding = explore(s, stale_failover).findings[0]
    assert finding.shrink.exhausted and not finding.shrink.one_minimal
    assert finding.shrink.runs <= 3 + 2  # the last judged candidate may take its k runs


def test_a_shrink_stopped_by_its_budget_keeps_the_smallest_failing_schedule_so_far():
    """Seen on the real controller: 15 -> 7 moves accepted, then the budget ran out, and the
    finding reported all 15 moves."""
    from pytest_fluxchaos.explore.shrink import Shrinker

    s = spec(rounds={"min": 4, "max": 4})
    original = next(sch for i in range(200) if len((sch := generate(s, schedule_seed(4, i), {"ha-emptydir": 2})).moves)
                    > 8 and not _passes(s, sch))

    def fails(candidate):
        scenario, variant = compile_schedule(s, candidate)
        return stale_failover(scenario, variant, "t").verdicts["no-regression"] == "false", 1

    full = Shrinker(s, fails, max_runs=1000).shrink(original)
    for budget in range(1, full.runs):
        cut = Shrinker(s, fails, max_runs=budget).shrink(original)
        assert cut.exhausted and fails(cut.minimal)[0]  # always a failing schedule
        accepted = [st for st in cut.path if st.failing]
        if accepted:
            assert len(cut.minimal.moves) < len(original.moves) or cut.minimal != original
            assert cut.minimal == accepted[-1].schedule  # the last accepted candidate


def _passes(s, schedule):
    scenario, variant = compile_schedule(s, schedule)
    return stale_failover(scenario, variant, "t").verdicts["no-regression"] == "true"


def test_time_budget_ends_the_exploration():
    ticks = iter(range(0, 10_000, 7))
    s = spec(budget={"schedules": None, "time": "60s"})
    result = Explorer(s, stale_failover, seed=1, clock=lambda: float(next(ticks))).run()
    assert 0 < result.schedules < 20


def test_weaker_fault_replaces_oom_kill_when_the_bug_still_shows():
    s = spec()
    schedule = Schedule(VariantPick("ha-emptydir"), (
        Push("app", ("1.0.0", "1.1.0")), Wait("converged"), Inject("oom-kill", "leader", keep_down=True),
        Push("app", ("1.2.0",)), Wait("pods-running"), Inject("oom-kill", "leader", keep_down=True)), seed=1)
    from pytest_fluxchaos.explore.shrink import Shrinker

    def fails(candidate):
        scenario, variant = compile_schedule(s, candidate)
        return stale_failover(scenario, variant, "t").verdicts["no-regression"] == "false", 1
    result = Shrinker(s, fails, max_runs=200).shrink(schedule)
    assert [describe(m) for m in result.minimal.moves] == [
        "push app 1.1.0", "kill leader", "push app 1.2.0", "kill leader"]
    assert any(
        "oom-kill -> kill" in step.why and step.failing for step in result.path)
    assert result.one_minimal and not result.exhausted


def test_what_counts_as_a_failing_run():
    from pytest_fluxchaos.explore import Outcome, failing_checkers
    ok = {"no-regression": "true", "converges": "true"}
    assert failing_checkers(Outcome(ok), {}) == ()
    assert failing_checkers(Outcome(ok | {"converges": "false"}), {}) == ("converges",)
    assert failing_checkers(Outcome(ok | {"converges": "unknown"}), {}) == ("converges",)
    assert failing_checkers(Outcome(ok | {"converges": "unknown"}), {"converges": "any"}) == ()
    assert failing_checkers(Outcome(ok | {"converges": "unknown"}), {"converges": "unknown"}) == ()
    assert failing_checkers(Outcome(ok | {"no-regression": "false"}), {"no-regression": False}) == ()
    assert failing_checkers(Outcome(ok | {"converges": "false"}, error="backend broke"), {}) == ()
    # A false verdict is the finding; an unknown beside it (a policy never observed) is not.
    never_resolved = {"no-regression": "unknown", "converges": "false", "faults-landed": "unknown"}
    assert failing_checkers(Outcome(never_resolved), {}) == ("converges",)
    assert failing_checkers(Outcome({"no-regression": "unknown", "faults-landed": "unknown"}), {}) == (
        "no-regression", "faults-landed")


def test_a_fault_the_variant_cannot_take_is_no_scenario():
    from pytest_fluxchaos.explore import InvalidSchedule
    s = spec()
    for target in ("standby", "pod-1"):
        with pytest.raises(InvalidSchedule, match="one replica"):
            compile_schedule(s, Schedule(VariantPick("single"), (Push("app", ("1.0.0",)), Inject("kill", target)), 1))
    with pytest.raises(InvalidSchedule, match="no push"):
        compile_schedule(s, Schedule(VariantPick("ha-emptydir"), (Inject("kill", "leader"),), 1))
    scenario, _ = compile_schedule(s, Schedule(VariantPick("ha-emptydir"), (Push("app", ("1.0.0",)),
                                                                            Inject("kill", "standby")), 1))
    assert scenario.steps[1].fault is not None and scenario.steps[1].fault.target == "standby"


def test_a_parallel_shrink_reaches_the_sequential_minimum():
    import threading
    import time

    from pytest_fluxchaos.explore.shrink import Shrinker
    s = spec()
    schedule = Schedule(VariantPick("ha-emptydir"), (
        Push("app", ("1.0.0", "1.1.0")), Wait("converged"), Inject("pod-delete", "standby"),
        Inject("oom-kill", "leader", keep_down=True), Wait("delay", 4.0), Push("app", ("1.2.0",)),
        Wait("pods-running"), Inject("oom-kill", "leader", keep_down=True), Push("app", ("1.3.0",))), seed=1)
    concurrent, peak = [0], [0]
    guard = threading.Lock()

    def fails(candidate):
        with guard:
            concurrent[0] += 1
            peak[0] = max(peak[0], concurrent[0])
        time.sleep(0.01)  # a run takes time; lets the other thread's run overlap
        with guard:
            concurrent[0] -= 1
        scenario, variant = compile_schedule(s, candidate)
        return stale_failover(scenario, variant, "t").verdicts["no-regression"] == "false", 1

    sequential = Shrinker(s, fails, max_runs=500).shrink(schedule)
    parallel = Shrinker(s, fails, max_runs=500, parallel=3).shrink(schedule)
    assert parallel.minimal == sequential.minimal and parallel.one_minimal
    assert [describe(m) for m in parallel.minimal.moves] == [
        "push app 1.1.0", "kill leader", "push app 1.2.0", "kill leader"]
    assert peak[0] >= 2


def test_until_found_stops_at_the_first_confirmed_finding_and_only_then():
    s = spec(budget={"schedules": 200, "until-found": True}, rounds={"min": 2, "max": 4}, shrink={"runs": 400},
             **{"expect-findings": ["no-regression"]})
    stopped = explore(s, stale_failover)
    assert [f.checkers[0] for f in stopped.findings] == ["no-regression"]
    first = next(i for i, t in enumerate(stopped.trials) if t.phase == "explore" and t.failing)
    assert stopped.schedules == first + 1  # nothing explored after the schedule that found it
    full = explore(spec(budget={"schedules": 200}, rounds={"min": 2, "max": 4}, shrink={"runs": 400},
                        **{"expect-findings": ["no-regression"]}), stale_failover)
    assert full.schedules == 200
    # Without expect-findings there is nothing to be found: the budget decides.
    assert explore(spec(budget={"schedules": 30, "until-found": True}), stale_failover).schedules == 30


def test_until_found_spends_no_runs_on_failures_that_finish_after_the_finding():
    """Two schedules in flight both fail; once the first is confirmed and shrunk, the
    second is not confirmed or shrunk again (seen on the real controller: 5 runs wasted)."""
    import threading

    from pytest_fluxchaos.explore import Outcome
    from tests.fakes.planted import ALL_TRUE

    both_started = threading.Barrier(2)

    def any_fault_fails(scenario, variant, label):
        if label == "explore":
            both_started.wait(timeout=5)  # the two explored schedules run at the same time
        kinds = [st.fault.kind for st in scenario.steps if st.fault]
        return Outcome(verdicts=dict(ALL_TRUE, **({"no-regression": "false"} if kinds else {})))

    s = spec(budget={"schedules": 2, "until-found": True}, rounds={"min": 2, "max": 2}, shrink={"runs": 40},
             parallel=2, confirm={"k": 1, "r": 1}, **{"expect-findings": ["no-regression"]})
    result = explore(s, any_fault_fails)
    assert result.schedules == 2 and len(result.findings) == 1
    extra = [t for t in result.trials if t.phase != "explore"]
    assert len(extra) == result.findings[0].runs  # the one finding's runs, nothing for the second
    assert result.duplicates == 1


def _wait_before_first_kill(schedule: Schedule) -> bool:
    for move in schedule.moves:
        if isinstance(move, Inject) and move.kind in ("kill", "oom-kill"):
            return False
        if isinstance(move, Wait) and move.until == "converged":
            return True
    return False


def test_a_shrunk_schedule_that_holds_up_in_verification_is_published_as_is():
    s = spec(budget={"schedules": 200}, rounds={"min": 2, "max": 4}, shrink={"runs": 400})
    finding = explore(s, stale_failover).findings[0]
    (check,) = finding.shrink.verifications
    assert (check.failing, check.runs, check.failures) == (True, 4, 4)  # 4 of 5: stops at the 4th failure
    assert check.schedule == finding.shrink.minimal and len(finding.shrink.minimal.moves) == 4
    assert finding.minimal_trial is not None and finding.minimal_trial.phase == "verify"


def test_verification_bisects_the_shrink_path_to_the_smallest_schedule_that_still_fails():
    """The shrink (its runs "loaded") drops the wait the bug needs; verification does not
    believe it and keeps the last schedule of the path that still waits."""
    s = spec(budget={"schedules": 200}, rounds={"min": 2, "max": 4}, settle=1.0,
             shrink={"runs": 400, "fallbacks": 10})
    finding = explore(s, load_dependent).findings[0]
    shrink = finding.shrink
    assert _wait_before_first_kill(finding.original)
    assert not _wait_before_first_kill(shrink.kept[-1])  # what the shrink alone would publish
    assert _wait_before_first_kill(shrink.minimal) and shrink.minimal in shrink.kept
    assert shrink.verifications[0].schedule == shrink.kept[-1] and not shrink.verifications[0].failing
    assert all(v.failing == _wait_before_first_kill(v.schedule) for v in shrink.verifications)
    later = shrink.kept[shrink.kept.index(shrink.minimal) + 1]
    assert not _wait_before_first_kill(later)  # the very next cut dropped the wait: the smallest that holds
    assert not shrink.one_minimal
    assert finding.minimal_trial is not None and finding.minimal_trial.schedule == shrink.minimal
    assert len(shrink.verifications) <= 1 + 10


def test_when_no_shrunk_schedule_holds_up_the_original_is_published(tmp_path):
    s = spec(budget={"schedules": 200}, rounds={"min": 2, "max": 4}, shrink={"runs": 400, "fallbacks": 2})
    finding = explore(s, never_in_verification).findings[0]
    assert finding.shrink.minimal == finding.original and not finding.shrink.one_minimal
    assert len(finding.shrink.verifications) == 3 and not any(v.failing for v in finding.shrink.verifications)
    text = suite_yaml(s, finding, seed=11)
    assert "No shrunk schedule held up: this is the original, confirmed schedule." in text


def test_the_webhook_follows_every_push_and_deletion_with_a_reconcile_and_is_never_cut_off():
    """The webhook's request is handled before the next move: the scan, then the policy's
    resolution from it (a fault right after the scan left the policy unresolved when a
    shrunk schedule was replayed alone)."""
    from pytest_fluxchaos.explore.schedule import Delete
    moves = (Push("app", ("1.0.0", "1.1.0")), Delete("app", ("1.1.0",)), Inject("kill", "leader"))
    schedule = Schedule(VariantPick("ha-emptydir"), moves, seed=1)
    hooked, _ = compile_schedule(spec(webhook=True), schedule)
    kinds = [("push" if st.push else "delete" if st.delete else "reconcile" if st.reconcile
              else "scanned" if st.after and st.after.scan else "resolved" if st.after and st.after.policy
              else "fault") for st in hooked.steps]
    assert kinds == ["push", "reconcile", "scanned", "resolved", "delete", "reconcile", "scanned", "resolved",
                     "fault"]
    assert all(st.reconcile.repository == "app" for st in hooked.steps if st.reconcile)
    waits = [st.after for st in hooked.steps if st.after]
    assert [(w.scan, w.contains, w.optional, w.timeout) for w in waits if w.scan] == [
        ("app", "1.1.0", True, 90.0), ("app", None, True, 90.0)]  # the last tag pushed; any scan after a delete
    assert [(w.policy, w.tag, w.optional) for w in waits if w.policy] == [
        ("app-semver", "1.1.0", True), ("app-semver", "1.0.0", True)]  # the newest tag still present
    plain, _ = compile_schedule(spec(), schedule)
    assert not any(st.reconcile or st.after for st in plain.steps)
