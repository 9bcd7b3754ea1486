"""The kubelet's container restart back-off (CrashLoopBackOff), as plain arithmetic.

Kubelet semantics (``restartPolicy: Always``):

* the first exit of a container is restarted at once;
* each further exit waits ``initial``, ``2*initial``, ``4*initial`` ... capped at
  ``maximum`` (10 s, 20 s, 40s ... 5 min by default);
* a container that ran for ``reset_after`` (10 min) before exiting starts the count
  afresh (its exit counts as a first exit again).

Tests use a small ``initial`` (e.g. ``BackoffPolicy(initial=1, maximum=8)``) so a
crash loop can be observed in seconds; ``DockerBackend(backoff=...)`` takes it, and the
environment variables ``FLUXCHAOS_BACKOFF_INITIAL`` / ``FLUXCHAOS_BACKOFF_MAX`` override
the defaults of :meth:`BackoffPolicy.from_env`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class BackoffPolicy:
    initial: float = 10.0
    maximum: float = 300.0
    reset_after: float = 600.0

    def __post_init__(self) -> None:
        if self.initial < 0 or self.maximum < self.initial or self.reset_after <= 0:
            raise ValueError(f"invalid back-off policy {self!r}")

    @classmethod
    def from_env(cls) -> BackoffPolicy:
        initial = float(os.environ.get("FLUXCHAOS_BACKOFF_INITIAL", cls.initial))
        maximum = float(os.environ.get("FLUXCHAOS_BACKOFF_MAX", max(cls.maximum, initial)))
        return cls(initial=initial, maximum=max(maximum, initial))

    def delay(self, consecutive_exits: int) -> float:
        """Seconds to wait before restarting after the n-th consecutive exit (n >= 1)."""
        if consecutive_exits <= 1:
            return 0.0
        # Avoid float overflow for long crash loops.
        exponent = min(consecutive_exits - 2, 64)
        return float(min(self.initial * (2**exponent), self.maximum))

    def schedule(self, n: int) -> list[float]:
        """The delays of the first ``n`` consecutive exits (for humans and tests)."""
        return [self.delay(i) for i in range(1, n + 1)]


@dataclass
class CrashLoop:
    """Counts consecutive exits of one pod's container and yields the next delay."""

    policy: BackoffPolicy
    consecutive: int = 0

    def on_exit(self, ran_for: float) -> float:
        if ran_for >= self.policy.reset_after:
            self.consecutive = 0
        self.consecutive += 1
        return self.policy.delay(self.consecutive)
