"""IRC's own test tables (transcribed in data/irc_*.yaml) against the oracle."""

from __future__ import annotations

import itertools
import random

import pytest
from policy_testdata import ids, load

from pytest_fluxchaos.policy import (
    PolicyError,
    latest_tag,
    scan_order,
    semantics_for,
)
from pytest_fluxchaos.policy.factory import policer_from_spec
from pytest_fluxchaos.policy.filter import new_regex_filter

SEM = semantics_for("1.2.4")
UNITS = load("irc_policy_units")
CTRL = load("irc_controller")


@pytest.mark.parametrize("rng", UNITS["semver_ranges"]["valid"])
def test_semver_range_valid(rng):
    policer_from_spec({"semver": {"range": rng}}, SEM)


@pytest.mark.parametrize("rng", UNITS["semver_ranges"]["invalid"])
def test_semver_range_invalid(rng):
    with pytest.raises(PolicyError) as exc:
        policer_from_spec({"semver": {"range": rng}}, SEM)
    assert exc.value.reason == "InvalidPolicy"
    assert exc.value.message.startswith("invalid policy: ")


def _check_latest(policy, case):
    policer = policer_from_spec(policy, SEM)
    if case.get("error"):
        with pytest.raises(PolicyError):
            policer.latest(case["versions"])
    else:
        assert policer.latest(case["versions"]) == case["expected"]


@pytest.mark.parametrize("case", UNITS["semver_latest"], ids=ids(UNITS["semver_latest"], "label"))
def test_semver_latest(case):
    _check_latest({"semver": {"range": case["range"]}}, case)


@pytest.mark.parametrize("kind", ["alphabetical", "numerical"])
def test_orders(kind):
    orders = UNITS[f"{kind}_orders"]
    for order in orders["valid"]:
        policer_from_spec({kind: {"order": order}}, SEM)
    for order in orders["invalid"]:
        with pytest.raises(PolicyError, match="invalid order argument provided"):
            policer_from_spec({kind: {"order": order}}, SEM)


@pytest.mark.parametrize(
    "case", UNITS["alphabetical_latest"], ids=ids(UNITS["alphabetical_latest"], "label")
)
def test_alphabetical_latest(case):
    _check_latest({"alphabetical": {"order": case["order"]}}, case)


@pytest.mark.parametrize(
    "case", UNITS["numerical_latest"], ids=ids(UNITS["numerical_latest"], "label")
)
def test_numerical_latest(case):
    policy = {"numerical": {"order": case["order"]}}
    _check_latest(policy, case)
    if case.get("shuffled"):  # the Go test shuffles; any order must agree
        rnd = random.Random(0)
        for _ in range(20):
            shuffled = dict(case, versions=rnd.sample(case["versions"], len(case["versions"])))
            _check_latest(policy, shuffled)


@pytest.mark.parametrize("case", UNITS["regex_filter"], ids=ids(UNITS["regex_filter"], "label"))
def test_regex_filter(case):
    flt = new_regex_filter({"pattern": case["pattern"], "extract": case["extract"]})
    assert sorted(flt.apply(case["tags"])) == case["expected"]


@pytest.mark.parametrize("case", UNITS["factory"], ids=ids(UNITS["factory"], "policy"))
def test_factory(case):
    if case["error"]:
        with pytest.raises(PolicyError):
            policer_from_spec(case["policy"], SEM)
    else:
        policer_from_spec(case["policy"], SEM)


def _check_apply(case):
    args = (case["tags"], case["policy"], case.get("filter"))
    if case.get("error"):
        with pytest.raises(PolicyError) as exc:
            latest_tag(*args)
        assert exc.value.reason == case["reason"]
        if "message_contains" in case:
            assert case["message_contains"] in exc.value.message
    else:
        assert latest_tag(*args) == case["expected"]
        # the DB order never matters for these tie-free cases
        for perm in itertools.islice(itertools.permutations(case["tags"]), 24):
            assert latest_tag(list(perm), case["policy"], case.get("filter")) == case["expected"]


@pytest.mark.parametrize("case", CTRL["apply_policy"], ids=ids(CTRL["apply_policy"], "name"))
def test_apply_policy(case):
    _check_apply(case)


@pytest.mark.parametrize(
    "case", CTRL["calculate_image"], ids=ids(CTRL["calculate_image"], "name")
)
def test_calculate_image(case):
    _check_apply(case)


@pytest.mark.parametrize("case", CTRL["sort_tags"], ids=ids(CTRL["sort_tags"], "name"))
def test_sort_tags(case):
    assert scan_order(case["tags"], ())[:10] == case["latest"]


@pytest.mark.parametrize("case", CTRL["exclusion"], ids=ids(CTRL["exclusion"], "name"))
def test_exclusion_list(case):
    from pytest_fluxchaos.policy import ScanError

    if case.get("error"):
        with pytest.raises(ScanError, match="failed to compile regex"):
            scan_order(case["tags"], case["patterns"])
        return
    # v0.x stored the registry order; v1.x sorts descending afterwards
    assert scan_order(case["tags"], case["patterns"], irc_version="0.35.2") == case["kept"]
    assert scan_order(case["tags"], case["patterns"]) == sorted(case["kept"], reverse=True)
