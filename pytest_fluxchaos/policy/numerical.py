"""The Numerical policy (internal/policy/numerical.go).

Every tag must parse with Go's ``strconv.ParseFloat(s, 64)``, otherwise the
whole policy fails.  A linear scan keeps the current best and replaces it
unless the candidate is worse (ASC: smaller, DESC: greater), so among equal
values the last one wins.  NaN compares false both ways: it replaces and is
replaced by anything, which makes the result depend on where NaN sits.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from .alphabetical import ASC, DESC
from .errors import PolicyError
from .parsefloat import ParseFloatError, parse_float
from .semver import EMPTY_LIST


def _invalid(tag: str) -> PolicyError:
    return PolicyError(f"failed to parse invalid numeric value '{tag}'")


@dataclass(frozen=True)
class NumericalPolicer:
    order: str  # ASC or DESC

    def value(self, tag: str) -> float:
        try:
            return parse_float(tag)
        except ParseFloatError:
            raise _invalid(tag) from None

    def latest(self, tags: Sequence[str]) -> str:
        if not tags:
            raise PolicyError(EMPTY_LIST)
        latest, best = "", 0.0
        for i, tag in enumerate(tags):
            cv = self.value(tag)
            if i > 0 and ((self.order == ASC and cv < best) or (self.order == DESC and cv > best)):
                continue
            latest, best = tag, cv
        return latest

    def candidates(self, tags: Collection[str]) -> set[str]:
        """Tags ``latest`` could return for some order of ``tags``.

        Any unparsable tag fails the policy (which one is named depends on
        the order; this raises for the first in iteration order).
        """
        if not tags:
            raise PolicyError(EMPTY_LIST)
        values = {t: self.value(t) for t in tags}
        if any(math.isnan(v) for v in values.values()):
            return set(values)  # NaN placement can make any tag the result
        best = (min if self.order == DESC else max)(values.values())
        return {t for t, v in values.items() if v == best}

    def compare(self, a: str, b: str) -> int:
        va, vb = self.value(a), self.value(b)
        c = (va > vb) - (va < vb)  # 0 when either is NaN
        return -c if self.order == DESC else c

    def sort_key(self, tag: str) -> float:
        v = self.value(tag)
        return -v if self.order == DESC else v

    def why_ineligible(self, tag: str) -> str | None:
        try:
            parse_float(tag)
        except ParseFloatError as exc:
            return f"not a Go float ({exc}); Flux fails the whole policy on it"
        return None
