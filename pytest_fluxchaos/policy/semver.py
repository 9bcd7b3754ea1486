"""The SemVer policy (internal/policy/semver.go).

Tags are parsed with fluxcd/pkg/version.ParseVersion (unparsable tags are
skipped silently), filtered by the Masterminds constraint, and the first
strictly greatest version in input order wins; its original string is
returned, so ``v1.0.0`` and ``1.0.0`` stay distinct.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from functools import lru_cache
from dataclasses import dataclass, field

from .constraints import Constraints, new_constraint
from .errors import PolicyError
from .semantics import Semantics
from .version import Version, VersionSortKey, parse_tag_version

EMPTY_LIST = "version list argument cannot be empty"
NO_MATCH = "unable to determine latest version from provided list"


@dataclass(frozen=True)
class SemVerPolicer:
    """``policy.SemVer``; build it with :func:`new_semver`."""

    range: str
    constraints: Constraints
    sem: Semantics
    # tag -> its version if considered; the checkers ask about every tag of a big
    # repository at every registry state, and new_semver hands out one policer per range.
    _seen: dict[str, Version | None] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def version(self, tag: str) -> Version | None:
        """The parsed version if the tag is considered, else None."""
        try:
            return self._seen[tag]
        except KeyError:
            v = parse_tag_version(tag, self.sem)
            v = v if v is not None and self.constraints.check(v) else None
            self._seen[tag] = v
            return v

    def latest(self, tags: Sequence[str]) -> str:
        """``SemVer.Latest``: first strictly greatest eligible tag."""
        if not tags:
            raise PolicyError(EMPTY_LIST)
        best: Version | None = None
        for tag in tags:
            v = self.version(tag)
            if v is not None and (best is None or v.compare(best) > 0):
                best = v
        if best is None:
            raise PolicyError(NO_MATCH)
        return best.original

    def candidates(self, tags: Collection[str]) -> set[str]:
        """Every tag ``latest`` could return for some order of ``tags``."""
        if not tags:
            raise PolicyError(EMPTY_LIST)
        parsed = [(t, v) for t in tags if (v := self.version(t)) is not None]
        if not parsed:
            raise PolicyError(NO_MATCH)
        top = max((v for _, v in parsed), key=Version.sort_key)
        return {t for t, v in parsed if v.compare(top) == 0}

    def compare(self, a: str, b: str) -> int:
        va, vb = self.version(a), self.version(b)
        assert va is not None and vb is not None
        return va.compare(vb)

    def sort_key(self, tag: str) -> VersionSortKey:
        v = self.version(tag)
        assert v is not None
        return v.sort_key()

    def why_ineligible(self, tag: str) -> str | None:
        if parse_tag_version(tag, self.sem) is None:
            return "not a version fluxcd/pkg/version.ParseVersion accepts"
        if self.version(tag) is None:
            return f"outside semver range {self.range!r}"
        return None


@lru_cache(maxsize=256)
def new_semver(range_: str, sem: Semantics) -> SemVerPolicer:
    """``NewSemVer``: raises PolicyError with Masterminds' constraint error."""
    return SemVerPolicer(range_, new_constraint(range_, sem), sem)
