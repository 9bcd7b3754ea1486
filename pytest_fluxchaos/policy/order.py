"""PolicyOrder: the preference order a policy imposes on individual tags.

Checkers use it to ask "is tag A behind tag B?" without running the whole
pipeline.  "Ahead" means "the policy would prefer it": the greater version
for semver, the greater string for alphabetical ASC and the smaller for
DESC, the greater number for numerical ASC and the smaller for DESC.

A tag is *eligible* when it passes ``filterTags`` (if any) and the policy
would consider it: semver needs a parseable version inside the range;
numerical needs a Go float (note: one non-float tag fails the whole
numerical policy, see ``latest_tag``); alphabetical takes every tag.
``compare``/``sort_key`` raise :class:`IneligibleTagError` for other tags.
With a filter, tags are compared by their extracted key, so two tags with
the same key compare equal.  Numerical NaN compares equal to everything,
which breaks transitivity; avoid NaN tags in ordering properties.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .errors import IneligibleTagError
from .factory import Policer
from .filter import RegexFilter


@dataclass(frozen=True)
class PolicyOrder:
    policer: Policer
    filter: RegexFilter | None = None

    def key(self, tag: str) -> str | None:
        """What the policy sees for ``tag`` (the extract), or None if filtered out."""
        return tag if self.filter is None else self.filter.key(tag)

    def why_ineligible(self, tag: str) -> str | None:
        """None if eligible, else a short human-readable reason."""
        key = self.key(tag)
        if key is None:
            return f"does not match filterTags pattern {self.filter.regexp.pattern!r}"  # type: ignore[union-attr]
        why = self.policer.why_ineligible(key)
        return None if why is None else (why if key == tag else f"extracted {key!r}: {why}")

    def eligible(self, tag: str) -> bool:
        return self.why_ineligible(tag) is None

    def _checked_key(self, tag: str) -> str:
        why = self.why_ineligible(tag)
        if why is not None:
            raise IneligibleTagError(tag, why)
        return self.key(tag)  # type: ignore[return-value]

    def compare(self, a: str, b: str) -> int:
        """<0 if ``a`` is behind ``b``, 0 if equal rank, >0 if ``a`` is ahead."""
        return self.policer.compare(self._checked_key(a), self._checked_key(b))

    def is_behind(self, a: str, b: str) -> bool:
        """True if the policy strictly prefers ``b`` over ``a``."""
        return self.compare(a, b) < 0

    def sort_key(self, tag: str) -> Any:
        """Ascending key: later in sort order = more preferred."""
        return self.policer.sort_key(self._checked_key(tag))

    def rank(self, tags: Iterable[str]) -> dict[str, int]:
        """Dense ranks of the eligible tags: 0 = least preferred."""
        eligible = sorted({t for t in tags if self.eligible(t)}, key=self.sort_key)
        ranks: dict[str, int] = {}
        rank, prev = -1, None
        for tag in eligible:
            if prev is None or self.compare(tag, prev) != 0:
                rank += 1
            ranks[tag] = rank
            prev = tag
        return ranks
