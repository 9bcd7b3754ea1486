"""Flux setter markers: find them in manifests, read the tag each one holds, write them.

image-automation-controller's Setters strategy rewrites the YAML value on any line that
ends in a marker comment ``# {"$imagepolicy": "<namespace>:<policy>[:tag|:name]"}``:
the bare form holds the whole image reference (``name:tag``), ``:tag`` only the tag,
``:name`` only the name. The Git checkers judge the tag a marker holds at each commit,
so they need to read markers exactly as IAC writes them, nothing more: a line-level
parse of the comment and the scalar before it (the YAML itself is never re-rendered).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

_MARKER = re.compile(r'#\s*(\{\s*"\$imagepolicy"\s*:\s*"[^"]*"\s*\})\s*$')
_VALUE = re.compile(r'^(?P<indent>\s*(?:-\s+)?)(?P<key>[^:#]+?):\s*(?P<value>"[^"]*"|\'[^\']*\'|[^\s#]+)\s*')


@dataclass(frozen=True)
class Marker:
    """One setter marker in one file: where it is, which policy, what it holds now."""

    path: str
    line: int  # 1-based
    policy: str  # namespace/name, as the history names policies
    form: str  # "image" (name:tag), "tag" or "name"
    value: str
    text: str  # the whole line, for evidence

    @property
    def tag(self) -> str | None:
        """The tag this marker holds (None for the ``:name`` form or a digest-only ref)."""
        if self.form == "tag":
            return self.value or None
        if self.form == "image":
            return image_tag(self.value)
        return None


def image_tag(ref: str) -> str | None:
    """``host:5000/ns/app:1.2.0`` -> ``1.2.0``; digests are dropped, no tag -> None."""
    ref = ref.split("@", 1)[0]
    name, _, tag = ref.rpartition(":")
    if not name or "/" in tag:
        return None
    return tag or None


def parse_markers(path: str, text: str) -> list[Marker]:
    """Every setter marker in one file's text (lines that do not parse are skipped)."""
    found: list[Marker] = []
    for number, line in enumerate(text.splitlines(), start=1):
        m = _MARKER.search(line)
        if not m:
            continue
        try:
            ref = json.loads(m.group(1))["$imagepolicy"]
        except (ValueError, KeyError):
            continue
        parts = ref.split(":")
        if len(parts) not in (2, 3) or not all(parts[:2]):
            continue
        form = "image" if len(parts) == 2 else parts[2]
        if form not in ("image", "tag", "name"):
            continue
        v = _VALUE.match(line[:m.start()])
        if not v:
            continue
        value = v.group("value").strip("'\"")
        found.append(Marker(path, number, f"{parts[0]}/{parts[1]}", form, value, line.rstrip()))
    return found


def marker_comment(namespace: str, policy: str, form: str = "image") -> str:
    """The comment IAC looks for, e.g. ``# {"$imagepolicy": "ns:app"}``."""
    suffix = "" if form == "image" else f":{form}"
    return f'# {{"$imagepolicy": "{namespace}:{policy}{suffix}"}}'
