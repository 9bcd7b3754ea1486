"""The nemesis against a simulation that can lie: a fault that did not land, or cannot be
shown to have landed, must make faults-landed *unknown*, never true."""

from __future__ import annotations

import pytest

from pytest_fluxchaos.checkers import CheckContext, FaultsLanded, Validity
from pytest_fluxchaos.history import Fault
from pytest_fluxchaos.scenario import FaultAction

from .conftest import Sim


def landed(sim: Sim) -> Validity:
    return FaultsLanded().check(sim.history, CheckContext(policies=())).valid


def confirm_of(sim: Sim) -> Fault:
    return next(e for e in sim.history.of(Fault) if e.phase == "confirm")


def test_a_kernel_oom_kill_is_confirmed(sim: Sim) -> None:
    leader = sim.env.leader(sim.ns)
    fault = sim.nemesis.inject(FaultAction(kind="oom-kill", target="leader", confirm_timeout=3))
    assert fault.resolved == leader
    confirm = confirm_of(sim)
    assert (confirm.outcome, confirm.detail["oom_confirmed_by"]) == ("ok", "runtime")
    assert sim.env.helper_calls[0][2]["TARGET_PID"].isdigit()
    assert landed(sim) is Validity.TRUE


@pytest.mark.parametrize("behaviour, why", [
    ("sigkill", "did not report an OOM kill"),
    ("no-restart", "no restart"),
    ("same-container", "same container"),
    ("exit-1", "exit code 1, not 137"),
    ("hog-first", "killed the memory hog"),
])
def test_an_oom_that_cannot_be_shown_is_unknown(sim: Sim, behaviour: str, why: str) -> None:
    sim.env.oom_behaviour = behaviour
    sim.nemesis.inject(FaultAction(kind="oom-kill", target="leader", confirm_timeout=1))
    confirm = confirm_of(sim)
    assert confirm.outcome == "unconfirmed"
    assert why in confirm.detail["why"]
    assert landed(sim) is Validity.UNKNOWN


def test_runtime_missed_event_is_confirmed_by_the_counter(sim: Sim) -> None:
    sim.env.oom_behaviour = "runtime-missed"
    sim.nemesis.inject(FaultAction(kind="oom-kill", target="leader", confirm_timeout=3))
    assert confirm_of(sim).detail["oom_confirmed_by"] == "cgroup-counter"
    assert landed(sim) is Validity.TRUE


def test_a_helper_that_died_half_way_gets_its_hog_reaped(sim: Sim) -> None:
    sim.env.oom_behaviour = "helper-died"
    sim.nemesis.inject(FaultAction(kind="oom-kill", target="leader", confirm_timeout=1))
    assert sim.env.reaped == [424242]
    assert landed(sim) is Validity.UNKNOWN


def test_a_backend_error_is_a_failed_injection(sim: Sim) -> None:
    def broken(*_a: object, **_k: object) -> object:
        raise RuntimeError("docker went away")

    sim.env.container_process = broken  # type: ignore[method-assign]
    sim.nemesis.inject(FaultAction(kind="oom-kill", target="leader", confirm_timeout=1))
    confirm = confirm_of(sim)
    assert (confirm.outcome, confirm.detail["why"]) == ("failed", "RuntimeError: docker went away")
    assert landed(sim) is Validity.UNKNOWN


def test_missing_target_is_a_failed_fault(single: Sim) -> None:
    single.nemesis.inject(FaultAction(kind="kill", target="standby"))
    confirm = confirm_of(single)
    assert confirm.outcome == "failed"
    assert confirm.detail == {"error": "no standby pod (only one replica)"}
    assert landed(single) is Validity.UNKNOWN


def test_kill_and_pod_delete_and_lease_delete_land(sim: Sim) -> None:
    for kind in ("kill", "pod-delete", "lease-delete"):
        sim.nemesis.inject(FaultAction(kind=kind, target="leader", confirm_timeout=3))
    outcomes = [e.outcome for e in sim.history.of(Fault) if e.phase == "confirm"]
    assert outcomes == ["ok", "ok", "ok"]
    assert landed(sim) is Validity.TRUE


def test_keep_down_freezes_until_the_other_pod_leads_then_thaws(sim: Sim) -> None:
    leader = sim.env.leader(sim.ns)
    freezes: list[tuple[str, bool]] = []
    real = sim.env.freeze

    def spy(ns: str, pod: str, frozen: bool) -> str:
        freezes.append((pod, frozen))
        return real(ns, pod, frozen)

    sim.env.freeze = spy  # type: ignore[method-assign]
    sim.nemesis.inject(FaultAction(kind="oom-kill", target="leader", keep_down=True, confirm_timeout=3,
                                   keep_down_timeout=5))
    heal = next(e for e in sim.history.of(Fault) if e.phase == "heal")
    assert freezes == [(leader, True), (leader, False)]
    keep = heal.detail["keep_down"]
    assert keep["applied"] is True and keep["new_leader"] not in (None, leader)
    assert sim.env.leader(sim.ns) != leader


def test_keep_down_retries_a_freeze_that_fails_once(sim: Sim) -> None:
    from pytest_fluxchaos.domain import BackendError

    leader = sim.env.leader(sim.ns)
    real = sim.env.freeze
    failures = [BackendError("OCI runtime pause failed: unable to freeze: unknown")]

    def flaky(ns: str, pod: str, frozen: bool) -> str:
        if frozen and failures:
            raise failures.pop()
        return real(ns, pod, frozen)

    sim.env.freeze = flaky  # type: ignore[method-assign]
    sim.nemesis.inject(FaultAction(kind="oom-kill", target="leader", keep_down=True, confirm_timeout=3,
                                   keep_down_timeout=5))
    heal = next(e for e in sim.history.of(Fault) if e.phase == "heal")
    assert not failures and heal.detail["keep_down"]["applied"] is True
    assert sim.env.leader(sim.ns) != leader


def test_keep_down_does_nothing_with_one_replica(single: Sim) -> None:
    single.nemesis.inject(FaultAction(kind="kill", target="leader", keep_down=True, confirm_timeout=3))
    heal = next(e for e in single.history.of(Fault) if e.phase == "heal")
    assert heal.detail["keep_down"] == {"applied": False, "why": "single replica: no other pod can lead"}


def test_registry_outage_heals_after_its_duration_and_an_ignored_stop_is_unknown(sim: Sim) -> None:
    fault = sim.nemesis.inject(FaultAction(kind="registry-outage", duration=0.2, confirm_timeout=1))
    assert not sim.env.registry_reachable()
    assert fault.heal_at is not None and not fault.healed
    sim.nemesis.heal_all()
    assert sim.env.registry_reachable() and fault.healed
    heal = next(e for e in sim.history.of(Fault) if e.phase == "heal")
    assert (heal.outcome, heal.detail["reachable"]) == ("ok", True)

    sim.env.registry_ignores_stop = True
    sim.nemesis.inject(FaultAction(kind="registry-outage", duration=0.2, confirm_timeout=0.5))
    assert [e.outcome for e in sim.history.of(Fault) if e.phase == "confirm"] == ["ok", "unconfirmed"]
    assert landed(sim) is Validity.UNKNOWN


def test_registry_latency_lands_on_the_proxy_heals_and_a_proxy_that_ignores_it_is_unknown(sim: Sim) -> None:
    action = FaultAction(kind="registry-latency", duration=0.2, confirm_timeout=1, latency="1s")  # type: ignore[call-arg]
    fault = sim.nemesis.inject(action)
    assert [t.name for t in sim.env.registry_proxy().toxics] == ["fluxchaos-registry-latency"]
    confirm = confirm_of(sim)
    assert (confirm.outcome, confirm.detail["toxic_active"], confirm.detail["added_s"]) == ("ok", True, 1.0)
    assert confirm.detail["evidence"]["latency_ms"] == 1000
    assert landed(sim) is Validity.TRUE
    sim.nemesis.heal_all()
    assert fault.healed and sim.env.registry_proxy().toxics == ()
    heal = next(e for e in sim.history.of(Fault) if e.phase == "heal")
    assert (heal.outcome, heal.detail["toxic_active"]) == ("ok", False)

    sim.env.proxy_ignores_toxics = True  # listed, but requests are not slower
    sim.nemesis.inject(action)
    assert [e.outcome for e in sim.history.of(Fault) if e.phase == "confirm"] == ["ok", "unconfirmed"]
    assert landed(sim) is Validity.UNKNOWN
    sim.nemesis.heal_all()
    assert sim.env.registry_proxy().toxics == ()


def test_git_outage_heals_after_its_duration_and_an_ignored_stop_is_unknown(sim: Sim) -> None:
    fault = sim.nemesis.inject(FaultAction(kind="git-outage", duration=0.2, confirm_timeout=1))
    assert not sim.env.git_reachable()
    assert fault.heal_at is not None and not fault.healed
    sim.nemesis.heal_all()
    assert sim.env.git_reachable() and fault.healed
    heal = next(e for e in sim.history.of(Fault) if e.phase == "heal")
    assert (heal.outcome, heal.detail["reachable"]) == ("ok", True)

    sim.env.git_ignores_stop = True
    sim.nemesis.inject(FaultAction(kind="git-outage", duration=0.2, confirm_timeout=0.5))
    assert [e.outcome for e in sim.history.of(Fault) if e.phase == "confirm"] == ["ok", "unconfirmed"]
    assert landed(sim) is Validity.UNKNOWN


def test_leader_means_a_live_pod_after_a_pod_deletion(sim: Sim) -> None:
    """Found by exploring the simulation: right after the leader's pod is deleted the Lease
    still names it; a second leader fault must wait for a live leader, not fail on a ghost."""
    old = sim.env.leader(sim.ns)
    sim.nemesis.inject(FaultAction(kind="pod-delete", target="leader", confirm_timeout=3))
    assert sim.env.leader(sim.ns) == old and old not in {p.name for p in sim.env.pods(sim.ns)}
    fault = sim.nemesis.inject(FaultAction(kind="kill", target="leader", confirm_timeout=5))
    assert fault.resolved != old and fault.resolved in {p.name for p in sim.env.pods(sim.ns)}
    assert landed(sim) is Validity.TRUE


def test_a_ghost_leader_that_never_goes_is_a_failed_fault_naming_it(sim: Sim) -> None:
    old = sim.env.leader(sim.ns)
    with sim.env._lock:  # every pod frozen: nobody can take the Lease over
        for pod in sim.env.namespaces[sim.ns].pods:
            pod.frozen = True
    sim.env.delete_pod(sim.ns, old)
    with sim.env._lock:
        for pod in sim.env.namespaces[sim.ns].pods:
            pod.frozen = True
    sim.nemesis.inject(FaultAction(kind="kill", target="leader", confirm_timeout=0.5))
    confirm = confirm_of(sim)
    assert confirm.outcome == "failed"
    assert f"names {old}, which is no current pod" in confirm.detail["error"]


def test_a_second_registry_fault_waits_for_the_first_to_end_and_both_are_confirmed(sim: Sim) -> None:
    first = sim.nemesis.inject(FaultAction(kind="registry-outage", duration=0.3, confirm_timeout=1))
    second = sim.nemesis.inject(FaultAction(kind="registry-outage", duration=0.2, confirm_timeout=1))
    assert first.healed and not second.healed and not sim.env.registry_reachable()
    events = [(e.fault_id, e.phase) for e in sim.history.of(Fault)]
    assert events.index((first.fault_id, "heal")) < events.index((second.fault_id, "inject"))
    inject = next(e for e in sim.history.of(Fault) if e.phase == "inject" and e.fault_id == second.fault_id)
    assert inject.detail["after_healing"] == [first.fault_id]
    assert [e.outcome for e in sim.history.of(Fault) if e.phase == "confirm"] == ["ok", "ok"]
    sim.nemesis.heal_all()
    assert landed(sim) is Validity.TRUE
