"""Go ``Regexp.ExpandString`` template expansion.

Hand-written: neither ``re`` nor ``re2`` implement Go's template rules
(``\\1`` vs ``$1``, longest name after a bare ``$``, silent empty
expansion of unknown or unmatched groups, ``$`` kept when malformed).
"""

from __future__ import annotations

import unicodedata

from .goregexp import GoMatch, GoRegexp


def _name_char(ch: str) -> bool:
    """unicode.IsLetter, unicode.IsDigit (Nd) or '_'."""
    if ch == "_":
        return True
    cat = unicodedata.category(ch)
    return cat.startswith("L") or cat == "Nd"


def _extract(s: str) -> tuple[str, int, str] | None:
    """Go ``extract``: (name, number or -1, rest) after a ``$``; None if malformed."""
    if not s:
        return None
    brace = s[0] == "{"
    if brace:
        s = s[1:]
    i = 0
    while i < len(s) and _name_char(s[i]):
        i += 1
    if i == 0:
        return None
    name = s[:i]
    if brace:
        if i >= len(s) or s[i] != "}":
            return None
        i += 1
    num = 0
    for ch in name.encode("utf-8"):
        if not (0x30 <= ch <= 0x39) or num >= 100_000_000:
            num = -1
            break
        num = num * 10 + ch - 0x30
    if name[0] == "0" and len(name) > 1:
        num = -1  # leading zeros make it a name, not a number
    return name, num, s[i:]


def expand(regexp: GoRegexp, template: str, match: GoMatch) -> str:
    """Expand ``template`` against ``match`` exactly as Go does."""
    out: list[str] = []
    spans = match.spans
    while template:
        before, dollar, after = template.partition("$")
        if not dollar:
            break
        out.append(before)
        template = after
        if template.startswith("$"):  # $$ is a literal $
            out.append("$")
            template = template[1:]
            continue
        parsed = _extract(template)
        if parsed is None:  # malformed: keep the $ and go on after it
            out.append("$")
            continue
        name, num, template = parsed
        if num >= 0:
            if num < len(spans) and spans[num][0] >= 0:
                out.append(match.text[spans[num][0] : spans[num][1]])
        else:
            # first group with this name that took part in the match
            for idx, group_name in enumerate(regexp.subexp_names):
                if group_name == name and idx < len(spans) and spans[idx][0] >= 0:
                    out.append(match.text[spans[idx][0] : spans[idx][1]])
                    break
    out.append(template)
    return "".join(out)
