"""Hypothesis properties: ordering laws and oracle/order consistency."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pytest_fluxchaos.policy import (
    PolicyError,
    latest_candidates,
    latest_tag,
    policy_order,
    semantics_for,
)
from pytest_fluxchaos.policy.parsefloat import parse_float
from pytest_fluxchaos.policy.version import new_version

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---- strategies ----

_num = st.one_of(st.integers(0, 3).map(str), st.sampled_from(["00", "01", "10", "2025"]))
_pre_id = st.sampled_from(["alpha", "beta", "rc", "0", "1", "2", "10", "01", "x-y"])
_pre = st.lists(_pre_id, min_size=1, max_size=3).map(".".join)


@st.composite
def semverish(draw) -> str:
    tag = draw(st.sampled_from(["", "", "v"])) + draw(_num)
    for _ in range(draw(st.integers(0, 3))):
        tag += "." + draw(_num)
    if draw(st.booleans()):
        tag += "-" + draw(_pre)
    if draw(st.integers(0, 4)) == 0:
        tag += "+" + draw(st.sampled_from(["b", "build.5", "sha-1"]))
    return tag


_garbage = st.text(alphabet="0123456789.-+vxab", max_size=8)
TAG = st.one_of(semverish(), semverish(), _garbage)
TAGS = st.lists(TAG, max_size=8)

RANGES = [
    "*", ">=0.0.0-0", "1.x", "^1.0", "~1", ">=1.0.0 <2.0.0", ">=1.0.0-0 <2.0.0",
    "!=1.0.0", ">1.x", "^0.x", "1.0 - 2.1.x", "<=1.x || >=3", "^1.x-0", "0.0.x",
]
SEMVER = st.sampled_from(RANGES).map(lambda r: {"semver": {"range": r}})
ORDER = st.sampled_from(["asc", "desc"])
ALPHA = ORDER.map(lambda o: {"alphabetical": {"order": o}})
NUMERIC = ORDER.map(lambda o: {"numerical": {"order": o}})

_float_tag = st.one_of(
    st.integers(-50, 50).map(str),
    st.floats(allow_nan=False, width=32).map(repr),
    st.sampled_from(["1.0", "1_0", "0x1p3", "0x10p0", "Inf", "-inf", "1e3", ".5", "5."]),
)
FLOAT_TAGS = st.lists(_float_tag, max_size=8)
IRC = st.sampled_from(["1.2.4", "1.1.2"])


def _sign(x: int) -> int:
    return (x > 0) - (x < 0)


def _check_laws(order, tags):
    eligible = [t for t in tags if order.eligible(t)]
    for a in eligible:
        assert order.compare(a, a) == 0
        for b in eligible:
            ab = order.compare(a, b)
            assert ab == -order.compare(b, a)  # antisymmetry
            ka, kb = order.sort_key(a), order.sort_key(b)
            assert _sign(ab) == (ka > kb) - (ka < kb)  # key agrees with compare
            for c in eligible:
                if ab <= 0 and order.compare(b, c) <= 0:
                    assert order.compare(a, c) <= 0  # transitivity


def _check_latest(tags, policy, filter_tags=None, irc="1.2.4"):
    """latest_tag is a top element, is among the candidates, and is order-free."""
    order = policy_order(policy, filter_tags, irc_version=irc)
    try:
        latest = latest_tag(tags, policy, filter_tags, irc_version=irc)
    except PolicyError as exc:
        if exc.reason == "DependencyNotReady":
            assert not tags
        elif "numeric value" in exc.message:
            keys = [order.key(t) for t in tags]
            assert any(k is not None and not order.eligible(t) for t, k in zip(tags, keys))
        else:  # nothing eligible
            assert not any(order.eligible(t) for t in tags)
        return
    cands = latest_candidates(tags, policy, filter_tags, irc_version=irc)
    assert latest in cands and latest in tags
    for cand in cands:
        assert order.eligible(cand)
        assert order.compare(cand, latest) == 0
        for t in tags:
            if order.eligible(t):
                assert not order.is_behind(cand, t)
    # v1.x sorts the stored list itself: any input order gives the same answer
    for perm in (list(reversed(tags)), sorted(tags), sorted(tags, key=len)):
        assert latest_tag(perm, policy, filter_tags, irc_version=irc) == latest
        assert latest_candidates(perm, policy, filter_tags, irc_version=irc) == cands


# ---- ordering laws ----


@SETTINGS
@given(TAGS, SEMVER, IRC)
def test_semver_order_laws(tags, policy, irc):
    _check_laws(policy_order(policy, irc_version=irc), tags)


@SETTINGS
@given(st.lists(st.text(max_size=4), max_size=6), ALPHA)
def test_alphabetical_order_laws(tags, policy):
    _check_laws(policy_order(policy), tags)


@SETTINGS
@given(FLOAT_TAGS, NUMERIC)
def test_numerical_order_laws(tags, policy):
    _check_laws(policy_order(policy), tags)


# ---- latest_tag consistency ----


@SETTINGS
@given(TAGS, SEMVER, IRC)
def test_semver_latest_consistent(tags, policy, irc):
    _check_latest(tags, policy, irc=irc)


@SETTINGS
@given(st.lists(st.text(max_size=4), max_size=6), ALPHA)
def test_alphabetical_latest_consistent(tags, policy):
    _check_latest(tags, policy)


@SETTINGS
@given(FLOAT_TAGS, NUMERIC)
def test_numerical_latest_consistent(tags, policy):
    _check_latest(tags, policy)


@SETTINGS
@given(st.lists(st.one_of(_float_tag, st.just("latest")), max_size=6), NUMERIC)
def test_numerical_fails_on_any_non_float(tags, policy):
    if tags and "latest" in tags:
        try:
            latest_tag(tags, policy)
        except PolicyError as exc:
            assert exc.message == "failed to parse invalid numeric value 'latest'"
        else:
            raise AssertionError("a non-float tag must fail the numerical policy")


FILTERS = st.sampled_from(
    [
        {"pattern": ""},
        {"pattern": "^v?(?P<ver>[0-9.]+)", "extract": "$ver"},
        {"pattern": "^(?P<major>[0-9]+)", "extract": "${major}.0.0"},
        {"pattern": "-(.*)$", "extract": "1.0.0-$1"},
        {"pattern": "[ab]", "extract": ""},
    ]
)


@SETTINGS
@given(TAGS, st.one_of(SEMVER, ALPHA), FILTERS)
def test_filtered_latest_consistent(tags, policy, filter_tags):
    _check_latest(tags, policy, filter_tags)


@SETTINGS
@given(FLOAT_TAGS, NUMERIC, st.sampled_from([{"pattern": ""}, {"pattern": "^-?[0-9]"}]))
def test_filtered_numerical_consistent(tags, policy, filter_tags):
    _check_latest(tags, policy, filter_tags)


@SETTINGS
@given(TAGS, SEMVER)
def test_v0_latest_is_a_top_element_in_registry_order(tags, policy):
    order = policy_order(policy, irc_version="0.35.2")
    try:
        latest = latest_tag(tags, policy, irc_version="0.35.2")
    except PolicyError:
        return
    for t in tags:
        if order.eligible(t):
            assert not order.is_behind(latest, t)
    ties = [t for t in tags if order.eligible(t) and order.compare(t, latest) == 0]
    assert latest == ties[0]  # first in the stored (registry) order wins


# ---- building blocks ----


@SETTINGS
@given(semverish(), semverish())
def test_version_key_matches_compare(a, b):
    sem = semantics_for("1.2.4")
    try:
        va, vb = new_version(a, sem), new_version(b, sem)
    except ValueError:
        assume(False)
        return
    assert _sign(va.compare(vb)) == (va.sort_key() > vb.sort_key()) - (va.sort_key() < vb.sort_key())


@SETTINGS
@given(st.floats(allow_nan=False))
def test_parse_float_roundtrips_python_repr(x):
    got = parse_float(repr(x))
    assert got == x and math.copysign(1, got) == math.copysign(1, x)


@SETTINGS
@given(st.integers(-(10**30), 10**30))
def test_parse_float_integers(n):
    assert parse_float(str(n)) == float(n)
