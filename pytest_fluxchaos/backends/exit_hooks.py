"""Signal-safe cleanup of live backends (docker and kind): atexit and SIGTERM/SIGHUP sweeps.

A failed or interrupted run must still remove every container, network and volume it
made; :func:`track` registers a backend so the sweep finds it even when pytest's own
teardown never runs (SIGTERM from CI, an exception in a hook).
"""

from __future__ import annotations

import atexit
import signal
import threading
import weakref
from typing import Protocol


class TearsDown(Protocol):
    def teardown(self) -> None: ...


_LIVE: weakref.WeakSet[TearsDown] = weakref.WeakSet()
_HOOKS_INSTALLED = False


def track(backend: TearsDown, *, signals: bool) -> None:
    _LIVE.add(backend)
    _install_hooks(signals)


def untrack(backend: TearsDown) -> None:
    _LIVE.discard(backend)


def _teardown_live() -> None:
    for backend in list(_LIVE):
        try:
            backend.teardown()
        except BaseException:  # noqa: BLE001 - at exit: best effort
            pass


def _install_hooks(signals: bool) -> None:
    global _HOOKS_INSTALLED
    if _HOOKS_INSTALLED:
        return
    _HOOKS_INSTALLED = True
    atexit.register(_teardown_live)
    if not signals or threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGHUP):
        try:
            if signal.getsignal(signum) in (signal.SIG_DFL, None):
                signal.signal(signum, _exit_on_signal)
        except (ValueError, OSError):
            pass


def _exit_on_signal(signum: int, _frame: object) -> None:
    """SIGTERM/SIGHUP -> SystemExit, so ``finally`` blocks (the runner's teardown) run;
    the atexit hook then sweeps whatever is left."""
    raise SystemExit(128 + signum)
