"""The checkers' use of the policy oracle (``pytest_fluxchaos.policy``).

Everything that asks "what should Flux pick" or "which tag is ahead" goes through
here, so the checkers never call the oracle with inconsistent arguments.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from pytest_fluxchaos import policy as oracle

from .core import PolicyUnderTest
from .timeline import SpecVersion

NO_TAGS_MESSAGE = "no tags in database"
"""What Flux reports (DependencyNotReady) when the scanned tag list is empty."""

Rank = Literal["forward", "tie", "backward", "incomparable"]


def _scan(tags: Iterable[str], put: PolicyUnderTest, irc_version: str) -> list[str]:
    """The list the scan stores. The tags are given in ascending byte order, which is
    the order a CNCF distribution registry lists them in (it matters for IRC < 1.0,
    which stored the registry's order; later versions sort)."""
    listed = sorted(tags, key=lambda t: t.encode("utf-8"))
    if put.exclusion_list is None:
        return list(oracle.scan_order(listed, irc_version=irc_version))
    return list(oracle.scan_order(listed, list(put.exclusion_list), irc_version=irc_version))


@dataclass(frozen=True)
class Outcomes:
    """Every legitimate result of the policy for a registry state.

    ``tags``: latest tags Flux may report (Ready=True). ``errors``: messages of the
    not-Ready states Flux may legitimately be in (oracle ``PolicyError`` messages,
    or :data:`NO_TAGS_MESSAGE` when the scan finds nothing).
    """

    tags: frozenset[str]
    errors: frozenset[str]

    def describe(self) -> str:
        parts = []
        if self.tags:
            parts.append(" or ".join(sorted(self.tags)))
        if self.errors:
            parts.append(" or ".join(f"not Ready ({m})" for m in sorted(self.errors)))
        return " or ".join(parts) if parts else "nothing"


def expected_outcomes(present: set[str], maybe: set[str], spec: SpecVersion,
                      put: PolicyUnderTest, irc_version: str) -> Outcomes:
    """Outcomes for all registry states consistent with ``present``/``maybe``.

    With indeterminate tags the true state is ``present | S`` for an unknown subset
    S of ``maybe``. Adding a tag can only beat or tie a winner (or break the policy,
    e.g. an unparsable numerical tag), never help another tag win, so a tag wins for
    some S iff it wins for S = {itself} or S = {} -- n + 1 oracle calls instead of
    2^n. Errors are gathered from the same subsets.
    """
    tags: set[str] = set()
    errors: set[str] = set()
    subsets: list[set[str]] = [set()] + [{m} for m in sorted(maybe)]
    for extra in subsets:
        listed = _scan(present | extra, put, irc_version)
        if not listed:
            errors.add(NO_TAGS_MESSAGE)
            continue
        try:
            tags |= set(oracle.latest_candidates(listed, spec.policy, spec.filter_tags,
                                                 irc_version=irc_version))
        except oracle.PolicyError as exc:
            errors.add(exc.message)
    return Outcomes(frozenset(tags), frozenset(errors))


def holds_matching(present: set[str], spec: SpecVersion, put: PolicyUnderTest,
                   irc_version: str) -> bool:
    """True when the registry certainly holds tags the policy can resolve."""
    listed = _scan(present, put, irc_version)
    if not listed:
        return False
    try:
        return bool(oracle.latest_candidates(listed, spec.policy, spec.filter_tags,
                                             irc_version=irc_version))
    except oracle.PolicyError:
        return False  # the policy legitimately fails on this registry state


@lru_cache(maxsize=64)
def _order(policy_json: str, filter_json: str, irc_version: str) -> oracle.PolicyOrder:
    return oracle.policy_order(json.loads(policy_json), json.loads(filter_json),
                               irc_version=irc_version)


def rank(new: str, old: str, spec: SpecVersion, irc_version: str) -> tuple[Rank, str]:
    """Where ``new`` stands relative to ``old`` in the spec's order, with a reason."""
    try:
        order = _order(json.dumps(spec.policy, sort_keys=True),
                       json.dumps(spec.filter_tags, sort_keys=True), irc_version)
    except oracle.PolicyError as exc:
        return "incomparable", f"policy invalid: {exc.message}"
    bad = [t for t in (old, new) if not order.eligible(t)]
    if bad:
        return "incomparable", "not selectable by the policy: " + ", ".join(bad)
    c = order.compare(new, old)
    if c > 0:
        return "forward", ""
    if c == 0:
        return "tie", "equal rank in the policy order"
    return "backward", ""


def describe_policy(spec: SpecVersion) -> str:
    """Short human form, e.g. ``semver >=1.0.0`` or ``numerical desc, filter ^b-(?P<n>\\d+)$``."""
    parts = []
    for kind, params in spec.policy.items():
        if isinstance(params, dict) and params:
            parts.append(f"{kind} " + " ".join(str(v) for v in params.values()))
        else:
            parts.append(str(kind))
    text = ", ".join(parts) or "?"
    if spec.filter_tags:
        text += f", filter {spec.filter_tags.get('pattern', '')}"
        if spec.filter_tags.get("extract"):
            text += f" -> {spec.filter_tags['extract']}"
    return text
