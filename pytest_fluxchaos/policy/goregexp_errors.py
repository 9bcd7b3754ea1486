"""Go regexp/syntax error values, translated from C++ RE2 messages.

Go's parser is a port of C++ RE2's, so both report the same offending
fragment; only the code wording differs, plus one ordering difference:
Go checks a ``{n,m}`` count before it looks for nested repetition.
"""

from __future__ import annotations

import re2

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


_REPEAT_TAIL = re2.compile(r"(\{([0-9]+)(,([0-9]*))?\})\??$")


def go_error(cpp_message: str) -> GoRegexpError:
    """Translate a C++ RE2 message "code: arg" (or bare "code")."""
    for cpp, go in sorted(_ERROR_CODES.items(), key=lambda kv: -len(kv[0])):
        if cpp_message == cpp:
            return GoRegexpError(go, "")
        if cpp_message.startswith(cpp + ": "):
            arg = cpp_message[len(cpp) + 2 :]
            if cpp == "bad repetition operator":
                # Go validates a {n,m} count before looking for nesting.
                m = _REPEAT_TAIL.search(arg)
                if m is not None and not _repeat_size_ok(m.group(2), m.group(3), m.group(4)):
                    return GoRegexpError("invalid repeat count", m.group(1))
            if cpp == "invalid repetition size" and arg.endswith("}?"):
                arg = arg[:-1]  # Go's fragment stops at the closing brace
            return GoRegexpError(go, arg)
    return GoRegexpError("regexp/syntax: internal error", cpp_message)


def _repeat_size_ok(lo: str, comma: str | None, hi: str | None) -> bool:
    """Go's bound check for ``{lo}``, ``{lo,}`` and ``{lo,hi}``."""
    low = int(lo) if len(lo) <= 8 else -1
    high = low if comma is None else (-1 if not hi else (int(hi) if len(hi) <= 8 else -2))
    if low < 0 or low > 1000 or high > 1000 or high == -2:
        return False
    return not (high >= 0 and low > high)



# errors a truncated pattern prefix shows only because it was cut short
TRUNCATION_CODES = frozenset({"missing closing )", "missing closing ]"})
