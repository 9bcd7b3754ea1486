"""Go ``regexp`` (RE2 syntax) on top of google-re2, with Go's error texts.

Hand-written glue: google-re2 gives the same engine (Go's regexp/syntax is
a port of C++ RE2: same syntax, leftmost-first matching, ASCII ``\\d``,
``\\s``, ``\\w``, ``$`` only at the end of text).  Python's ``re`` would
accept look-arounds and backreferences and treat classes differently.
Where Go and C++ RE2 differ, see :mod:`.goregexp_compat`; error wording is
translated in :mod:`.goregexp_errors`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import re2

from .goregexp_compat import Offsets, rewrite
from .goregexp_errors import TRUNCATION_CODES, GoRegexpError, go_error

__all__ = ["GoMatch", "GoRegexp", "GoRegexpError", "capture_names", "compile_go"]

_OPTS = re2.Options()
_OPTS.log_errors = False


def _compile(pattern: str) -> re2._Regexp:
    """Compile with RE2, raising Go's error for the original pattern.

    Go reports the first error in a left-to-right parse.  When the pattern
    has a construct only Go rejects, RE2's own first error wins only if it
    already occurs in the text before that construct.
    """
    rewritten, offsets, go_only = rewrite(pattern)
    try:
        compiled = re2.compile(rewritten, _OPTS)
        full_err = None
    except re2.error as exc:
        compiled, full_err = None, _translate(exc, pattern, rewritten, offsets)
    if go_only is not None:
        at, err = go_only
        if full_err is None:
            raise err
        prefix_err = _compile_error(pattern[:at])
        if prefix_err is None or prefix_err.code in TRUNCATION_CODES:
            raise err
    if full_err is not None:
        raise full_err
    return compiled


def _translate(exc: Exception, pattern: str, rewritten: str, offsets: Offsets) -> GoRegexpError:
    """Go's error for ``pattern`` from RE2's error on ``rewritten``."""
    msg = exc.args[0] if exc.args else str(exc)
    if isinstance(msg, bytes):
        msg = msg.decode("utf-8", "replace")
    err = go_error(str(msg))
    if rewritten != pattern and err.expr:
        start = rewritten.find(err.expr)
        if start >= 0:
            starts, ends = offsets
            stop = start + len(err.expr) - 1
            err = GoRegexpError(err.code, pattern[starts[start] : ends[stop]])
    return err


def _compile_error(pattern: str) -> GoRegexpError | None:
    try:
        _compile(pattern)
    except GoRegexpError as err:
        return err
    return None


def capture_names(pattern: str) -> list[str]:
    """Go ``SubexpNames()`` for a pattern that compiles: index 0 is "".

    Needed because C++ RE2 reports only the first group of a duplicated
    name, while Go's Expand looks through all of them.
    """
    names = [""]
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if pattern.startswith("\\Q", i):
            end = pattern.find("\\E", i + 2)
            i = n if end < 0 else end + 2
        elif ch == "\\":
            i += 2
        elif ch == "[":
            i = _skip_class(pattern, i)
        elif ch == "(":
            if pattern.startswith("(?P<", i) or (
                pattern.startswith("(?<", i) and not pattern.startswith("(?<=", i)
            ):
                start = pattern.index("<", i) + 1
                end = pattern.index(">", start)
                names.append(pattern[start:end])
                i = end + 1
            elif pattern.startswith("(?", i):
                i += 2
            else:
                names.append("")
                i += 1
        else:
            i += 1
    return names


def _skip_class(pattern: str, i: int) -> int:
    """Index just past the character class starting at ``pattern[i] == '['``."""
    n = len(pattern)
    i += 1
    if i < n and pattern[i] == "^":
        i += 1
    if i < n and pattern[i] == "]":  # a leading ] is literal
        i += 1
    while i < n:
        if pattern.startswith("[:", i):
            end = pattern.find(":]", i + 2)
            if end >= 0:
                i = end + 2
                continue
        ch = pattern[i]
        if ch == "\\":
            i += 2
        elif ch == "]":
            return i + 1
        else:
            i += 1
    return n


@dataclass(frozen=True)
class GoMatch:
    """Submatch spans as Go's FindStringSubmatchIndex (-1 for unmatched)."""

    text: str
    spans: tuple[tuple[int, int], ...]

    def group(self, i: int) -> str | None:
        a, b = self.spans[i]
        return None if a < 0 else self.text[a:b]


class GoRegexp:
    """A compiled Go-syntax regexp."""

    def __init__(self, pattern: str) -> None:
        if pattern and not pattern.isascii():
            try:
                pattern.encode("utf-8")
            except UnicodeEncodeError:
                raise GoRegexpError("invalid UTF-8", pattern) from None
        self._re = _compile(pattern)
        self.pattern = pattern
        names = capture_names(pattern)
        if len(names) != self._re.groups + 1:  # scanner disagreed; trust RE2
            names = [""] * (self._re.groups + 1)
            for name, idx in self._re.groupindex.items():
                names[idx] = name
        self.subexp_names: tuple[str, ...] = tuple(names)

    def search(self, text: str) -> GoMatch | None:
        """Leftmost-first unanchored search (``FindStringSubmatchIndex``)."""
        m = self._re.search(text)
        if m is None:
            return None
        spans = tuple(m.span(i) for i in range(self._re.groups + 1))
        return GoMatch(text, spans)

    def match_string(self, text: str) -> bool:
        """``MatchString``: any match anywhere."""
        return self._re.search(text) is not None


@lru_cache(maxsize=256)
def compile_go(pattern: str) -> GoRegexp:
    """``regexp.Compile``; raises :class:`GoRegexpError` with Go's text."""
    return GoRegexp(pattern)
