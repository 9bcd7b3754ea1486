"""ready-honest through pytest on the in-memory backend: ``bounds.honest`` reaches the
checker, the policy's repository comes from the scenario, and the verdict lands in the
summary table, verdict.json and JUnit like every other checker's."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from .sim_suites import OUTAGE


def test_a_registry_outage_is_ready_honest_false(project: pytest.Pytester) -> None:
    (project.path / "suites" / "outage.yaml").write_text(OUTAGE)
    artifacts = project.path / "out"
    result = project.runpytest("suites/outage.yaml", "--fluxchaos-backend=memory",
                               f"--fluxchaos-artifacts={artifacts}", "--junitxml=junit.xml")
    result.assert_outcomes(passed=1)  # the suite expects the finding
    result.stdout.fnmatch_lines(["*item*variant*regress*converge*stuck*honest*faults*",
                                 "*outage[[]single[]]*single*true*true*true*false*true*pass*"])
    (item,) = [p for p in artifacts.iterdir() if p.is_dir()]
    verdict = json.loads((item / "verdict.json").read_text())["checkers"]["ready-honest"]
    assert verdict["verdict"] == "false" and verdict["expected"] == "false"
    (policy,) = verdict["data"]["policies"].values()
    assert policy["repository"].endswith("/app")
    assert "scan failed: registry unreachable (simulated)" in "\n".join(verdict["evidence"])
    props = {p.get("name"): p.get("value")
             for p in ET.parse(project.path / "junit.xml").iter("property")}
    assert props["fluxchaos.ready-honest"] == "false"


def test_expecting_honesty_fails_the_item_with_the_story(project: pytest.Pytester) -> None:
    (project.path / "suites" / "outage.yaml").write_text(OUTAGE.replace("{ready-honest: false}",
                                                                        "{ready-honest: true}"))
    result = project.runpytest("suites/outage.yaml", "--fluxchaos-backend=memory")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*ready-honest: expected true, got false*",
                                 "*Ready=True at t=*while repository*had failed since*"])
