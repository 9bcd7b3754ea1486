"""How late the observers record what the API server stored (a benchmark aid).

For each recorded observation whose object carries a write timestamp, the probe keeps
``record wall time - write time``. Where the timestamps come from, and their precision:

* status writes: the latest ``metadata.managedFields[].time`` of the ``status``
  subresource (``metav1.Time``: **second** precision);
* Ready changes: the condition's ``lastTransitionTime`` (second precision);
* spec changes: the latest managedFields time of the main resource (seconds);
* Lease holder changes: ``spec.acquireTime`` (``MicroTime``: microseconds);
* Kubernetes Events: ``eventTime`` (microseconds) or ``lastTimestamp`` (seconds).

With second precision the true latency lies in ``[latency - 1 s, latency]``; each
sample keeps its ``resolution``. For sub-second benchmarks, time the write yourself
and compare with the recorded event (see tests/test_observe_integration.py).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from ..history import Event
from .parse import parse_time, time_resolution


@dataclass(frozen=True)
class LatencySample:
    kind: str  # history event kind, e.g. "policy-latest"
    key: str  # namespace/name of the object
    source: str  # which timestamp was used
    written: str  # the object's timestamp
    recorded: str  # the history event's wall clock
    latency: float  # seconds
    resolution: float  # precision of ``written`` in seconds


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in [0, 100]) of a non-empty list."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summarize(values: list[float]) -> dict[str, Any]:
    """count, min, p50, p90, p99, max of a list of seconds (rounded to ms)."""
    if not values:
        return {"count": 0}
    return {"count": len(values), "min": round(min(values), 4),
            "p50": round(percentile(values, 50), 4), "p90": round(percentile(values, 90), 4),
            "p99": round(percentile(values, 99), 4), "max": round(max(values), 4)}


class LatencyProbe:
    """Thread-safe bounded collection of :class:`LatencySample`."""

    def __init__(self, maxlen: int = 20_000) -> None:
        self._samples: deque[LatencySample] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def add(self, event: Event, key: str, written: str | None, source: str) -> LatencySample | None:
        """Add a sample for ``event`` if ``written`` parses; returns it."""
        w = parse_time(written)
        r = parse_time(event.wall)
        if w is None or r is None or written is None:
            return None
        sample = LatencySample(kind=event.kind, key=key, source=source, written=written,
                               recorded=event.wall, latency=(r - w).total_seconds(),
                               resolution=time_resolution(written))
        with self._lock:
            self._samples.append(sample)
        return sample

    @property
    def samples(self) -> list[LatencySample]:
        with self._lock:
            return list(self._samples)

    def summary(self, kind: str | None = None) -> dict[str, Any]:
        """Per event kind (or for one kind): count and percentiles of the latency."""
        samples = self.samples
        if kind is not None:
            chosen = [s for s in samples if s.kind == kind]
            out = summarize([s.latency for s in chosen])
            if chosen:
                out["resolution"] = max(s.resolution for s in chosen)
            return out
        return {k: self.summary(k) for k in sorted({s.kind for s in samples})}
