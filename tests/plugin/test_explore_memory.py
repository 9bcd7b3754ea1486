"""An exploration through pytest on the in-memory backend: collection, runs, findings, files.

The simulation regresses on a stale takeover (its planted flux2#4984 mechanism), so a
small exploration of ha-emptydir with kill-like faults finds no-regression. Exactness of
the shrinker and the judge is tested on planted rules in ``tests/explore``; this is the
plumbing: the item, the namespaces, the artifacts, the JUnit properties, the exit status.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from pytest_fluxchaos.suite import load_suite

from .sim_suites import EXPLORE_SMALL


@pytest.fixture
def explore_project(project: pytest.Pytester) -> pytest.Pytester:
    (project.path / "suites" / "explore.yaml").write_text(EXPLORE_SMALL)
    return project


def run(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.runpytest("suites/explore.yaml", "--fluxchaos-backend=memory",
                             f"--fluxchaos-artifacts={project.path / 'out'}", "--junitxml=junit.xml", *args)


def test_an_exploration_finds_the_stale_takeover_and_leaves_a_replayable_suite(explore_project):
    result = run(explore_project, "--fluxchaos-seed=3", "--fluxchaos-explore-schedules=4")
    result.assert_outcomes(passed=1)
    base = explore_project.path / "out" / "suites_explore.yaml_explore_sim-small"
    data = json.loads((base / "exploration.json").read_text())
    assert data["seed"] == 3 and data["schedules"] == 4
    assert [f["checkers"][0] for f in data["findings"]] == ["no-regression"]
    finding = data["findings"][0]
    assert finding["shrink_path"] and len(finding["minimal"]["moves"]) <= len(finding["original"]["moves"])
    namespaces = {json.loads((explore_project.path / t["artifacts"] / "verdict.json").read_text())["namespace"]
                  for t in data["trials"]}
    assert len(namespaces) == len(data["trials"])  # every run in its own namespace
    (folder,) = (base / "findings").iterdir()
    suite = load_suite(next(folder.glob("*.yaml")))
    assert suite.scenarios[0].expected("ha-emptydir")["no-regression"] is False
    assert "no-regression" in (folder / "upstream.md").read_text()
    assert (folder / "report.html").is_file() and (base / "explore.html").is_file()
    props = {p.get("name"): p.get("value") for p in ET.parse(explore_project.path / "junit.xml").iter("property")}
    assert props["fluxchaos-explore.seed"] == "3" and props["fluxchaos-explore.found"] == "no-regression"
    result.stdout.fnmatch_lines(["*explore sim-small: seed 3 (replay: --fluxchaos-seed=3)*"])


def test_until_found_ends_the_exploration_at_its_finding(explore_project):
    result = run(explore_project, "--fluxchaos-seed=3", "--fluxchaos-explore-schedules=12",
                 "--fluxchaos-explore-parallel=1", "--fluxchaos-explore-until-found")
    result.assert_outcomes(passed=1)
    data = json.loads((explore_project.path / "out" / "suites_explore.yaml_explore_sim-small" /
                       "exploration.json").read_text())
    explored = [t for t in data["trials"] if t["phase"] == "explore"]
    assert [f["checkers"][0] for f in data["findings"]] == ["no-regression"]
    assert data["schedules"] == len(explored) < 12 and explored[-1]["failing"]  # the finding was the last one


def test_a_pinned_seed_is_used_unless_the_option_gives_one(explore_project):
    path = explore_project.path / "suites" / "explore.yaml"
    path.write_text(EXPLORE_SMALL.replace("  budget: {schedules: 4}", "  budget: {schedules: 1}\n  seed: 42"))
    result = run(explore_project, "--fluxchaos-explore-shrink-runs=0")
    result.stdout.fnmatch_lines(["*explore sim-small: seed 42 (replay: --fluxchaos-seed=42)*"])
    result = run(explore_project, "--fluxchaos-explore-shrink-runs=0", "--fluxchaos-seed=7")
    result.stdout.fnmatch_lines(["*explore sim-small: seed 7 (replay: --fluxchaos-seed=7)*"])


def test_shrink_runs_zero_reports_the_finding_unshrunk(explore_project):
    result = run(explore_project, "--fluxchaos-seed=3", "--fluxchaos-explore-schedules=4",
                 "--fluxchaos-explore-shrink-runs=0")
    result.assert_outcomes(passed=1)
    data = json.loads((explore_project.path / "out" / "suites_explore.yaml_explore_sim-small" /
                       "exploration.json").read_text())
    (finding,) = data["findings"]
    assert finding["minimal"]["moves"] == finding["original"]["moves"] and finding["budget_reached"]
    assert not [t for t in data["trials"] if t["phase"] == "shrink"]


def test_findings_other_than_expected_fail_the_item_with_the_story(explore_project):
    text = EXPLORE_SMALL.replace("expect-findings: [no-regression]", "expect-findings: []")
    (explore_project.path / "suites" / "explore.yaml").write_text(text)
    result = run(explore_project, "--fluxchaos-seed=3", "--fluxchaos-explore-schedules=4")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*expected findings: none; found: no-regression*", "*replay: *findings*"])


def test_bad_explore_options_are_one_line(explore_project):
    result = run(explore_project, "--fluxchaos-explore-parallel=0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--fluxchaos-explore-parallel: expected an integer >= 1, got '0'*"])


def test_xdist_workers_take_disjoint_slices_of_one_seed(explore_project, monkeypatch):
    """``-n 2``: two items, one per worker, each with its own environment and half the
    schedule indices; together they run exactly the schedules one process would."""
    import os
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]  # workers import this checkout and tests/fakes
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(root), str(root / "tests"),
                                                                   os.environ.get("PYTHONPATH")])))
    text = EXPLORE_SMALL.replace("expect-findings: [no-regression]", "expect-findings: []").replace(
        "expect: {converges: any}", "expect: {converges: any, no-regression: any, never-stuck: any}")
    (explore_project.path / "suites" / "explore.yaml").write_text(text)
    out = explore_project.path / "out"
    result = explore_project.runpytest_subprocess("suites/explore.yaml", "--fluxchaos-backend=memory", "-n", "2",
                                       f"--fluxchaos-artifacts={out}", "--fluxchaos-seed=8",
                                       "--fluxchaos-explore-schedules=2")
    result.assert_outcomes(passed=2)
    seeds = []
    for i in (1, 2):
        data = json.loads((out / f"suites_explore.yaml_explore_sim-small-{i}of2" / "exploration.json").read_text())
        seeds.append({t["schedule"]["seed"] for t in data["trials"] if t["phase"] == "explore"})
    assert all(len(s) == 2 for s in seeds) and not seeds[0] & seeds[1]
    from pytest_fluxchaos.explore import ExploreSpec
    from pytest_fluxchaos.explore.grammar import generate, schedule_seed
    import yaml
    spec = ExploreSpec.model_validate(yaml.safe_load(text)["explore"])
    whole = {generate(spec, schedule_seed(8, i), {"ha-emptydir": 2}).seed for i in range(4)}
    assert seeds[0] | seeds[1] == whole
    merged = json.loads((out / "exploration-sim-small.json").read_text())
    assert merged["slices"] == 2 and merged["schedules"] == 4
    assert {t["slice"] for t in merged["trials"]} == {1, 2}
    assert (out / "explore-sim-small.html").is_file()
    result.stdout.fnmatch_lines(["*fluxchaos explore: every slice on one page: *explore-sim-small.html*"])


def test_merging_slices_keeps_each_finding_once():
    from pytest_fluxchaos.explore.record import merge_explorations
    base = {"explore": "x", "seed": 1, "confirm": {"k": 3, "r": 3}, "errors": 0, "invalid": 0, "flaky": 0,
            "duplicates": 0}
    same = {"signature": "no-regression:abc", "checkers": ["no-regression"]}
    a = {**base, "schedules": 3, "seconds": 100.0, "findings": [{**same, "found_at": 80.0}],
         "trials": [{"index": 0}]}
    b = {**base, "schedules": 2, "seconds": 90.0, "findings": [{**same, "found_at": 30.0},
                                                              {"signature": "converges:def", "found_at": 50.0}],
         "trials": [{"index": 0}, {"index": 1}]}
    merged = merge_explorations([a, b])
    assert (merged["schedules"], merged["seconds"], merged["duplicates"]) == (5, 100.0, 1)
    assert [(f["signature"], f["slice"], f["found_at"]) for f in merged["findings"]] == [
        ("no-regression:abc", 2, 30.0), ("converges:def", 2, 50.0)]
    assert [t["slice"] for t in merged["trials"]] == [1, 2, 2]


def test_the_exploration_page_shows_the_shrink_path():
    from pathlib import Path

    from pytest_fluxchaos.htmlreport.exploration import render_exploration
    data = {"explore": "x", "seed": 4, "seconds": 12.0, "schedules": 3, "errors": 0, "invalid": 1, "flaky": 1,
            "duplicates": 0, "confirm": {"k": 3, "r": 3},
            "findings": [{"checkers": ["no-regression"], "signature": "no-regression:abc",
                          "name": "x-no-regression-abc",
                          "found_at": 5.0, "runs": 7, "one_minimal": True, "budget_reached": False,
                          "minimal_run": "/a/runs/0007-shrink",
                          "original": {"variant": "ha-emptydir", "moves": ["push app 1.0.0", "kill leader", "wait 3s"]},
                          "minimal": {"variant": "ha-emptydir", "moves": ["push app 1.0.0", "kill leader"]},
                          "shrink_path": [{"why": "remove move 3", "failing": True, "runs": 3, "variant": "ha-emptydir",
                                           "moves": ["push app 1.0.0", "kill leader"]},
                                          {"why": "kill -> pod-delete", "failing": False, "runs": 1,
                                           "variant": "ha-emptydir",
                                           "moves": ["push app 1.0.0", "pod-delete <leader>"]}],
                          "verifications": [{"moves": 2, "signature": "abc", "failing": False, "runs": 2,
                                             "failures": 0},
                                            {"moves": 3, "signature": "def", "failing": True, "runs": 4,
                                             "failures": 4}]}],
            "trials": [{"index": 0, "phase": "explore", "schedule": {"variant": "single", "moves": ["push"]},
                        "failing": [], "error": None, "seconds": 2.0, "artifacts": "/a/runs/0001-explore"}]}
    page = render_exploration(data, Path("/a"))
    assert "remove move 3" in page and "still fails" in page and "passes" in page
    assert "pod-delete &lt;leader&gt;" in page  # escaped
    assert 'href="findings/x-no-regression-abc/report.html"' in page and 'href="runs/0001-explore"' in page
    assert "1-minimal" in page and "--fluxchaos-seed=4" in page
    assert "2 moves (abc): failed 0 of 2 further runs: <span class=\"pass\">does not hold up" in page
    assert "3 moves (def): failed 4 of 4 further runs: <span class=\"fail\">holds up" in page
