"""The ImagePolicy oracle: what ``status.latestRef.tag`` IRC would compute.

Mirrors ``applyPolicy`` (internal/controller/imagepolicy_controller.go):

1. build the policer from ``spec.policy`` (invalid -> InvalidPolicy);
2. read the tags the scan stored (empty -> DependencyNotReady);
3. with ``spec.filterTags`` (even an empty one): compile the pattern
   (invalid -> InvalidPolicy), map key -> original tag, run the policy on
   the keys in Go map order, map the result back;
4. otherwise run the policy on the stored list.

Stored order: from IRC v1.0.0 the scan sorts tags in descending byte order
before storing, so the oracle sorts ``tags`` itself and the caller may pass
them in any order.  Before v1.0.0 the registry's order was stored as
listed; then ``tags`` must be given in the registry's order (the OCI
distribution spec asks for lexical order; some registries, e.g. GHCR, differ).

Nondeterminism: Go iterates maps in random order, so with a filter the
result of a semver tie (``1.0.0`` vs ``v1.0.0`` vs ``1.0.0+b``) or of
equal numbers (``1`` vs ``1.0``) is random.  :func:`latest_tag` returns the
answer for first-appearance key order; :func:`latest_candidates` returns
every tag IRC could return (a superset of what Go's map iteration
actually produces), so checkers can accept any of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from .errors import REASON_DEPENDENCY_NOT_READY, PolicyError, ScanError
from .factory import Policer, policer_from_spec
from .filter import RegexFilter, new_regex_filter
from .goregexp import GoRegexpError, compile_go
from .gostrings import utf8_key
from .order import PolicyOrder
from .semantics import DEFAULT_IRC_VERSION, Semantics, semantics_for

# ImageRepository spec.exclusionList default (api/v1/imagerepository_types.go)
DEFAULT_EXCLUSION_LIST: tuple[str, ...] = ("^.*\\.sig$",)
NO_TAGS = "no tags in database"

PolicySpec = Mapping[str, Any]
FilterSpec = Mapping[str, str]


def scan_order(
    tags: Iterable[str],
    exclusion_list: Sequence[str] = DEFAULT_EXCLUSION_LIST,
    *,
    irc_version: str = DEFAULT_IRC_VERSION,
) -> list[str]:
    """The list an ImageRepository scan stores for ``tags``.

    Drops tags any exclusion regex matches (unanchored RE2 search), then,
    from IRC v1.0.0, sorts descending byte-wise.  An empty
    ``exclusion_list`` excludes nothing (the API server substitutes the
    default only when the field is omitted).  Raises ScanError for an
    invalid regex, worded like the scan error.
    """
    sem = semantics_for(irc_version)
    regexps = []
    for pattern in exclusion_list:
        try:
            regexps.append(compile_go(pattern))
        except GoRegexpError as exc:
            raise ScanError(f"failed to compile regex {pattern}: {exc}") from None
    kept = [t for t in tags if not _excluded(tuple(exclusion_list), t)]
    return _db_order(kept, sem)


@lru_cache(maxsize=1 << 17)
def _excluded(patterns: tuple[str, ...], tag: str) -> bool:
    """Cached per tag: the checkers scan every registry state, thousands of tags each."""
    return any(compile_go(p).match_string(tag) for p in patterns)


def _db_order(tags: Iterable[str], sem: Semantics) -> list[str]:
    if sem.db_order == "desc":
        return sorted(tags, key=utf8_key, reverse=True)
    return list(tags)


def _build(
    policy: PolicySpec | None, filter_tags: FilterSpec | None, irc_version: str
) -> tuple[Semantics, Policer, RegexFilter | None]:
    sem = semantics_for(irc_version)
    policer = policer_from_spec(policy, sem)
    flt = None if filter_tags is None else new_regex_filter(filter_tags)
    return sem, policer, flt


def validate_policy(
    policy: PolicySpec | None,
    filter_tags: FilterSpec | None = None,
    *,
    irc_version: str = DEFAULT_IRC_VERSION,
) -> None:
    """Raise PolicyError (reason InvalidPolicy) if IRC would stall on the spec.

    Checks the policy choice, the semver range, the order, and the
    filterTags pattern.  Note the CRD additionally restricts ``order`` to
    lowercase ``asc``/``desc``; IRC itself upper-cases, as modelled here.
    """
    _build(policy, filter_tags, irc_version)


def policy_order(
    policy: PolicySpec | None,
    filter_tags: FilterSpec | None = None,
    *,
    irc_version: str = DEFAULT_IRC_VERSION,
) -> PolicyOrder:
    """The tag preference order of a policy (see :mod:`.order`)."""
    _sem, policer, flt = _build(policy, filter_tags, irc_version)
    return PolicyOrder(policer, flt)


def _prepare(
    tags: Iterable[str],
    policy: PolicySpec | None,
    filter_tags: FilterSpec | None,
    irc_version: str,
) -> tuple[Policer, list[str], dict[str, str] | None]:
    """Steps 1-3 of applyPolicy, in the controller's order."""
    sem = semantics_for(irc_version)
    policer = policer_from_spec(policy, sem)
    stored = _db_order(tags, sem)
    if not stored:
        raise PolicyError(NO_TAGS, REASON_DEPENDENCY_NOT_READY)
    if filter_tags is None:
        return policer, stored, None
    mapping = new_regex_filter(filter_tags).apply(stored)
    return policer, list(mapping), mapping


def latest_tag(
    tags: Iterable[str],
    policy: PolicySpec | None,
    filter_tags: FilterSpec | None = None,
    *,
    irc_version: str = DEFAULT_IRC_VERSION,
) -> str:
    """The tag IRC would put in ``status.latestRef.tag``.

    Raises PolicyError with IRC's message and condition reason.  An empty
    ``tags`` gives "no tags in database" (DependencyNotReady); v1.0.3+
    shows it in Ready as "retrying in 30s error: no tags in database".
    Exclusion lists are not applied here (see :func:`scan_order`).
    """
    policer, keys, mapping = _prepare(tags, policy, filter_tags, irc_version)
    latest = policer.latest(keys)
    return latest if mapping is None else mapping[latest]


def latest_candidates(
    tags: Iterable[str],
    policy: PolicySpec | None,
    filter_tags: FilterSpec | None = None,
    *,
    irc_version: str = DEFAULT_IRC_VERSION,
) -> frozenset[str]:
    """Every tag IRC could legitimately return (Go map order is random).

    Without a filter the stored order is fixed, so this is
    ``{latest_tag(...)}``.  Raises like :func:`latest_tag`.
    """
    policer, keys, mapping = _prepare(tags, policy, filter_tags, irc_version)
    if mapping is None:
        return frozenset({policer.latest(keys)})
    return frozenset(mapping[k] for k in policer.candidates(keys))
