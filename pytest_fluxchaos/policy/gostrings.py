"""Small Go string behaviours needed to reproduce Flux messages and orderings.

Hand-written: Python's repr() and Go's %q differ (quote style, escapes).
"""

from __future__ import annotations

_NAMED_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
    '"': '\\"',
}


def go_quote(s: str) -> str:
    """Go's ``fmt.Sprintf("%q", s)`` (strconv.Quote) for a valid UTF-8 string.

    Printable runes (Go's IsPrint: letters, marks, numbers, punctuation,
    symbols, ASCII space) are kept; Python's isprintable() is the same
    category test, modulo Unicode table versions.
    """
    out = ['"']
    for ch in s:
        esc = _NAMED_ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
            continue
        cp = ord(ch)
        if cp < 0x20 or cp == 0x7F:
            out.append(f"\\x{cp:02x}")
        elif ch == " " or ch.isprintable():
            out.append(ch)
        elif 0xD800 <= cp <= 0xDFFF:  # not a valid rune; Go writes U+FFFD
            out.append("\\ufffd")
        elif cp < 0x10000:
            out.append(f"\\u{cp:04x}")
        else:
            out.append(f"\\U{cp:08x}")
    out.append('"')
    return "".join(out)


def utf8_key(s: str) -> bytes:
    """Byte-wise sort key, as Go compares strings (sort.Strings, <, >).

    Code-point order equals UTF-8 byte order, so plain ``str`` comparison
    would do; the explicit key documents the intent and tolerates lone
    surrogates.
    """
    return s.encode("utf-8", "surrogatepass")
