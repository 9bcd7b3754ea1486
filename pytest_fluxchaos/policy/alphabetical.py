"""The Alphabetical policy (internal/policy/alphabetical.go).

Go sorts with ``sort.StringSlice`` (byte-wise) and takes the first element:
ASC returns the maximum string, DESC the minimum.  Every tag is eligible.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import total_ordering

from .errors import PolicyError
from .gostrings import utf8_key
from .semver import EMPTY_LIST

ASC, DESC = "ASC", "DESC"


@total_ordering
@dataclass(frozen=True)
class _Reversed:
    """Sort key that inverts byte order (DESC prefers the smaller string)."""

    key: bytes

    def __lt__(self, other: _Reversed) -> bool:
        return self.key > other.key


@dataclass(frozen=True)
class AlphabeticalPolicer:
    order: str  # ASC or DESC

    def latest(self, tags: Sequence[str]) -> str:
        if not tags:
            raise PolicyError(EMPTY_LIST)
        pick = min if self.order == DESC else max
        return pick(tags, key=utf8_key)

    def candidates(self, tags: Collection[str]) -> set[str]:
        # distinct strings never tie, so the answer is order-independent
        return {self.latest(list(tags))}

    def compare(self, a: str, b: str) -> int:
        ka, kb = utf8_key(a), utf8_key(b)
        c = (ka > kb) - (ka < kb)
        return -c if self.order == DESC else c

    def sort_key(self, tag: str) -> bytes | _Reversed:
        return _Reversed(utf8_key(tag)) if self.order == DESC else utf8_key(tag)

    def why_ineligible(self, tag: str) -> str | None:
        return None
