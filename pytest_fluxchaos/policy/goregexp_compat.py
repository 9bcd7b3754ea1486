"""Constructs where Go (1.26) regexp and C++ RE2 disagree, made to agree.

* Go rejects ``\\C`` (RE2: any byte); a pattern ending in ``\\x{`` is an
  invalid escape in Go (RE2 misreports it as invalid UTF-8).
* Go parses every ``(?<`` as a named capture and allows only
  ``[A-Za-z0-9_]`` in names (RE2 allows Unicode letters, and reads
  ``(?<=``/``(?<!`` as unsupported look-behind).
* Go >= 1.25 matches ``\\p{...}`` names loosely (case, ``_``/``-``/space
  ignored, Unicode category aliases such as ``Letter``), but finds scripts
  only when their name is one capitalised word (``Old_Italic`` is refused).
  RE2 wants exact spellings, so names are respelled for it.

Left as known gaps: the classes Go has and RE2 lacks (``Cn``, ``LC``,
``Assigned``, ``ASCII``) are reported as invalid; and IRC v0.x, built with
Go <= 1.24 (before ``unicode.CategoryAliases`` appeared in the Go 1.25 API),
needed exact ``\\p`` names, which is not modelled.
"""

from __future__ import annotations

from functools import lru_cache

import re2

from .goregexp_errors import GoRegexpError

_OPTS = re2.Options()
_OPTS.log_errors = False

Offsets = tuple[list[int], list[int]]  # rewritten char -> original (start, end)

_RE2_CATEGORIES = frozenset(
    "C Cc Cf Co Cs L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No "
    "P Pc Pd Pe Pf Pi Po Ps S Sc Sk Sm So Z Zl Zp Zs".split()
)
# Go's unicode.CategoryAliases (Unicode property value aliases), keyed by
# Go's canonical form (first letter upper, rest lower, no "_", "-", " ").
_ALIASES = {
    "Casedletter": "LC", "Closepunctuation": "Pe", "Combiningmark": "M",
    "Connectorpunctuation": "Pc", "Control": "Cc", "Currencysymbol": "Sc",
    "Dashpunctuation": "Pd", "Decimalnumber": "Nd", "Enclosingmark": "Me",
    "Finalpunctuation": "Pf", "Format": "Cf", "Initialpunctuation": "Pi",
    "Letter": "L", "Letternumber": "Nl", "Lineseparator": "Zl",
    "Lowercaseletter": "Ll", "Mark": "M", "Mathsymbol": "Sm",
    "Modifierletter": "Lm", "Modifiersymbol": "Sk", "Nonspacingmark": "Mn",
    "Number": "N", "Openpunctuation": "Ps", "Other": "C", "Otherletter": "Lo",
    "Othernumber": "No", "Otherpunctuation": "Po", "Othersymbol": "So",
    "Paragraphseparator": "Zp", "Privateuse": "Co", "Punctuation": "P",
    "Separator": "Z", "Spaceseparator": "Zs", "Spacingmark": "Mc",
    "Surrogate": "Cs", "Symbol": "S", "Titlecaseletter": "Lt",
    "Unassigned": "Cn", "Uppercaseletter": "Lu", "Cntrl": "Cc",
    "Digit": "Nd", "Punct": "P",
}


def _canonical(name: str) -> str:
    """Go regexp/syntax ``canonicalName`` (ASCII case folding only)."""
    out: list[str] = []
    for ch in name:
        if ch in "_- ":
            continue
        if not out:
            out.append(ch.upper() if "a" <= ch <= "z" else ch)
        else:
            out.append(ch.lower() if "A" <= ch <= "Z" else ch)
    return "".join(out)


@lru_cache(maxsize=512)
def _re2_class_name(name: str) -> str | None:
    """RE2 spelling of a Go 1.26 ``\\p{name}``; None if Go rejects the name.

    Names Go accepts but RE2 cannot express (Cn, LC, Assigned, ASCII) are
    returned unchanged, so RE2 reports them (a documented gap).
    """
    neg = name.startswith("^")
    canon = _canonical(name[1:] if neg else name)
    canon = {"Lc": "LC"}.get(canon, _ALIASES.get(canon, canon))
    if canon in ("Any", "Assigned", "Ascii", "LC", "Cn") or canon in _RE2_CATEGORIES:
        found = canon
    elif canon.isascii() and canon.isalpha() and canon[1:].islower():
        try:  # a single-word script name; RE2 knows the same UCD scripts
            re2.compile(rf"\p{{{canon}}}", _OPTS)
        except re2.error:
            return None
        found = canon
    else:
        return None
    return ("^" if neg else "") + found


_GO_CAPTURE_NAME = re2.compile(r"^[A-Za-z0-9_]+$")


class _Rewriter:
    """Respell a pattern for RE2 and find the first construct only Go rejects.

    Go-only rejections: ``\\C``; Unicode class names Go does not know; named
    captures whose name is not ``[A-Za-z0-9_]+`` (RE2 allows Unicode names,
    and Go parses every ``(?<`` as a named capture).  Each is replaced by a
    placeholder so RE2 can report any error that comes earlier.
    """

    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.out: list[str] = []
        self.starts: list[int] = []  # rewritten char -> original span start
        self.ends: list[int] = []  # rewritten char -> original span end
        self.first: tuple[int, GoRegexpError] | None = None
        self.i = 0

    def emit(self, text: str, width: int) -> None:
        last = len(text) - 1
        for k in range(len(text)):
            self.starts.append(self.i + min(k, width - 1))
            self.ends.append(self.i + (width if k == last else min(k + 1, width)))
        self.out.append(text)
        self.i += width

    def flag(self, err: GoRegexpError) -> None:
        if self.first is None:
            self.first = (self.i, err)

    def run(self) -> tuple[str, Offsets, tuple[int, GoRegexpError] | None]:
        p, n = self.p, len(self.p)
        in_class, body = False, 0
        while self.i < n:
            i, ch = self.i, p[self.i]
            if not in_class and p.startswith("\\Q", i):
                end = p.find("\\E", i + 2)
                self.emit(p[i:], n - i) if end < 0 else self.emit(p[i : end + 2], end + 2 - i)
            elif ch == "\\" and i + 1 < n:
                self.escape()
            elif in_class:
                end = p.find(":]", i + 2) if p.startswith("[:", i) else -1
                if end >= 0:
                    self.emit(p[i : end + 2], end + 2 - i)
                else:
                    in_class = not (ch == "]" and i > body)
                    self.emit(ch, 1)
            elif ch == "[":
                in_class = True
                width = 2 if p.startswith("[^", i) else 1
                self.emit(p[i : i + width], width)
                body = self.i
            elif ch == "(" and (p.startswith("(?P<", i) and n - i > 4 or p.startswith("(?<", i) and n - i > 3):
                self.named_capture()
            else:
                self.emit(ch, 1)
        return "".join(self.out), (self.starts, self.ends), self.first

    def escape(self) -> None:
        p, i, n = self.p, self.i, len(self.p)
        esc = p[i + 1]
        if esc == "C":
            self.flag(GoRegexpError("invalid escape sequence", "\\C"))
            self.emit("\\.", 2)
            return
        if esc == "x" and p[i + 2 :] == "{":
            # C++ RE2 reads past the end here and says "invalid UTF-8"
            self.flag(GoRegexpError("invalid escape sequence", "\\x{"))
        if esc in "pP" and i + 2 < n:
            if p[i + 2] == "{":
                close = p.find("}", i + 3)
                if close >= 0:
                    seq, name = p[i : close + 1], p[i + 3 : close]
                    mapped = _re2_class_name(name)
                    if mapped is None:
                        self.flag(GoRegexpError("invalid character class range", seq))
                        mapped = "Any"
                    self.emit(f"\\{esc}{{{mapped}}}", len(seq))
                    return
            else:
                mapped = _re2_class_name(p[i + 2])
                if mapped is not None and mapped != p[i + 2]:
                    self.emit(f"\\{esc}{{{mapped}}}", 3)
                    return
        self.emit(p[i : i + 2], 2)

    def named_capture(self) -> None:
        p, i = self.p, self.i
        begin = i + (4 if p.startswith("(?P<", i) else 3)
        end = p.find(">", begin)
        if end < 0:
            self.flag(GoRegexpError("invalid named capture", p[i:]))
            self.emit(p[i:begin], begin - i)
        elif _GO_CAPTURE_NAME.search(p[begin:end]) is None:
            self.flag(GoRegexpError("invalid named capture", p[i : end + 1]))
            self.emit(p[i:begin], begin - i)
            for _ in range(begin, end):  # same-width placeholder name
                self.emit("x", 1)
        else:
            self.emit(p[i:begin], begin - i)


def rewrite(pattern: str) -> tuple[str, Offsets, tuple[int, GoRegexpError] | None]:
    """(RE2 pattern, rewritten->original char spans, first Go-only error)."""
    return _Rewriter(pattern).run()


