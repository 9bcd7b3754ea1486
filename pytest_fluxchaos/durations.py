"""Go/Kubernetes-style durations ("90s", "1m30s", "500ms") as used in Flux specs.

Written by hand: the only PyPI parsers either take ISO-8601 or accept free text; suites
should read exactly like the Flux manifests they mirror.
"""

from __future__ import annotations

import re

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_WHOLE = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$")


def parse_duration(value: str | int | float) -> float:
    """Seconds for ``"1m30s"``; bare numbers are seconds. Raises ValueError on bad text."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like '30s' or '1m30s', got {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"duration must not be negative, got {value!r}")
        return float(value)
    text = str(value).strip()
    if not _WHOLE.match(text):
        raise ValueError(f"expected a duration like '30s', '1m30s' or '500ms', got {value!r}")
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(text))


def format_duration(seconds: float) -> str:
    """The Kubernetes spelling of a duration (for ImageRepository.spec.interval)."""
    whole = int(round(seconds))
    if abs(seconds - whole) > 1e-9:
        return f"{int(round(seconds * 1000))}ms"
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    out = ""
    if hours:
        out += f"{hours}h"
    if minutes:
        out += f"{minutes}m"
    if secs or not out:
        out += f"{secs}s"
    return out
