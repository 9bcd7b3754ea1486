"""Corner cases recorded from the real Go libraries (data/go_recorded.yaml)."""

from __future__ import annotations

import math

import pytest
from policy_testdata import IRC_FOR_LABEL, ids, load

from pytest_fluxchaos.policy import PolicyError, semantics_for
from pytest_fluxchaos.policy.constraints import new_constraint
from pytest_fluxchaos.policy.factory import policer_from_spec
from pytest_fluxchaos.policy.goregexp import GoRegexpError, compile_go
from pytest_fluxchaos.policy.gotemplate import expand
from pytest_fluxchaos.policy.parsefloat import ParseFloatError, parse_float
from pytest_fluxchaos.policy.version import VersionError, new_version

REC = load("go_recorded")


@pytest.mark.parametrize(
    "case", REC["constraint_matches"], ids=ids(REC["constraint_matches"], "range")
)
def test_constraint_matches(case):
    sem = semantics_for(IRC_FOR_LABEL[case["irc"]])
    if "error" in case:
        with pytest.raises(PolicyError) as exc:
            new_constraint(case["range"], sem)
        assert exc.value.message == case["error"]
        return
    cs = new_constraint(case["range"], sem)
    got = []
    for v in REC["versions"]:
        try:
            if cs.check(new_version(v, sem)):
                got.append(v)
        except VersionError:
            pass
    assert got == case["matches"], case["irc"]


@pytest.mark.parametrize("case", REC["latest"], ids=ids(REC["latest"], "range"))
def test_semver_latest(case):
    policer = policer_from_spec({"semver": {"range": case["range"]}}, semantics_for(IRC_FOR_LABEL[case["irc"]]))
    if case.get("error"):
        with pytest.raises(PolicyError, match="unable to determine latest version"):
            policer.latest(case["tags"])
    else:
        assert policer.latest(case["tags"]) == case["latest"], case["irc"]


@pytest.mark.parametrize("case", REC["regexp_compile"], ids=ids(REC["regexp_compile"], "pattern"))
def test_regexp_compile(case):
    if case.get("ok"):
        compile_go(case["pattern"])
        return
    with pytest.raises(GoRegexpError) as exc:
        compile_go(case["pattern"])
    assert str(exc.value) == case["error"]


@pytest.mark.parametrize("case", REC["parse_float"], ids=ids(REC["parse_float"], "s"))
def test_parse_float(case):
    if "error" in case:
        with pytest.raises(ParseFloatError) as exc:
            parse_float(case["s"])
        assert str(exc.value) == case["error"]
        return
    got, want = parse_float(case["s"]), float(case["value"])
    assert (math.isnan(got) and math.isnan(want)) or got == want


@pytest.mark.parametrize("case", REC["expand"], ids=ids(REC["expand"], "template"))
def test_expand(case):
    if "error" in case:
        with pytest.raises(GoRegexpError) as exc:
            compile_go(case["pattern"])
        assert str(exc.value) == case["error"]
        return
    rx = compile_go(case["pattern"])
    m = rx.search(case["subject"])
    if case.get("match") is False:
        assert m is None
    else:
        assert expand(rx, case["template"], m) == case["out"]
