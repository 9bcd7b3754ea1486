"""Masterminds/semver and fluxcd/pkg/version test tables against the port."""

from __future__ import annotations

import pytest
from policy_testdata import ids, load

from pytest_fluxchaos.policy import PolicyError, semantics_for
from pytest_fluxchaos.policy.constraints import new_constraint, parse_constraint, rewrite_range
from pytest_fluxchaos.policy.semantics import V0_34
from pytest_fluxchaos.policy.version import (
    VersionError,
    new_version,
    parse_tag_version,
    strict_new_version,
)

SEM = semantics_for("1.2.4")  # Masterminds v3.5.0, the tables' version
CONS = load("masterminds_constraints")
VERS = load("masterminds_version")
PKG = load("fluxcd_pkg_version")

# "=" stands for constraintTildeOrEqual, which also serves the empty operator
_OP_FUNC = {"": "=", "=": "=", ">=": ">=", "=>": ">=", "<=": "<=", "=<": "<=", ">": ">", "<": "<"}


@pytest.mark.parametrize("case", CONS["parse_constraint"], ids=ids(CONS["parse_constraint"], "input"))
def test_parse_constraint(case):
    if case["error"]:
        with pytest.raises(PolicyError):
            parse_constraint(case["input"], SEM)
        return
    c = parse_constraint(case["input"], SEM)
    assert str(c.con) == case["version"]
    assert _OP_FUNC[c.op] == case["op"]


@pytest.mark.parametrize("case", CONS["constraint_check"], ids=ids(CONS["constraint_check"], "constraint"))
def test_constraint_check(case):
    c = parse_constraint(case["constraint"], SEM)
    v = new_version(case["version"], SEM)
    assert c.check(v, c.con.pre != "", SEM) is case["check"]


@pytest.mark.parametrize("case", CONS["new_constraint"], ids=ids(CONS["new_constraint"], "input"))
def test_new_constraint(case):
    if case["error"]:
        with pytest.raises(PolicyError):
            new_constraint(case["input"], SEM)
        return
    cs = new_constraint(case["input"], SEM)
    assert len(cs.groups) == case["ors"]
    assert len(cs.groups[0]) == case["count"]


@pytest.mark.parametrize("case", CONS["constraints_check"], ids=ids(CONS["constraints_check"], "constraint"))
def test_constraints_check(case):
    cs = new_constraint(case["constraint"], SEM)
    assert cs.check(new_version(case["version"], SEM)) is case["check"]


@pytest.mark.parametrize("case", CONS["rewrite_range"], ids=ids(CONS["rewrite_range"], "input"))
def test_rewrite_range(case):
    assert rewrite_range(case["input"]) == case["output"]


def test_constraint_limits():
    # TestNewConstraintTooLong / TestNewConstraintTooManyGroups (v3.5.0 only)
    with pytest.raises(PolicyError, match=r"^constraint string is too long \(max 512 bytes\)$"):
        new_constraint(">= 1.0.0 || " * 100, SEM)
    with pytest.raises(PolicyError, match=r"^too many constraint groups \(max 32\)$"):
        new_constraint(" || ".join([">= 1.0.0"] * 33), SEM)
    new_constraint(" || ".join([">= 1.0.0"] * 32), SEM)
    # older libraries have no limits
    new_constraint(" || ".join([">= 1.0.0"] * 40), semantics_for("1.1.2"))


def test_version_too_long():
    # TestNewVersionTooLong
    with pytest.raises(VersionError, match="too long"):
        new_version("1.0.0-" + "a" * 256, SEM)
    new_version("1.0.0-" + "a" * 256, semantics_for("1.1.2"))


def _accepts(fn, version, sem):
    try:
        fn(version, sem)
    except VersionError:
        return False
    return True


@pytest.mark.parametrize("case", VERS["strict_new_version"], ids=ids(VERS["strict_new_version"], "version"))
def test_strict_new_version(case):
    assert _accepts(strict_new_version, case["version"], SEM) is not case["error"]


@pytest.mark.parametrize("case", VERS["new_version_coerce"], ids=ids(VERS["new_version_coerce"], "version"))
def test_new_version_coerce(case):
    assert _accepts(new_version, case["version"], SEM) is not case["error"]


@pytest.mark.parametrize(
    "case", VERS["new_version_strict_regex"], ids=ids(VERS["new_version_strict_regex"], "version")
)
def test_new_version_strict_regex(case):
    assert _accepts(new_version, case["version"], V0_34) is not case["error"]


@pytest.mark.parametrize("case", VERS["coerce_string"], ids=ids(VERS["coerce_string"], "version"))
def test_coerce_string(case):
    assert str(new_version(case["version"], SEM)) == case["string"]


@pytest.mark.parametrize("case", VERS["compare"], ids=ids(VERS["compare"], "a"))
def test_compare(case):
    a, b = new_version(case["a"], SEM), new_version(case["b"], SEM)
    assert a.compare(b) == case["result"]
    assert b.compare(a) == -case["result"]
    key_cmp = (a.sort_key() > b.sort_key()) - (a.sort_key() < b.sort_key())
    assert key_cmp == case["result"]


@pytest.mark.parametrize("table,sign", [("greater_than", 1), ("less_than", -1)])
def test_greater_less(table, sign):
    for case in VERS[table]:
        a, b = new_version(case["a"], SEM), new_version(case["b"], SEM)
        assert (a.compare(b) == sign) is case["result"], case


@pytest.mark.parametrize("version", VERS["original"])
def test_original(version):
    assert new_version(version, SEM).original == version


@pytest.mark.parametrize(
    "table,irc", [("v0_16_0", "1.2.4"), ("v0_4_0", "0.32.0")]
)
def test_pkg_parse_version(table, irc):
    sem = semantics_for(irc)
    for case in PKG[table]:
        assert (parse_tag_version(case["version"], sem) is None) is case["error"], case


def test_pkg_sort():
    case = PKG["sort"]
    cs = new_constraint(case["constraint"], SEM)
    parsed = [v for t in case["input"] if (v := parse_tag_version(t, SEM)) and cs.check(v)]
    ordered = sorted(parsed, key=lambda v: v.sort_key(), reverse=True)
    assert [v.original for v in ordered] == case["sorted"]
