"""Public API behaviour: messages, reasons, ties, orders, versions."""

from __future__ import annotations

import math

import pytest

from pytest_fluxchaos.policy import (
    DEFAULT_EXCLUSION_LIST,
    IneligibleTagError,
    PolicyError,
    latest_candidates,
    latest_tag,
    policy_order,
    scan_order,
    semantics_for,
    validate_policy,
)
from pytest_fluxchaos.policy.gostrings import go_quote

SEMVER_1X = {"semver": {"range": "1.0.x"}}


# ---- errors: exact wording and condition reason ----


@pytest.mark.parametrize(
    "policy,filter_tags,irc,message",
    [
        ({}, None, "1.2.4", "invalid policy: given ImagePolicyChoice object is invalid"),
        ({"semver": None, "numerical": None}, None, "1.2.4", "invalid policy: given ImagePolicyChoice object is invalid"),
        ({"semver": {"range": "foo"}}, None, "1.2.4", 'invalid policy: improper constraint: "foo"'),
        ({"semver": {"range": "foo"}}, None, "1.1.2", "invalid policy: improper constraint: foo"),
        ({"semver": {}}, None, "1.2.4", 'invalid policy: improper constraint: ""'),
        ({"semver": {"range": "1|2"}}, None, "1.2.4", "invalid policy: constraint parser error"),
        ({"semver": {"range": "1|2"}}, None, "0.32.0", "invalid policy: constraint Parser Error"),
        ({"semver": {"range": "a\tb"}}, None, "1.2.4", 'invalid policy: improper constraint: "a\\tb"'),
        (
            {"alphabetical": {"order": "up"}},
            None,
            "1.2.4",
            "invalid policy: invalid order argument provided: 'UP', must be one of: ASC, DESC",
        ),
        (
            SEMVER_1X,
            {"pattern": "^test-(.*"},
            "1.2.4",
            "failed to filter tags: invalid regular expression pattern '^test-(.*': "
            "error parsing regexp: missing closing ): `^test-(.*`",
        ),
        (
            SEMVER_1X,
            {"pattern": "(?<=v)1"},
            "1.2.4",
            "failed to filter tags: invalid regular expression pattern '(?<=v)1': "
            "error parsing regexp: invalid named capture: `(?<=v)1`",
        ),
    ],
)
def test_invalid_policy_messages(policy, filter_tags, irc, message):
    with pytest.raises(PolicyError) as exc:
        validate_policy(policy, filter_tags, irc_version=irc)
    assert exc.value.message == message
    assert exc.value.reason == "InvalidPolicy"
    with pytest.raises(PolicyError) as exc2:
        latest_tag(["1.0.0"], policy, filter_tags, irc_version=irc)
    assert exc2.value.message == message


def test_validate_accepts_good_specs():
    validate_policy({"semver": {"range": ">=1.0.0-0 <2.0.0"}})
    validate_policy({"alphabetical": {"order": "desc"}}, {"pattern": "^main-(?P<ts>[0-9]+)", "extract": "$ts"})
    validate_policy({"numerical": {}})
    validate_policy({"numerical": {"order": "Desc"}})  # IRC upper-cases


def test_invalid_policy_wins_over_empty_db():
    with pytest.raises(PolicyError) as exc:
        latest_tag([], {})
    assert exc.value.reason == "InvalidPolicy"


def test_empty_db_wins_over_bad_filter():
    # applyPolicy reads the DB before compiling filterTags
    with pytest.raises(PolicyError) as exc:
        latest_tag([], SEMVER_1X, {"pattern": "[="})
    assert (exc.value.message, exc.value.reason) == ("no tags in database", "DependencyNotReady")


@pytest.mark.parametrize(
    "tags,policy,filter_tags,message",
    [
        (["1.2.0", "latest"], SEMVER_1X, None, "unable to determine latest version from provided list"),
        (["1.0.0"], SEMVER_1X, {"pattern": "^nomatch"}, "version list argument cannot be empty"),
        (["1", "latest"], {"numerical": {}}, None, "failed to parse invalid numeric value 'latest'"),
        (["1", " 2"], {"numerical": {}}, None, "failed to parse invalid numeric value ' 2'"),
        (["1", "1e400"], {"numerical": {}}, None, "failed to parse invalid numeric value '1e400'"),
    ],
)
def test_failure_messages(tags, policy, filter_tags, message):
    with pytest.raises(PolicyError) as exc:
        latest_tag(tags, policy, filter_tags)
    assert (exc.value.message, exc.value.reason) == (message, "Failure")


# ---- choice and order handling ----


def test_choice_priority_and_order_case():
    tags = ["1.0.0", "2.0.0", "10"]
    assert latest_tag(tags, {"semver": {"range": "*"}, "alphabetical": {}}) == "2.0.0"
    assert latest_tag(tags, {"alphabetical": {"order": "DESC"}}) == "1.0.0"
    assert latest_tag(tags, {"alphabetical": {"order": "Asc"}}) == "2.0.0"
    assert latest_tag(["1", "10", "9"], {"numerical": {"order": "asc"}}) == "10"
    assert latest_tag(["1", "10", "9"], {"numerical": {"order": "desc"}}) == "1"


def test_go_floats_in_numerical():
    tags = ["0x1p4", "1_000", "Inf", "-infinity", "15.5"]
    assert latest_tag(tags, {"numerical": {}}) == "Inf"
    assert latest_tag(tags, {"numerical": {"order": "desc"}}) == "-infinity"
    assert latest_tag(["0x1p4", "15.5"], {"numerical": {}}) == "0x1p4"


# ---- ordering of the stored list and ties ----


def test_semver_tie_first_in_descending_scan_order():
    # v1.x stores tags sorted descending byte-wise: "v1.0.0" > "1.0.0+b" > "1.0.0"
    for tags in (["1.0.0", "v1.0.0", "1.0.0+b"], ["v1.0.0", "1.0.0+b", "1.0.0"]):
        assert latest_tag(tags, SEMVER_1X) == "v1.0.0"
        assert latest_candidates(tags, SEMVER_1X) == {"v1.0.0"}


def test_v0_keeps_registry_order():
    assert latest_tag(["1.0.0", "v1.0.0"], SEMVER_1X, irc_version="0.35.2") == "1.0.0"
    assert latest_tag(["v1.0.0", "1.0.0"], SEMVER_1X, irc_version="0.35.2") == "v1.0.0"


def test_numerical_equal_values_last_in_scan_order_wins():
    # stored order (desc bytes): "1.0", "1", "0" -> equal 1.0 and 1: the later, "1"
    assert latest_tag(["0", "1", "1.0"], {"numerical": {}}) == "1"


def test_filter_ties_are_nondeterministic():
    spec = {"semver": {"range": "*"}}
    tags = ["app-1.0.0", "app-v1.0.0", "app-0.9.0"]
    flt = {"pattern": "^app-(?P<v>.*)$", "extract": "$v"}
    cands = latest_candidates(tags, spec, flt)
    assert cands == {"app-1.0.0", "app-v1.0.0"}
    assert latest_tag(tags, spec, flt) in cands
    # an empty filterTags still goes through the map, so ties become random too
    assert latest_candidates(["1.0.0", "v1.0.0"], spec, {}) == {"1.0.0", "v1.0.0"}
    num = latest_candidates(["1", "1.0", "0x1p0", "0"], {"numerical": {}}, {"pattern": ""})
    assert num == {"1", "1.0", "0x1p0"}


def test_filter_nan_makes_anything_possible():
    tags = ["1", "5", "NaN"]
    assert latest_candidates(tags, {"numerical": {}}, {"pattern": ""}) == set(tags)
    # without a filter the stored order ("NaN", "5", "1") decides: 1 replaces 5? no:
    # 5 replaces NaN (NaN comparisons are false), then 1 < 5 is skipped
    assert latest_tag(tags, {"numerical": {}}) == "5"


def test_filter_duplicate_keys_later_stored_tag_wins():
    flt = {"pattern": "^[a-z]+-(?P<n>[0-9]+)$", "extract": "$n"}
    # stored desc: "b-2", "b-1", "a-2", "a-1": key 2 -> "a-2" (later), key 1 -> "a-1"
    assert latest_tag(["a-1", "a-2", "b-1", "b-2"], {"numerical": {}}, flt) == "a-2"
    assert latest_candidates(["a-1", "a-2", "b-1", "b-2"], {"numerical": {}}, flt) == {"a-2"}


# ---- prerelease rules across IRC versions ----


def test_prerelease_and_group_rule_changed_in_v1():
    spec = {"semver": {"range": ">=1.0.0-0 <2.0.0"}}
    tags = ["1.4.0", "1.5.0-rc.1"]
    assert latest_tag(tags, spec) == "1.5.0-rc.1"  # v1.x: one prerelease admits the group
    assert latest_tag(tags, spec, irc_version="v1.0.0") == "1.5.0-rc.1"
    assert latest_tag(tags, spec, irc_version="0.35.2") == "1.4.0"  # v0.x: per constraint
    assert latest_tag(tags, spec, irc_version="0.32.0") == "1.4.0"


def test_calver_tags_need_v1():
    spec = {"semver": {"range": "*"}}
    tags = ["2025.01.02", "2024.12.31"]
    assert latest_tag(tags, spec) == "2025.01.02"
    # before v1.0 leading zeros failed StrictNewVersion, so the tag was skipped
    assert latest_tag(tags, spec, irc_version="0.32.0") == "2024.12.31"
    with pytest.raises(PolicyError, match="unable to determine"):
        latest_tag(["2025.01.02"], spec, irc_version="0.35.2")


# ---- PolicyOrder ----


def test_policy_order_semver():
    order = policy_order({"semver": {"range": ">=1.0.0"}})
    assert order.is_behind("1.0.0", "1.0.1")
    assert not order.is_behind("1.0.1", "1.0.0")
    assert order.compare("v1.0.0", "1.0.0+build") == 0
    assert order.compare("1.10.0", "1.9.0") > 0
    assert not order.eligible("0.9.0") and not order.eligible("latest")
    assert not order.eligible("1.1.0-rc.1")  # prerelease outside the range's group
    with pytest.raises(IneligibleTagError):
        order.compare("latest", "1.0.0")
    assert order.rank(["2.0.0", "1.0.0", "v1.0.0", "latest"]) == {"1.0.0": 0, "v1.0.0": 0, "2.0.0": 1}


def test_policy_order_alphabetical_and_numerical():
    asc, desc = policy_order({"alphabetical": {}}), policy_order({"alphabetical": {"order": "desc"}})
    assert asc.is_behind("a", "b") and desc.is_behind("b", "a")
    assert sorted(["b", "c", "a"], key=desc.sort_key) == ["c", "b", "a"]
    ndesc = policy_order({"numerical": {"order": "desc"}})
    assert ndesc.is_behind("10", "9") and ndesc.compare("1", "1.0") == 0
    assert not ndesc.eligible("v1")
    assert policy_order({"numerical": {}}).compare("NaN", "1") == 0


def test_policy_order_with_filter():
    order = policy_order(
        {"numerical": {}}, {"pattern": "^main-[a-f0-9]+-(?P<ts>[0-9]+)$", "extract": "$ts"}
    )
    assert order.is_behind("main-abc-100", "main-def-200")
    assert not order.eligible("feature-abc-300")
    assert "filterTags" in order.why_ineligible("feature-abc-300")


# ---- scan order and versions ----


def test_scan_order_excludes_signatures_and_sorts():
    assert DEFAULT_EXCLUSION_LIST == ("^.*\\.sig$",)
    tags = ["1.0.0", "sha256-abc.sig", "v2", "10.0.0", "sig"]
    assert scan_order(tags) == ["v2", "sig", "10.0.0", "1.0.0"]
    assert scan_order(tags, []) == ["v2", "sig", "sha256-abc.sig", "10.0.0", "1.0.0"]
    assert scan_order(tags, irc_version="0.32.0") == ["1.0.0", "v2", "10.0.0", "sig"]


def test_scan_order_is_bytewise():
    assert scan_order(["é", "z", "Z", "a"], []) == ["é", "z", "a", "Z"]


def test_irc_versions():
    assert semantics_for("1.2.4") is semantics_for("v1.2.0")
    assert semantics_for("1.0.3").masterminds == "3.4.0"
    assert semantics_for("0.32.0").pkg_version == "0.4.0"
    for bad in ("0.31.2", "1.3.0", "2.0.0"):
        with pytest.raises(NotImplementedError, match=bad):
            semantics_for(bad)
    with pytest.raises(ValueError):
        semantics_for("1.2")


def test_go_quote():
    assert go_quote('a"b\\c') == '"a\\"b\\\\c"'
    assert go_quote("\x00\x7f\u200b é") == '"\\x00\\x7f\\u200b é"'
    assert go_quote("\U0001F600") == '"\U0001F600"'
    assert go_quote("\U000E0001") == '"\\U000e0001"'


def test_nan_is_a_valid_numerical_tag():
    assert math.isnan(float("nan"))
    assert latest_tag(["NaN"], {"numerical": {}}) == "NaN"
