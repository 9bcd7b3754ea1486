"""Go ``regexp`` (RE2 syntax) on top of google-re2, with Go's error texts.

Go's regexp/syntax parser is a port of C++ RE2's, so the accepted language,
leftmost-first matching and the offending-fragment in error messages agree;
only the wording of the error codes differs, which is mapped here.  Known
differences handled: Go rejects ``\\C`` (C++ RE2 accepts it).  Unhandled
(documented) differences: Unicode table versions, and the exact resource
limits behind "expression too large".  Python's ``re`` is not usable: it
accepts look-arounds and backreferences, and its ``\\d``, ``\\s``, ``\\w``
and ``$`` mean different things.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import re2

_OPTS = re2.Options()
_OPTS.log_errors = False

# C++ RE2 error-code text -> Go regexp/syntax ErrorCode text
_ERROR_CODES = {
    "unexpected error": "regexp/syntax: internal error",
    "invalid escape sequence": "invalid escape sequence",
    "invalid character class": "invalid character class",
    "invalid character class range": "invalid character class range",
    "missing ]": "missing closing ]",
    "missing )": "missing closing )",
    "unexpected )": "unexpected )",
    "trailing \\": "trailing backslash at end of expression",
    "no argument for repetition operator": "missing argument to repetition operator",
    "invalid repetition size": "invalid repeat count",
    "bad repetition operator": "invalid nested repetition operator",
    "invalid perl operator": "invalid or unsupported Perl syntax",
    "invalid UTF-8": "invalid UTF-8",
    "invalid named capture group": "invalid named capture",
    "pattern too large - compile failed": "expression too large",
    "pattern too large - reverse compile failed": "expression too large",
}


class GoRegexpError(ValueError):
    """``*syntax.Error``; str() is Go's ``err.Error()``."""

    def __init__(self, code: str, expr: str) -> None:
        super().__init__(f"error parsing regexp: {code}: `{expr}`")
        self.code = code
        self.expr = expr


def _go_error(cpp_message: str) -> GoRegexpError:
    """Translate a C++ RE2 message "code: arg" (or bare "code")."""
    for cpp, go in sorted(_ERROR_CODES.items(), key=lambda kv: -len(kv[0])):
        if cpp_message == cpp:
            return GoRegexpError(go, "")
        if cpp_message.startswith(cpp + ": "):
            return GoRegexpError(go, cpp_message[len(cpp) + 2 :])
    return GoRegexpError("regexp/syntax: internal error", cpp_message)


def _find_backslash_c(pattern: str) -> bool:
    """True if the pattern uses the ``\\C`` escape (outside ``\\Q...\\E``)."""
    i, n = 0, len(pattern)
    while i < n:
        if pattern.startswith("\\Q", i):
            end = pattern.find("\\E", i + 2)
            if end < 0:
                return False
            i = end + 2
        elif pattern[i] == "\\":
            if pattern[i + 1 : i + 2] == "C":
                return True
            i += 2
        else:
            i += 1
    return False


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
        try:
            self._re = re2.compile(pattern, _OPTS)
        except re2.error as exc:
            msg = exc.args[0] if exc.args else str(exc)
            if isinstance(msg, bytes):
                msg = msg.decode("utf-8", "replace")
            raise _go_error(str(msg)) from None
        if _find_backslash_c(pattern):
            raise GoRegexpError("invalid escape sequence", "\\C")
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
