"""``PolicerFromSpec``: build a policy from ``spec.policy`` (factory.go).

The choice is taken in Go's switch order (semver, alphabetical,
numerical); ``order`` is upper-cased and "" means ASC.  Errors come back
wrapped as applyPolicy wraps them: "invalid policy: ..." with reason
InvalidPolicy (the controller stalls).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .alphabetical import ASC, DESC, AlphabeticalPolicer
from .errors import REASON_INVALID_POLICY, PolicyError
from .numerical import NumericalPolicer
from .semantics import Semantics
from .semver import SemVerPolicer, new_semver

Policer = SemVerPolicer | AlphabeticalPolicer | NumericalPolicer


def _go_upper(s: str) -> str:
    """strings.ToUpper: per-rune simple mapping (no "ß" -> "SS")."""
    return "".join(u if len(u := ch.upper()) == 1 else ch for ch in s)


def _invalid(message: str) -> PolicyError:
    return PolicyError(f"invalid policy: {message}", REASON_INVALID_POLICY)


def _field(choice: Any, name: str, kind: str) -> str:
    """Read a string field of a choice; absent/None means ""."""
    if not isinstance(choice, Mapping):
        raise _invalid(f"spec.policy.{kind} must be an object, got {type(choice).__name__}")
    value = choice.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _invalid(f"spec.policy.{kind}.{name} must be a string, got {type(value).__name__}")
    return value


def _order(raw: str) -> str:
    order = _go_upper(raw)
    if order == "":
        return ASC
    if order not in (ASC, DESC):
        raise _invalid(
            f"invalid order argument provided: '{order}', must be one of: {ASC}, {DESC}"
        )
    return order


def policer_from_spec(policy: Mapping[str, Any] | None, sem: Semantics) -> Policer:
    """Build the policer; a key set to None counts as absent (a nil pointer)."""
    policy = policy or {}
    if policy.get("semver") is not None:
        try:
            return new_semver(_field(policy["semver"], "range", "semver"), sem)
        except PolicyError as exc:
            if exc.reason == REASON_INVALID_POLICY:
                raise
            raise _invalid(exc.message) from None
    if policy.get("alphabetical") is not None:
        return AlphabeticalPolicer(_order(_field(policy["alphabetical"], "order", "alphabetical")))
    if policy.get("numerical") is not None:
        return NumericalPolicer(_order(_field(policy["numerical"], "order", "numerical")))
    raise _invalid("given ImagePolicyChoice object is invalid")
