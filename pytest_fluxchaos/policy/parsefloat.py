"""Go ``strconv.ParseFloat(s, 64)``: which strings parse, and to what value.

Hand-written because Python's ``float()`` accepts a different language:
it allows surrounding whitespace, ``+nan``/``-nan``, and no hex floats,
while Go accepts hex floats (``0x1p-2``, exponent required), ``_`` digit
separators anywhere the Go literal syntax allows them (``1_000``,
``0x_1p0``), ``inf``/``infinity``/``nan`` in any case (sign only on inf),
and reports out-of-range values (``1e400``) as errors.

The value itself comes from Python's correctly rounded conversions
(``float()`` for decimal, ``float.fromhex`` for hex), which agree with Go's
correctly rounded ParseFloat.
"""

from __future__ import annotations

import math

from .gostrings import go_quote


class ParseFloatError(ValueError):
    """``*strconv.NumError``; ``kind`` is "syntax" or "range"."""

    def __init__(self, s: str, kind: str) -> None:
        text = "invalid syntax" if kind == "syntax" else "value out of range"
        super().__init__(f"strconv.ParseFloat: parsing {go_quote(s)}: {text}")
        self.kind = kind


_DEC = frozenset("0123456789")
_HEX = frozenset("0123456789abcdefABCDEF")


def _special(s: str) -> float | None:
    """Go ``special``: [+-]inf, [+-]infinity or nan, ASCII case-insensitive."""
    body = s[1:] if s[:1] in ("+", "-") else s
    word = body.lower()
    if word in ("inf", "infinity"):
        return -math.inf if s[:1] == "-" else math.inf
    if word == "nan" and body == s:  # no sign allowed on NaN
        return math.nan
    return None


def _underscore_ok(s: str) -> bool:
    """Go ``underscoreOK``: each ``_`` sits between digits (or after 0x)."""
    saw = "^"
    i = 0
    if s[:1] in ("+", "-") and s:
        s = s[1:]
    hexa = False
    if len(s) >= 2 and s[0] == "0" and s[1].lower() in "box":
        i, saw, hexa = 2, "0", s[1].lower() == "x"
    for ch in s[i:]:
        if ch in _DEC or (hexa and ch in _HEX):
            saw = "0"
        elif ch == "_":
            if saw != "0":
                return False
            saw = "_"
        elif saw == "_":
            return False
        else:
            saw = "!"
    return saw != "_"


def _scan(s: str) -> bool:
    """Go ``readFloat`` over the whole string; True if it consumes all of it."""
    n, i = len(s), 0
    if i < n and s[i] in "+-":
        i += 1
    hexa = i + 2 < n and s[i] == "0" and s[i + 1] in "xX"
    if hexa:
        i += 2
    digits = _HEX if hexa else _DEC
    saw_dot = saw_digits = False
    while i < n:
        ch = s[i]
        if ch == "_":
            pass
        elif ch == ".":
            if saw_dot:
                break
            saw_dot = True
        elif ch in digits:
            saw_digits = True
        else:
            break
        i += 1
    if not saw_digits:
        return False
    if i < n and s[i].lower() == ("p" if hexa else "e"):
        i += 1
        if i < n and s[i] in "+-":
            i += 1
        if i >= n or s[i] not in _DEC:
            return False
        while i < n and (s[i] in _DEC or s[i] == "_"):
            i += 1
    elif hexa:
        return False  # a hex mantissa requires a 'p' exponent
    return i == n


def parse_float(s: str) -> float:
    """Return Go's ParseFloat(s, 64) value or raise :class:`ParseFloatError`."""
    if not s.isascii():  # Go works on bytes; no non-ASCII byte is accepted
        raise ParseFloatError(s, "syntax")
    special = _special(s)
    if special is not None:
        return special
    if not _scan(s) or ("_" in s and not _underscore_ok(s)):
        raise ParseFloatError(s, "syntax")
    clean = s.replace("_", "")
    body = clean.lstrip("+-")
    if body[:2].lower() == "0x":
        try:
            value = float.fromhex(clean)
        except OverflowError:
            raise ParseFloatError(s, "range") from None
    else:
        value = float(clean)
        if math.isinf(value):
            raise ParseFloatError(s, "range")
    return value
