"""Terminal progress for long phases, and one result line per item for CI logs.

:class:`Progress` is what the session hands to environments and runs as their
``progress`` callable (``progress("docker: creating network")``); it also offers
``phase(name)`` (a context manager that reports the elapsed time when the phase ends)
and ``tick(detail)`` for waits. What it prints depends on where the output goes:

- a TTY (verbosity >= 0): one live status line, rewritten in place with ``\\r``
  (``fluxchaos [  12s] waiting for Flux … 8s``); finished phases and messages
  become ordinary lines above it;
- not a TTY (CI logs, pipes): plain lines only, never ``\\r``; a wait prints a
  "still ..." line at most every ``heartbeat`` seconds (60), so logs stay short but
  show that something is alive;
- ``-q`` (verbosity < 0), no terminal writer, or a pytest-xdist worker (its output
  would interleave with other workers'): nothing. Messages still go to ``log``.

Progress is built from plain values (``writer``, ``verbosity``, ``is_tty``,
``is_worker``) so it can be tested without pytest; :meth:`Progress.from_config`
derives them from a pytest config and suspends output capturing around its writes
(progress is written while a test runs, when pytest captures fd 1).

:class:`ResultLines` is a small pytest plugin printing one line per item from the
item's JUnit properties (``fluxchaos.*``), on the controlling process, so it also
works under xdist; :func:`summary_line` formats the line.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager as ContextManager
from pathlib import Path
from typing import Any

import pytest

PREFIX = "fluxchaos"


def _fmt_elapsed(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class Phase:
    """A running phase; ``tick(detail)`` reports that a wait goes on."""

    def __init__(self, progress: Progress, name: str, quiet_under: float = 0.0) -> None:
        self.progress = progress
        self.name = name
        self.quiet_under = quiet_under
        self.announced = quiet_under <= 0  # a plain line was printed for its start
        self.started = progress.clock()
        self.detail: str | None = None
        self.ended: float | None = None
        self.last_line = self.started  # last plain line printed for it (heartbeat)

    @property
    def elapsed(self) -> float:
        end = self.ended if self.ended is not None else self.progress.clock()
        return end - self.started

    def tick(self, detail: str | None = None) -> None:
        self.progress._tick(self, detail)


class Progress:
    """Terminal progress; callable like the plain ``Progress = Callable[[str], None]``.

    ``writer`` is pytest's TerminalReporter (or a TerminalWriter, or any object with
    ``write(text)``); ``suspend`` returns a context manager under which writing to the
    terminal is safe (pytest: ``capturemanager.global_and_fixture_disabled``).
    """

    def __init__(self, writer: Any | None, verbosity: int = 0, is_tty: bool = False,
                 is_worker: bool = False, *, clock: Callable[[], float] = time.monotonic,
                 heartbeat: float = 60.0, min_redraw: float = 0.2, refresh: float | None = 1.0,
                 log: logging.Logger | None = None,
                 suspend: Callable[[], ContextManager[Any]] | None = None,
                 width: int | None = None) -> None:
        self.writer = writer
        self.verbosity = verbosity
        self.is_tty = is_tty
        self.is_worker = is_worker
        self.clock = clock
        self.heartbeat = heartbeat
        self.min_redraw = min_redraw
        self.refresh = refresh
        self._ticker: threading.Thread | None = None
        self.log = log
        self.suspend = suspend
        self.width = width
        self.origin = clock()
        self.timings: dict[str, float] = {}
        self._phases: list[Phase] = []
        self._status_len = 0  # length of the live status line on screen (TTY)
        self._last_draw = float("-inf")
        self._lock = threading.RLock()

    @classmethod
    def from_config(cls, config: Any, **kwargs: Any) -> Progress:
        """Progress for a pytest run: terminal reporter, ``-q``/``-v``, TTY, xdist worker.

        Safe to call from ``pytest_configure`` (the terminal reporter is looked up when
        something is written, it may not be registered yet)."""
        capman = config.pluginmanager.get_plugin("capturemanager")
        verbosity = int(getattr(config.option, "verbose", 0) or 0)
        kwargs.setdefault("suspend", capman.global_and_fixture_disabled if capman else None)
        kwargs.setdefault("log", logging.getLogger("fluxchaos"))
        return cls(TerminalProxy(config), verbosity, _stdout_isatty(config),
                   hasattr(config, "workerinput"), **kwargs)

    # -- state ---------------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        return self.writer is not None and self.verbosity >= 0 and not self.is_worker

    def elapsed(self) -> float:
        return self.clock() - self.origin

    # -- API -----------------------------------------------------------------------
    def __call__(self, message: str) -> None:
        """One progress message (what environments and the runner report)."""
        if self.log is not None:
            self.log.info(message)
        if self.enabled:
            with self._lock:
                self._line(message)

    message = __call__

    @contextlib.contextmanager
    def phase(self, name: str, quiet_under: float = 0.0) -> Iterator[Phase]:
        """``with progress.phase("cluster create") as p: ... p.tick("etcd")``

        ``quiet_under``: for phases that are usually short (waiting for a trigger), no
        plain line is printed unless the phase lasts that many seconds (ticks must come
        to notice); on a TTY the live status line is shown regardless."""
        phase = Phase(self, name, quiet_under)
        with self._lock:
            self._phases.append(phase)
            if self.log is not None and not quiet_under:
                self.log.info("%s ...", name)
            if self.enabled:
                if self.is_tty:
                    self._draw(force=True)
                elif phase.announced:
                    self._line(f"{name} ...")
                self._start_ticker()
        failed: BaseException | None = None
        try:
            yield phase
        except BaseException as exc:
            failed = exc
            raise
        finally:
            phase.ended = self.clock()
            with self._lock:
                if phase in self._phases:
                    self._phases.remove(phase)
                self.timings[name] = round(phase.elapsed, 3)
                took = _fmt_elapsed(phase.elapsed)
                if failed is None:
                    text = f"{name} done in {took}"
                elif isinstance(failed, KeyboardInterrupt):
                    text = f"{name} interrupted after {took}"
                else:
                    text = f"{name} failed after {took} ({type(failed).__name__})"
                worth = phase.announced or failed is not None or phase.elapsed >= phase.quiet_under
                if self.log is not None and worth:
                    self.log.info(text)
                if self.enabled and worth:
                    self._line(text, green=failed is None, red=failed is not None)
                elif self.enabled and self.is_tty:
                    if self._phases:
                        self._draw(force=True)  # back to the enclosing phase
                    else:
                        self.clear()

    def tick(self, detail: str | None = None) -> None:
        """A wait goes on: refresh the innermost phase (or a bare status line)."""
        with self._lock:
            phase = self._phases[-1] if self._phases else None
            if phase is None:
                if not self.enabled:
                    return
                if self.is_tty:
                    self._draw_text(self._stamp(detail or "waiting"))
                # not a TTY: a bare tick without a phase has nothing worth a line
                return
        self._tick(phase, detail)

    def clear(self) -> None:
        """Remove the live status line (call when a run ends; pytest writes next)."""
        with self._lock:
            if self.enabled and self.is_tty and self._status_len:
                self._write("\r" + " " * self._status_len + "\r")
                self._status_len = 0

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: Any) -> None:
        """Registered as a plugin, the live line is cleared before pytest reports an item."""
        self.clear()

    # -- internals -----------------------------------------------------------------
    def _start_ticker(self) -> None:
        """While phases run, a daemon thread keeps the elapsed time moving (TTY) and
        prints heartbeats (not a TTY) even if nobody calls ``tick``."""
        if self.refresh is None or (self._ticker is not None and self._ticker.is_alive()):
            return
        self._ticker = threading.Thread(target=self._tick_loop, name="fluxchaos-progress",
                                        daemon=True)
        self._ticker.start()

    def _tick_loop(self) -> None:
        assert self.refresh is not None
        while True:
            time.sleep(self.refresh)
            with self._lock:
                if not self._phases:
                    self._ticker = None
                    return
                phase = self._phases[-1]
            self._tick(phase, None)

    def _tick(self, phase: Phase, detail: str | None) -> None:
        with self._lock:
            if detail is not None:
                phase.detail = detail
            if not self.enabled:
                return
            if self.is_tty:
                if phase is (self._phases[-1] if self._phases else None):
                    self._draw()
                return
            now = self.clock()
            if not phase.announced:
                if now - phase.started >= phase.quiet_under:
                    phase.announced = True
                    phase.last_line = now
                    what = f" ({phase.detail})" if phase.detail else ""
                    self._line(f"{phase.name} ... {_fmt_elapsed(now - phase.started)} so far{what}")
                return
            if now - phase.last_line >= self.heartbeat:
                phase.last_line = now
                what = f": {phase.detail}" if phase.detail else ""
                self._line(f"{phase.name} still running after {_fmt_elapsed(now - phase.started)}{what}")

    def _stamp(self, text: str) -> str:
        return f"{PREFIX} [{_fmt_elapsed(self.elapsed()):>6}] {text}"

    def _line(self, text: str, **markup: bool) -> None:
        """A finished line; on a TTY the live status line is redrawn below it."""
        line = self._stamp(text)
        if self.is_tty:
            self._write("\r" + line + " " * max(0, self._status_len - len(line)) + "\n", **markup)
            self._status_len = 0
            self._draw(force=True)
        else:
            self._write(line + "\n")

    def _draw(self, force: bool = False) -> None:
        if not self._phases:
            return
        now = self.clock()
        if not force and now - self._last_draw < self.min_redraw:
            return
        phase = self._phases[-1]
        text = f"{phase.name} … {_fmt_elapsed(now - phase.started)}"
        if phase.detail:
            text += f" ({phase.detail})"
        self._draw_text(self._stamp(text))

    def _draw_text(self, line: str) -> None:
        width = self.width or _terminal_width(self.writer)
        line = line[: max(10, width - 1)]  # a wrapped status line cannot be rewritten
        self._write("\r" + line + " " * max(0, self._status_len - len(line)))
        self._status_len = len(line)
        self._last_draw = self.clock()

    def _write(self, text: str, **markup: bool) -> None:
        writer = self.writer
        assert writer is not None, "only written to while enabled"
        guard = self.suspend() if self.suspend is not None else contextlib.nullcontext()
        with guard:
            if not self._status_len:
                _start_line(writer)  # pytest may be in the middle of a line of dots
            try:
                writer.write(text, **(markup if self.is_tty else {}))
            except TypeError:  # a plain stream: no markup
                writer.write(text)
            flush = getattr(writer, "flush", None)
            if flush is not None:
                flush()


class TerminalProxy:
    """pytest's terminal reporter, looked up at each write (None: output is dropped)."""

    def __init__(self, config: Any) -> None:
        self.config = config

    @property
    def reporter(self) -> Any | None:
        return self.config.pluginmanager.get_plugin("terminalreporter")

    def write(self, text: str, **markup: bool) -> None:
        reporter = self.reporter
        if reporter is not None:
            reporter.write(text, **markup)

    def ensure_newline(self) -> None:
        reporter = self.reporter
        if reporter is not None:
            reporter.ensure_newline()

    def flush(self) -> None:
        reporter = self.reporter
        if reporter is not None:
            reporter.flush()

    @property
    def _tw(self) -> Any:
        return getattr(self.reporter, "_tw", None)


def _start_line(writer: Any) -> None:
    """Move to the start of a fresh line if pytest left the cursor mid-line (its dots,
    or ``file.py::test PASSED`` pending); tells pytest to repeat its prefix."""
    if hasattr(writer, "ensure_newline"):
        writer.ensure_newline()
    tw = getattr(writer, "_tw", None)
    if tw is None:
        return
    if getattr(tw, "width_of_current_line", 0):
        tw.line()


def _stdout_isatty(config: Any) -> bool:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        return bool(getattr(reporter, "isatty", False))
    import sys

    try:
        return sys.stdout.isatty()  # what the terminal reporter will write to
    except (AttributeError, ValueError):
        return False


def phase(progress: Callable[[str], None], name: str, quiet_under: float = 0.0) -> ContextManager[Any]:
    """``progress.phase(name)`` when ``progress`` is a :class:`Progress`; for a plain
    callable (tests, the asset CLI's ``print``) a context that only says the name."""
    method = getattr(progress, "phase", None)
    if method is not None:
        return method(name, quiet_under=quiet_under)
    return _plain_phase(progress, name, quiet_under)


@contextlib.contextmanager
def _plain_phase(progress: Callable[[str], None], name: str, quiet_under: float) -> Iterator[Any]:
    if not quiet_under:
        progress(f"{name} ...")
    yield _NoTick()


class _NoTick:
    def tick(self, detail: str | None = None) -> None:
        pass


def _terminal_width(writer: Any) -> int:
    tw = getattr(writer, "_tw", writer)
    width = getattr(tw, "fullwidth", None)
    if isinstance(width, int) and width > 0:
        return width
    return shutil.get_terminal_size((100, 24)).columns


# ------------------------------------------------------------------------ result lines

def _word(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def summary_line(nodeid: str, outcome: str, properties: Sequence[tuple[str, Any]]) -> str | None:
    """One line per item for CI logs, from the item's ``fluxchaos.*`` JUnit properties::

        fluxchaos: two-flips-stale-db[ha-emptydir] PASS no-regression=false(expected)
        converges=false(any) never-stuck=true faults-landed=true faults=3/3 regressions=1
        variant=ha-emptydir irc=v1.2.4

    A verdict that differs from the expectation is marked ``!=expected``. A scenario with
    an automation adds its Git verdicts (``git-no-regression=false(expected)
    git-converges=false(any)``) and ``git-regressions=N``; other items have neither.
    None when the item has no fluxchaos properties (an ordinary test).
    """
    props = {str(k): _word(v) for k, v in properties if str(k).startswith("fluxchaos.")}
    if not props:
        return None
    skip = {"variant", "backend", "irc_version", "iac_version", "mixed_pair", "flux_version", "seed",
            "overall", "faults_injected", "faults_confirmed", "regressions", "git_regressions",
            "artifacts", "error"}
    checks = []
    for key, got in props.items():
        name = key[len("fluxchaos."):]
        if name in skip or name.endswith(".expected"):
            continue
        want = props.get(f"{key}.expected", "true")
        if want == got:
            checks.append(f"{name}={got}" + ("" if want == "true" else "(expected)"))
        elif want == "any":
            checks.append(f"{name}={got}(any)")
        else:
            checks.append(f"{name}={got}!={want}")
    word = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP"}.get(outcome, outcome.upper())
    if props.get("fluxchaos.error"):
        word = "ERROR"
    name = nodeid.split("::")[-1]
    parts = [f"{PREFIX}: {name} {word}", *checks]
    if "fluxchaos.faults_injected" in props:
        confirmed = props.get("fluxchaos.faults_confirmed", "?")
        parts.append(f"faults={props['fluxchaos.faults_injected']}/{confirmed}")
    if "fluxchaos.regressions" in props:
        parts.append(f"regressions={props['fluxchaos.regressions']}")
    if "fluxchaos.git_regressions" in props:
        parts.append(f"git-regressions={props['fluxchaos.git_regressions']}")
    for key, label in (("variant", "variant"), ("backend", "backend"), ("irc_version", "irc"),
                       ("iac_version", "iac"), ("mixed_pair", "mixed-pair"), ("flux_version", "flux"),
                       ("seed", "seed")):
        if props.get(f"fluxchaos.{key}"):
            parts.append(f"{label}={props[f'fluxchaos.{key}']}")
    if props.get("fluxchaos.error"):
        parts.append(f"error={' '.join(props['fluxchaos.error'].split())[:160]}")
    return " ".join(parts)


class ResultLines:
    """pytest plugin: print :func:`summary_line` for each finished fluxchaos item.

    Runs on the controlling process (xdist workers forward their reports to it), after
    the terminal reporter's own letter; silent under ``-qq`` and on workers.
    """

    def __init__(self, writer: Any | None, verbosity: int = 0, is_worker: bool = False) -> None:
        self.writer = writer
        self.verbosity = verbosity
        self.is_worker = is_worker
        self.lines: list[str] = []
        self.artifacts: list[Path] = []  # item directories, for the session's HTML report

    @classmethod
    def from_config(cls, config: Any) -> ResultLines:
        return cls(TerminalProxy(config), int(getattr(config.option, "verbose", 0) or 0),
                   hasattr(config, "workerinput"))

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.when != "call" and not (report.when == "setup" and report.outcome != "passed"):
            return
        line = summary_line(report.nodeid, report.outcome, getattr(report, "user_properties", ()))
        if line is None:
            return
        self.lines.append(line)
        for key, value in getattr(report, "user_properties", ()):
            if key == "fluxchaos.artifacts" and value and Path(str(value)) not in self.artifacts:
                self.artifacts.append(Path(str(value)))
        if self.writer is None or self.is_worker or self.verbosity < -1:
            return
        _start_line(self.writer)
        self.writer.write(line + "\n")
