"""Each fault kind's confirm(before, after, evidence) is pure: decided here, once, for
every backend. These tests pin the rules that separate a kernel OOM kill from a SIGKILL,
a restart from none, a new pod from the old one."""

from __future__ import annotations

import pytest

from pytest_fluxchaos import faults
from pytest_fluxchaos.domain import PodStatus
from pytest_fluxchaos.faults.git_outage import GitOutageEvidence
from pytest_fluxchaos.faults.kill import KillEvidence
from pytest_fluxchaos.faults.lease_delete import LeaseEvidence
from pytest_fluxchaos.faults.oom_helper import HelperReport, parse_report
from pytest_fluxchaos.faults.oom_kill import OomEvidence
from pytest_fluxchaos.faults.pod_delete import PodDeleteEvidence
from pytest_fluxchaos.faults.registry_latency import LatencyAfter, LatencyEvidence
from pytest_fluxchaos.faults.registry_outage import OutageEvidence

BEFORE = PodStatus("ns", "irc-a", "c1", "running", restart_count=0)


def after(**kw: object) -> PodStatus:
    base = dict(namespace="ns", name="irc-a", container_id="c2", state="running", reason="OOMKilled",
                exit_code=137, restart_count=1, oom_killed=True)
    base.update(kw)
    return PodStatus(**base)  # type: ignore[arg-type]


def oom_evidence(**report: object) -> OomEvidence:
    fields = dict(target_gone=True, oom_kill_before=2, oom_kill_after=3, hog_alive=False)
    fields.update(report)
    return OomEvidence("c1", 4242, "host", 0, HelperReport(**fields))  # type: ignore[arg-type]


OOM = faults.get("oom-kill")


def test_oom_confirmed_by_the_runtime_flag() -> None:
    verdict = OOM.confirm(BEFORE, after(), oom_evidence())
    assert (verdict.outcome, verdict.facts["oom_confirmed_by"]) == ("ok", "runtime")


def test_oom_confirmed_by_the_cgroup_counter_when_the_runtime_missed_the_event() -> None:
    verdict = OOM.confirm(BEFORE, after(oom_killed=False, reason="Error"), oom_evidence())
    assert (verdict.outcome, verdict.facts["oom_confirmed_by"]) == ("ok", "cgroup-counter")


@pytest.mark.parametrize("case, pod_after, evidence, why", [
    ("a SIGKILL that looks like an OOM", after(oom_killed=False, reason="Error"),
     oom_evidence(oom_kill_after=2), "did not report an OOM kill"),
    ("no restart", None, oom_evidence(), "no restart"),
    ("restart count did not go up", after(restart_count=0), oom_evidence(), "restart count"),
    ("same container id", after(container_id="c1"), oom_evidence(), "same container"),
    ("exit code not 137", after(exit_code=1), oom_evidence(), "exit code 1, not 137"),
    ("the hog died first", after(), oom_evidence(target_gone=False, error="the hog died before the target"),
     "killed the memory hog"),
    ("counter rose but the controller was not seen to die", after(oom_killed=False, reason="Error"),
     oom_evidence(target_gone=False), "did not report an OOM kill"),
])
def test_oom_unconfirmed(case: str, pod_after: PodStatus | None, evidence: OomEvidence, why: str) -> None:
    verdict = OOM.confirm(BEFORE, pod_after, evidence)
    assert verdict.outcome == "unconfirmed", case
    assert why in (verdict.why or ""), (case, verdict.why)


def test_kill_must_exit_137_without_an_oom_flag() -> None:
    kill = faults.get("kill")
    ev = KillEvidence("KILL", "c1")
    assert kill.confirm(BEFORE, after(oom_killed=False, reason="Error"), ev).outcome == "ok"
    assert kill.confirm(BEFORE, after(oom_killed=True), ev).outcome == "unconfirmed"
    assert kill.confirm(BEFORE, after(oom_killed=False, exit_code=143), ev).why == "exit code 143, not 137"
    assert kill.confirm(BEFORE, None, ev).outcome == "unconfirmed"


def test_pod_delete_needs_the_new_pod_and_not_the_old() -> None:
    pd = faults.get("pod-delete")
    ev = PodDeleteEvidence("irc-a", "irc-c")
    assert pd.confirm(BEFORE, ["irc-b", "irc-c"], ev).outcome == "ok"
    assert pd.confirm(BEFORE, None, ev).outcome == "unconfirmed"
    assert pd.confirm(BEFORE, ["irc-a"], PodDeleteEvidence("irc-a", "irc-a")).outcome == "unconfirmed"


def test_lease_delete_needs_a_holder_before_and_after() -> None:
    ld = faults.get("lease-delete")
    assert ld.confirm("irc-a", "irc-b", LeaseEvidence("irc-a")).outcome == "ok"
    assert ld.confirm("irc-a", None, LeaseEvidence("irc-a")).outcome == "unconfirmed"
    assert ld.confirm(None, "irc-b", LeaseEvidence(None)).outcome == "unconfirmed"


def test_registry_outage_must_be_seen_down() -> None:
    ro = faults.get("registry-outage")
    assert ro.confirm(None, True, OutageEvidence(True)).outcome == "ok"
    assert ro.confirm(None, False, OutageEvidence(True)).why == "registry still answered"
    assert ro.confirm(None, True, OutageEvidence(False)).outcome == "unconfirmed"


LATENCY = LatencyEvidence("fluxchaos-registry-latency", 2000, 0, 0.004)


def test_registry_latency_needs_the_toxic_active_and_a_slower_request() -> None:
    rl = faults.get("registry-latency")
    verdict = rl.confirm(None, LatencyAfter(True, {"latency": 2000}, 2.01), LATENCY)
    assert verdict.outcome == "ok"
    assert (verdict.facts["toxic_active"], verdict.facts["added_s"]) == (True, 2.006)


@pytest.mark.parametrize("case, after_, why", [
    ("the admin API failed", None, "state could not be read"),
    ("the proxy does not list it", LatencyAfter(False, {}, 2.01), "does not list the latency toxic"),
    ("listed but not slower", LatencyAfter(True, {"latency": 2000}, 0.005), "not measurably slower"),
    ("only a little slower", LatencyAfter(True, {"latency": 2000}, 0.9), "wanted at least +1.000s"),
    ("no request got through", LatencyAfter(True, {"latency": 2000}, None, "timed out"), "timed out"),
])
def test_registry_latency_unconfirmed(case: str, after_: LatencyAfter | None, why: str) -> None:
    verdict = faults.get("registry-latency").confirm(None, after_, LATENCY)
    assert verdict.outcome == "unconfirmed", case
    assert why in (verdict.why or ""), (case, verdict.why)


def test_registry_latency_params() -> None:
    from pydantic import ValidationError

    from pytest_fluxchaos.faults.registry_latency import LatencyParams
    from pytest_fluxchaos.scenario import FaultAction

    action = FaultAction(kind="registry-latency", duration=5, latency="1500ms", jitter="100ms")  # type: ignore[call-arg]
    assert action.target == "registry"
    params = action.params
    assert isinstance(params, LatencyParams) and (params.latency, params.jitter) == (1.5, 0.1)
    with pytest.raises(ValidationError, match="registry-latency needs a duration"):
        FaultAction(kind="registry-latency")
    with pytest.raises(ValidationError, match="greater than 0"):
        FaultAction(kind="registry-latency", duration=5, latency=0)  # type: ignore[call-arg]


def test_git_outage_must_be_seen_down() -> None:
    go = faults.get("git-outage")
    assert go.confirm(None, True, GitOutageEvidence(True)).outcome == "ok"
    still = go.confirm(None, False, GitOutageEvidence(True))
    assert (still.outcome, still.why) == ("unconfirmed", "the Git server still answered")
    assert go.confirm(None, True, GitOutageEvidence(False)).outcome == "unconfirmed"


def test_git_endpoint_urls() -> None:
    from pytest_fluxchaos.domain import GitEndpoint

    ep = GitEndpoint(host_url="http://127.0.0.1:4000/git", cluster_url="http://10.213.0.5:8080/git")
    assert ep.repo_url("fleet", host=True) == "http://127.0.0.1:4000/git/fleet.git"
    assert ep.repo_url("fleet", host=False) == "http://10.213.0.5:8080/git/fleet.git"


def test_helper_report_parsing() -> None:
    report = parse_report("noise\nfluxchaos: cgroup_version=1\nfluxchaos: oom_kill_before=\n"
                          "fluxchaos: oom_kill_after=1\nfluxchaos: target_gone=1\nfluxchaos: hog_pid=77\n")
    assert (report.cgroup_version, report.kernel_oom_kills, report.victim, report.hog_pid,
            report.hog_alive) == (1, 1, "controller", 77, None)
    assert parse_report("fluxchaos: target_gone=1").kernel_oom_kills is None


def test_table_is_discovered_and_complete() -> None:
    assert sorted(faults.FAULTS) == ["git-outage", "kill", "lease-delete", "oom-kill", "pod-delete",
                                     "registry-error", "registry-latency", "registry-outage", "registry-slow",
                                     "registry-stale", "registry-truncate"]
    for kind in faults.FAULTS.values():
        assert kind.how and kind.confirmed_by, kind.name
    with pytest.raises(ValueError, match="unknown fault kind 'nope'"):
        faults.get("nope")


def test_schema_reads_the_table() -> None:
    from pydantic import ValidationError

    from pytest_fluxchaos.scenario import FaultAction

    assert FaultAction(kind="registry-outage", duration=5).target == "registry"
    with pytest.raises(ValidationError, match="git-outage needs a duration"):
        FaultAction(kind="git-outage")
    with pytest.raises(ValidationError, match="registry-outage needs a duration"):
        FaultAction(kind="registry-outage")
    with pytest.raises(ValidationError, match="keep-down does not apply to pod-delete"):
        FaultAction(kind="pod-delete", keep_down=True)
    with pytest.raises(ValidationError, match="cannot target the registry"):
        FaultAction(kind="kill", target="registry")
    with pytest.raises(ValidationError, match="registry-outage targets the registry server, not leader"):
        FaultAction(kind="registry-outage", duration=5, target="leader")
    assert FaultAction(kind="git-outage", duration=5).target == "git"
    with pytest.raises(ValidationError, match="git-outage targets the git server, not registry"):
        FaultAction(kind="git-outage", duration=5, target="registry")
    with pytest.raises(ValidationError, match="cannot target the git server"):
        FaultAction(kind="oom-kill", target="git")
    with pytest.raises(ValidationError, match="oom-kill: entries: Extra inputs are not permitted"):
        FaultAction(kind="oom-kill", entries=3)  # type: ignore[call-arg]


def test_design_doc_and_cli_list_every_fault_kind(capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    from pytest_fluxchaos.cli import main

    design = (Path(__file__).parents[2] / "docs" / "design.md").read_text()
    assert main(["faults"]) == 0
    printed = capsys.readouterr().out
    for name in faults.FAULTS:
        assert f"| `{name}` |" in design, f"docs/design.md has no row for fault {name}"
        assert f"{name}  (targets:" in printed
