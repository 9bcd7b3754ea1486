"""End-to-end through pytest on the in-memory backend: items, verdicts, reports.

The simulation regresses like the real controller (per-pod DBs, stale takeover), so
these tests exercise the whole pipeline; evidence about Flux itself comes from the
docker-backend tests.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from .sim_suites import FAILOVER



def test_failover_regresses_on_ha_and_not_on_single(project: pytest.Pytester) -> None:
    artifacts = project.path / "out"
    result = project.runpytest("suites/failover.yaml", "--fluxchaos-backend=memory",
                               f"--fluxchaos-artifacts={artifacts}", "--junitxml=junit.xml",
                               "--fluxchaos-seed=7")
    result.assert_outcomes(passed=2)
    out = result.stdout.str()
    assert "fluxchaos summary" in out
    result.stdout.fnmatch_lines(["*stale-failover[[]ha-emptydir[]]*ha-emptydir*false*pass*"])

    ha = json.loads((artifacts / "suites_failover.yaml_stale-failover_ha-emptydir" /
                     "verdict.json").read_text())
    assert ha["checkers"]["no-regression"]["verdict"] == "false"
    assert ha["checkers"]["faults-landed"]["verdict"] == "true"
    assert ha["seed"] == 7
    assert any("1.2.0" in line and "1.1.0" in line
               for line in ha["checkers"]["no-regression"]["evidence"])
    single = json.loads((artifacts / "suites_failover.yaml_stale-failover_single" /
                         "verdict.json").read_text())
    assert single["checkers"]["no-regression"]["verdict"] == "true"
    history = (artifacts / "suites_failover.yaml_stale-failover_single" / "history.jsonl")
    kinds = {json.loads(line)["kind"] for line in history.read_text().splitlines()}
    assert {"op", "fault", "policy-latest", "lease-holder", "pod-state"} <= kinds

    props = {case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}
             for case in ET.parse(project.path / "junit.xml").iter("testcase")}
    assert props["stale-failover[ha-emptydir]"]["fluxchaos.no-regression"] == "false"
    assert props["stale-failover[single]"]["fluxchaos.no-regression"] == "true"
    assert "fluxchaos.faults_confirmed" in props["stale-failover[ha-emptydir]"]


def test_unexpected_regression_fails_with_a_story(project: pytest.Pytester) -> None:
    suite = FAILOVER.replace("ha-emptydir: {no-regression: false, converges: any}",
                             "single: {no-regression: true}")
    (project.path / "suites" / "failover.yaml").write_text(suite)
    result = project.runpytest("suites/failover.yaml", "--fluxchaos-backend=memory",
                               "--fluxchaos-variants=ha-emptydir")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*no-regression: expected true, got false*",
        "*regressed 1.2.0 -> 1.1.0*",
        "*history: *history.jsonl*",
    ])
    assert "Traceback" not in result.stdout.str()


def test_steady_pushes_converge(project: pytest.Pytester) -> None:
    result = project.runpytest("suites/steady.yaml", "--fluxchaos-backend=memory", "-v")
    result.assert_outcomes(passed=1)


def test_environment_failure_is_one_line_and_artifacts_exist(
        project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLUXCHAOS_SIM_FAIL", "Docker is not running (start dockerd)")
    artifacts = project.path / "out"
    result = project.runpytest("suites/", "--fluxchaos-backend=memory",
                               f"--fluxchaos-artifacts={artifacts}")
    result.assert_outcomes(failed=3)
    verdicts = sorted(artifacts.glob("*/verdict.json"))
    assert len(verdicts) == 3
    data = json.loads(verdicts[0].read_text())
    assert data["error"].endswith("Docker is not running (start dockerd)")
    assert {c["verdict"] for c in data["checkers"].values()} == {"unknown"}
    result.stdout.fnmatch_lines(["*fluxchaos: memory backend (Flux 2.9.4) unavailable: "
                                 "Docker is not running (start dockerd)*"])
    assert "Traceback" not in result.stdout.str()


def test_python_scenario_through_the_fixture(project: pytest.Pytester) -> None:
    project.makepyfile(test_py="""
        def test_restart_storm(fluxchaos):
            result = fluxchaos.run({
                "name": "storm",
                "images": [{"name": "app", "tags": {"semver": {"start": "1.0.0"}}}],
                "repositories": [{"name": "app", "image": "app", "interval": "1s"}],
                "policies": [{"name": "app", "repository": "app",
                              "policy": {"semver": {"range": ">=1.0.0"}}}],
                "steps": [
                    {"push": {"image": "app", "next": 2}},
                    {"after": {"policy": "app", "tag": "1.0.1"}, "fault": {"kind": "kill", "id": "k1"}},
                    {"after": {"fault": "k1"}, "push": {"image": "app", "next": 1}},
                    {"delay": "0.5s", "fault": {"kind": "pod-delete"}},
                ],
                "bounds": {"converge": "5s", "settle": "1s", "timeout": "30s"},
            }, variant="single")
            assert result.verdicts["no-regression"].valid.value == "true"
            assert result.verdicts["faults-landed"].valid.value == "true", result.verdicts["faults-landed"].story
            assert result.verdicts["converges"].valid.value == "true", result.verdicts["converges"].story
    """)
    result = project.runpytest("test_py.py", "--fluxchaos-backend=memory")
    result.assert_outcomes(passed=1)


def test_parallel_variants_share_one_environment(project: pytest.Pytester) -> None:
    import fakes.memory_backend as mb

    before = len(mb.CREATED)
    result = project.runpytest("suites/failover.yaml", "--fluxchaos-backend=memory",
                               "--fluxchaos-parallel", "--fluxchaos-variants=single,ha-emptydir,single-pvc",
                               "--fluxchaos-seed=3")
    result.assert_outcomes(passed=3)
    assert len(mb.CREATED) - before == 1, "variants must share one environment"
    env = mb.CREATED[-1]
    assert env.closed
