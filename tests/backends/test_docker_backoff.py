"""The kubelet's restart back-off schedule."""

from __future__ import annotations

import pytest

from pytest_fluxchaos.backends.docker.backoff import BackoffPolicy, CrashLoop


def test_kubelet_default_schedule() -> None:
    p = BackoffPolicy()
    # First exit restarts at once, then 10s, 20s, 40s ... capped at 5 minutes.
    assert p.schedule(8) == [0, 10, 20, 40, 80, 160, 300, 300]
    assert p.delay(1000) == 300


def test_small_base_for_tests() -> None:
    p = BackoffPolicy(initial=0.5, maximum=2)
    assert p.schedule(5) == [0, 0.5, 1, 2, 2]


def test_reset_after_long_run() -> None:
    loop = CrashLoop(BackoffPolicy())
    assert [loop.on_exit(1) for _ in range(3)] == [0, 10, 20]
    assert loop.on_exit(601) == 0  # ran 10 min: counts as a first exit again
    assert loop.on_exit(5) == 10


def test_invalid() -> None:
    with pytest.raises(ValueError):
        BackoffPolicy(initial=10, maximum=5)


def test_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLUXCHAOS_BACKOFF_INITIAL", "1")
    monkeypatch.setenv("FLUXCHAOS_BACKOFF_MAX", "4")
    assert BackoffPolicy.from_env().schedule(5) == [0, 1, 2, 4, 4]
