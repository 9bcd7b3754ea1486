"""Python scenarios (the ``fluxchaos`` fixture) are judged like YAML items.

A run whose verdicts differ from the scenario's ``expect`` fails its test with the
story a YAML item tells, unless the test opts out with ``check=False``; the summary
table's result column then says what pytest said, never the opposite.
"""

from __future__ import annotations

import json

import pytest
import yaml

from .sim_suites import FAILOVER

# The simulated flux2#4984: two flips on ha-emptydir regress 1.2.0 -> 1.1.0. Without an
# ``expect`` every checker is expected true, so on ha-emptydir no-regression mismatches.
SCENARIO = yaml.safe_load(FAILOVER)["scenarios"][0]
SCENARIO.pop("expect")
SCENARIO.pop("variants")

TEST_FILE = f"""
import json

SCENARIO = json.loads({json.dumps(json.dumps(SCENARIO))})


def test_never_looks_at_the_verdicts(fluxchaos):
    fluxchaos.run(SCENARIO, variant="ha-emptydir")


def test_opts_out_and_judges_itself(fluxchaos):
    result = fluxchaos.run(SCENARIO, variant="ha-emptydir", check=False)
    assert result.verdicts["no-regression"].valid.value == "false"


def test_as_expected(fluxchaos):
    result = fluxchaos.run(SCENARIO, variant="single")
    assert result.verdicts["no-regression"].valid.value == "true"


def test_its_own_assertion_fails(fluxchaos):
    result = fluxchaos.run(SCENARIO, variant="ha-emptydir")
    assert result.verdicts["no-regression"].valid.value == "true", "regressed"
"""


def _row(out: str, test: str) -> str:
    """The summary table's line of ``test``'s run."""
    rows = [line for line in out.splitlines() if line.startswith(f"{test}[")]
    assert len(rows) == 1, (test, rows, out)
    return rows[0]


def test_python_scenarios_are_judged_like_yaml_items(project: pytest.Pytester) -> None:
    """One inner session, four tests (each inner run takes seconds).

    Kills: dropping the post-call check (an unasserted mismatch passed while the table
    said FAIL); ignoring ``check=False``; the table deciding from the verdicts instead
    of the item's outcome; reporting a mismatch twice when the test failed already.
    """
    project.makepyfile(test_py=TEST_FILE)
    outcome = project.runpytest("test_py.py", "--fluxchaos-backend=memory", "--fluxchaos-seed=7", "-rf")
    outcome.assert_outcomes(passed=2, failed=2)  # no teardown errors on top
    out = outcome.stdout.str()
    assert "Traceback" not in out and "ERROR at teardown" not in out

    # an unasserted mismatch fails the test with the YAML item's story
    outcome.stdout.fnmatch_lines([
        "*_ test_never_looks_at_the_verdicts _*",
        "stale-failover[[]ha-emptydir[]]: no-regression: expected true, got false*",
        "stale-failover[[]ha-emptydir[]] on memory, IRC *",
        "*regressed 1.2.0 -> 1.1.0*",
        "history: *history.jsonl",
        "(fluxchaos.run(..., check=False) leaves the verdicts to the test)",
    ])
    outcome.stdout.fnmatch_lines(["FAILED test_py.py::test_never_looks_at_the_verdicts - Failed: stale-failover*"])
    assert _row(out, "test_never_looks_at_the_verdicts").split()[-1] == "FAIL"

    # check=False: the test judges; the table shows the verdict, not a mismatch, and "pass"
    failed = "\n".join(line for line in out.splitlines() if line.startswith("FAILED"))
    assert "test_opts_out_and_judges_itself" not in failed
    row = _row(out, "test_opts_out_and_judges_itself")
    assert row.split()[-1] == "pass" and "!=" not in row and row.split()[2] == "false", row

    # as expected: pass in pytest and in the table
    row = _row(out, "test_as_expected")
    assert row.split()[-1] == "pass" and "!=" not in row, row

    # the test's own failing assertion is the only report of it
    outcome.stdout.fnmatch_lines(["FAILED test_py.py::test_its_own_assertion_fails - AssertionError: regr*"])
    assert _row(out, "test_its_own_assertion_fails").split()[-1] == "FAIL"


def test_repeated_runs_of_one_scenario_do_not_share_a_namespace(project: pytest.Pytester) -> None:
    """Under a fixed seed the namespace (which also names the registry repositories) was
    (scenario, variant, seed): a second run saw the first one's tags and never converged.

    Kills: dropping the per-run namespace salt in FluxChaosSession.run_one.
    """
    project.makepyfile(test_twice=f"""
        import json

        SCENARIO = json.loads({json.dumps(json.dumps(SCENARIO))})


        def test_twice(fluxchaos):
            first = fluxchaos.run(SCENARIO, variant="single")
            second = fluxchaos.run(SCENARIO, variant="single")
            assert first.namespace != second.namespace
            for result in (first, second):
                assert result.error is None, result.error
                assert result.verdicts["converges"].valid.value == "true"
    """)
    result = project.runpytest("test_twice.py", "--fluxchaos-backend=memory", "--fluxchaos-seed=7")
    result.assert_outcomes(passed=1)
