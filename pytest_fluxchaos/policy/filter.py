"""``spec.filterTags``: IRC's RegexFilter (internal/policy/filter.go).

Each tag is searched (unanchored, first leftmost match); a matching tag is
keyed by the expanded ``extract`` template, or by itself when ``extract``
is empty.  The result is a Go map key -> original tag, so a later tag with
the same key replaces an earlier one, and the order in which the policy
sees the keys is Go's randomised map order (see ``oracle.latest_candidates``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .errors import REASON_INVALID_POLICY, PolicyError
from .goregexp import GoRegexp, GoRegexpError, compile_go
from .gotemplate import expand


@dataclass(frozen=True)
class RegexFilter:
    """A compiled ``filterTags`` spec."""

    regexp: GoRegexp
    extract: str

    def key(self, tag: str) -> str | None:
        """The policy key for ``tag``, or None if the pattern does not match."""
        m = self.regexp.search(tag)
        if m is None:
            return None
        return expand(self.regexp, self.extract, m) if self.extract else tag

    def apply(self, tags: Iterable[str]) -> dict[str, str]:
        """key -> original tag; insertion order = first appearance of the key."""
        out: dict[str, str] = {}
        for tag in tags:
            k = self.key(tag)
            if k is not None:
                out[k] = tag
        return out


def new_regex_filter(filter_tags: Mapping[str, str]) -> RegexFilter:
    """``NewRegexFilter`` from a ``{"pattern":..., "extract":...}`` mapping.

    Raises PolicyError worded as applyPolicy wraps it ("failed to filter
    tags: invalid regular expression pattern ...") with reason InvalidPolicy.
    """
    pattern = filter_tags.get("pattern") or ""
    extract = filter_tags.get("extract") or ""
    try:
        regexp = compile_go(pattern)
    except GoRegexpError as exc:
        raise PolicyError(
            f"failed to filter tags: invalid regular expression pattern '{pattern}': {exc}",
            REASON_INVALID_POLICY,
        ) from None
    return RegexFilter(regexp, extract)
