"""Which controllers ran, from where, and the mixed pair: verdict.json, the story, JUnit, CI line."""

from __future__ import annotations

import json

from pytest_fluxchaos.assets.provenance import IAC, IRC, Controller, ControllerSet
from pytest_fluxchaos.history import History
from pytest_fluxchaos.progress import summary_line
from pytest_fluxchaos.report import FailureReport
from pytest_fluxchaos.runner import RunResult

MIXED = ControllerSet("2.9.4", (
    Controller(IRC, "v1.2.4", "fluxchaos/image-reflector-controller:v1.2.4", "offline-build", "v1.2.4",
               ({"module": "github.com/fluxcd/pkg/artifact", "wanted": "v0.18.2", "used": "v0.18.0"},)),
    Controller(IAC, "v1.1.2", "fluxchaos/image-automation-controller:v1.1.2", "offline-build", "v1.2.4"),
)).as_dict()


def _result() -> RunResult:
    return RunResult(scenario="s", variant="single", namespace="ns", backend="docker", irc_version="v1.2.4",
                     flux_version="2.9.4", seed=1, history=History(), controllers=MIXED)


def test_verdict_json_carries_controllers(tmp_path):
    _result().write_artifacts(tmp_path)
    data = json.loads((tmp_path / "verdict.json").read_text())
    assert data["controllers"]["mixed_pair"] is True
    subs = data["controllers"]["controllers"][IRC]["substitutions"]
    assert subs == [{"module": "github.com/fluxcd/pkg/artifact", "wanted": "v0.18.2", "used": "v0.18.0"}]


def test_story_junit_and_ci_line_say_mixed_pair():
    report = FailureReport.build(_result())
    assert "MIXED pair" in report.render().splitlines()[1]
    props = dict(report.properties())
    assert props["fluxchaos.iac_version"] == "v1.1.2" and props["fluxchaos.mixed_pair"] == "true"
    line = summary_line("x::s[single]", "passed", report.properties())
    assert line is not None and "iac=v1.1.2" in line and "mixed-pair=true" in line


def test_without_iac_nothing_changes():
    r = _result()
    r.controllers = {}
    props = dict(FailureReport.build(r).properties())
    assert "fluxchaos.iac_version" not in props and "fluxchaos.mixed_pair" not in props


def test_a_namespace_without_iac_reports_irc_only():
    from types import SimpleNamespace

    from pytest_fluxchaos.backends.kube_environment import KubeEnvironment

    env = object.__new__(KubeEnvironment)  # no cluster needed: only the bookkeeping is under test
    env.assets = SimpleNamespace(controllers=MIXED)
    env._with_automation = {"with-iac"}
    assert env.controllers("with-iac")["mixed_pair"] is True
    alone = env.controllers("irc-only")
    assert alone["mixed_pair"] is False and list(alone["controllers"]) == [IRC]
    assert alone["controllers"][IRC]["substitutions"]  # the substitutions are still told
