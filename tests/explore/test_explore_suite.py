"""The ``explore:`` section of a suite: loads, and every mistake is one line naming file:line."""

from __future__ import annotations

import textwrap

import pytest

from pytest_fluxchaos.suite import SuiteError, load_suite

WORLD = """
explore:
  name: ex
  images:
    - name: app
      tags: {semver: {start: 1.0.0}}
  repositories:
    - {name: app, image: app, interval: 5m}
  policies:
    - {name: p, repository: app, policy: {semver: {range: ">=1.0.0"}}}
"""


def load(tmp_path, extra: str = "", world: str = WORLD):
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent(world) + textwrap.indent(textwrap.dedent(extra), "  "))
    return load_suite(path)


def test_an_explore_only_suite_loads_with_defaults(tmp_path):
    suite = load(tmp_path)
    assert suite.scenarios == [] and suite.explore is not None
    spec = suite.explore
    assert spec.variant_names() == ["single", "ha-emptydir"]
    assert (spec.confirm.k, spec.confirm.r) == (3, 3)
    assert spec.base().steps == []


@pytest.mark.parametrize(("extra", "message"), [
    ("faults: {oom-kil: 1}\n", "unknown fault kind 'oom-kil'"),
    ("variants: [single, ha-empty]\n", "unknown variant 'ha-empty'"),
    ("rounds: {min: 5, max: 2}\n", "expected min <= max"),
    ("durations: {min: 30s, max: 5s}\n", "expected 0 <= min <= max"),
    ("confirm: {k: 4, r: 3}\n", "k (4) must not exceed r (3)"),
    ("expect-findings: [no-regresion]\n", "unknown checker 'no-regresion'"),
    ("variants: [single]\naxes: {replicas: [1]}\n", "either variants (names) or axes"),
    ("faults: {git-outage: 1}\n", "git-outage needs an automation: section"),
    ("keep-down: 2\n", "keep-down"),
    ("targets: {leader: -1}\n", "targets.leader"),
    ("budget: {schedules: 0}\n", "budget.schedules"),
    ("axes: {memory: [lots]}\n", "axes.memory"),
    ("roundz: {min: 1, max: 2}\n", "unknown key"),
])
def test_mistakes_are_one_line_with_file_and_line(tmp_path, extra, message):
    with pytest.raises(SuiteError) as info:
        load(tmp_path, extra)
    text = str(info.value)
    assert message in text, text
    assert all(line.startswith(str(tmp_path / "s.yaml") + ":") for line in text.splitlines())
    assert "Traceback" not in text


def test_an_image_without_tags_cannot_be_explored(tmp_path):
    world = WORLD.replace("      tags: {semver: {start: 1.0.0}}\n", "")
    with pytest.raises(SuiteError, match="needs a tag sequence to push from"):
        load(tmp_path, world=world)


def test_a_suite_needs_scenarios_or_explore(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("suite: empty\n")
    with pytest.raises(SuiteError, match="expected a 'scenarios' list or an 'explore' section"):
        load_suite(path)


def test_a_suite_may_pin_its_exploration_seed():
    from pathlib import Path

    suite = load_suite(Path(__file__).resolve().parents[2] / "suites" / "explore" / "ci-stale-failover.yaml")
    assert suite.explore is not None and suite.explore.seed == 1


def test_the_explore_command_passes_its_options_to_pytest(tmp_path, monkeypatch):
    """``fluxchaos explore`` is a front for pytest: each option becomes its ini/CLI twin."""
    import pytest as pytest_module

    from pytest_fluxchaos.cli import main

    suite = tmp_path / "s.yaml"
    suite.write_text("suite: x\n")
    seen: list[list[str]] = []
    monkeypatch.setattr(pytest_module, "main", lambda args: seen.append(list(args)) or 0)
    assert main(["explore", str(suite), "--seed", "7", "--shrink-runs", "0", "--until-found",
                 "--budget", "45m"]) == 0
    (args,) = seen
    assert {"--fluxchaos-seed=7", "--fluxchaos-explore-shrink-runs=0", "--fluxchaos-explore-until-found",
            "--fluxchaos-explore-budget=45m"} <= set(args)
    assert main(["explore", str(tmp_path / "missing.yaml")]) == 4  # one line, no traceback
