"""Warning storms: how often a controller repeated one Warning about one object.

image-reflector-controller#930: after a pod deletion every policy reports
DependencyNotReady "no tags in database" with a Warning Event at each requeue until its
repository rescans. The policy's Ready says *that* it waits; the Events say how loudly
(an Alert on ImagePolicy errors pages someone for each one).

The API server folds repetitions into one Event object whose ``count`` grows, so the
warnings of a storm are the highest count seen per Event object, summed. Its duration
runs from the first object's ``firstTimestamp`` to the last ``lastTimestamp`` (the
Events' own clock, second precision; the history's clock when a timestamp is missing).
The rate is ``(warnings - 1)`` per that duration: the repetition rate, so a Warning
every 30 s reads 2.0/min however short the storm (None for a single warning).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from pytest_fluxchaos.history import History, KubeEvent

DEPENDENCY_NOT_READY = "DependencyNotReady"


@dataclass(frozen=True)
class Storm:
    involved: str
    reason: str
    warnings: int
    duration: float  # seconds
    start_t: float  # history clock of the first and last observation
    end_t: float
    first: str | None  # the Events' own timestamps
    last: str | None
    messages: tuple[str, ...]

    @property
    def per_minute(self) -> float | None:
        if self.warnings < 2 or self.duration <= 0:
            return None
        return (self.warnings - 1) * 60.0 / self.duration

    def to_dict(self) -> dict[str, Any]:
        rate = self.per_minute
        return {"warnings": self.warnings, "per_minute": None if rate is None else round(rate, 2),
                "duration": round(self.duration, 1), "first": self.first, "last": self.last,
                "observed_from": self.start_t, "observed_until": self.end_t,
                "messages": list(self.messages)}

    def describe(self) -> str:
        rate = self.per_minute
        how = f"{rate:.1f}/min" if rate is not None else "once"
        return (f"{self.warnings} {self.reason} warning(s) over {self.duration:.0f}s ({how})"
                + (f": {self.messages[0]}" if self.messages else ""))


def _parse(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    try:
        parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _stamped(stamps: list[str | None]) -> list[tuple[datetime, str]]:
    return [(d, s) for s in stamps if s and (d := _parse(s)) is not None]


def warning_storm(history: History, involved: str,
                  reason: str = DEPENDENCY_NOT_READY) -> Storm | None:
    """The storm of ``reason`` Warnings about ``involved`` (namespace/name), or None."""
    seen = [e for e in history.of(KubeEvent)
            if e.involved == involved and e.reason == reason and e.type == "Warning"]
    if not seen:
        return None
    counts: dict[str, int] = {}
    for e in seen:
        key = e.name or f"{e.involved}|{e.message}"
        counts[key] = max(counts.get(key, 0), e.count)
    firsts = _stamped([e.first_timestamp or e.last_timestamp for e in seen])
    lasts = _stamped([e.last_timestamp or e.first_timestamp for e in seen])
    start_t, end_t = seen[0].t, seen[-1].t
    if firsts and lasts:
        first = min(firsts, key=lambda p: p[0])
        last = max(lasts, key=lambda p: p[0])
        duration = max(0.0, (last[0] - first[0]).total_seconds())
        stamps: tuple[str | None, str | None] = (first[1], last[1])
    else:
        duration, stamps = end_t - start_t, (None, None)
    messages = tuple(dict.fromkeys(e.message for e in seen if e.message))
    return Storm(involved, reason, sum(counts.values()), duration, start_t, end_t,
                 stamps[0], stamps[1], messages)
