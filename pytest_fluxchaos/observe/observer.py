"""The observer: watch threads + a container-state poller feeding one History.

Per namespace it runs one thread per watched resource (ImagePolicy, ImageRepository,
the leader Lease, optionally core Events), each doing the informer dance: list (so
the first state is recorded), then watch from the list's resourceVersion, resume from
the last seen resourceVersion when a stream ends (server timeout, disconnect), and
re-list when the API server answers 410 Gone. Failures are retried with capped
backoff; after ``max_failures`` consecutive failures the thread gives up, and the
failure is kept in ``errors`` and written to the history as a Note (an observation gap
makes a verdict unknown; it must never be silent).

``stop()`` is prompt: it interrupts blocked watch reads (socket shutdown) instead of
waiting for the server-side ``timeoutSeconds``.
"""

from __future__ import annotations

import random
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..domain import PodStatus
from ..history import History, Note
from .latency import LatencyProbe
from .parse import LEASE_NAME, resource_version
from .source import (EVENTS, KubeSource, Resource, WatchExpired, WatchSource, WatchStream,
                     image_policies, image_repositories, leader_lease)
from .trackers import (EventTracker, LeaseTracker, PodTracker, PolicyTracker, Recorder,
                       RepositoryTracker, Tracker)

PodsFn = Callable[[str], list[PodStatus]]


class _WatchErrorEvent(RuntimeError):
    """An ERROR event other than 410 in a watch stream: retry with a fresh list."""


class ObserverError(Exception):
    """Raised by ``Observer.raise_for_errors`` / ``start(sync_timeout=...)``."""


@dataclass(frozen=True)
class ObserverFailure:
    """An exception an observer thread caught; ``fatal`` if the thread gave up."""

    thread: str
    message: str
    fatal: bool
    t: float
    traceback: str = ""
    exception: BaseException | None = None

    def __str__(self) -> str:
        return f"{self.thread}: {self.message}" + (" (observer stopped)" if self.fatal else "")


def _describe(exc: BaseException) -> str:
    status = getattr(exc, "status", None)
    reason = getattr(exc, "reason", None)
    if status is not None:
        text = f"HTTP {status} {reason or ''}".strip()
        if status == 404:
            text += " (resource not served: CRDs not installed, or wrong API version?)"
        elif status in (401, 403):
            text += " (credentials or RBAC do not allow list/watch)"
        return f"{type(exc).__name__}: {text}"
    first = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {first[0][:300] if first else ''}".rstrip(": ")


class Observer:
    """Records ImagePolicy / ImageRepository / Lease / Event / container changes.

    ``api_client``: a ``kubernetes.client.ApiClient`` (its configuration is copied into
    a private client); may be None when ``source`` is given (tests). ``api_version`` is
    the image API version: ``v1`` for IRC >= 1.0, ``v1beta2`` for v0.32-v0.35.
    ``pods_fn(namespace)`` returns the controller containers (``Backend.pods``); it is
    polled every ``pod_poll_interval`` seconds.
    """

    def __init__(self, api_client: Any, namespaces: Iterable[str], history: History, *,
                 api_version: str = "v1", pods_fn: PodsFn | None = None, events: bool = True,
                 lease_name: str = LEASE_NAME, pod_poll_interval: float = 0.3,
                 watch_timeout: int = 30, max_failures: int = 10, backoff_cap: float = 2.0,
                 source: WatchSource | None = None, latency: LatencyProbe | None = None) -> None:
        self.namespaces = list(dict.fromkeys(namespaces))
        if not self.namespaces:
            raise ValueError("Observer needs at least one namespace")
        self.history = history
        self.api_version = api_version
        self.pods_fn = pods_fn
        self.events = events
        self.lease_name = lease_name
        self.pod_poll_interval = pod_poll_interval
        self.watch_timeout = max(1, int(watch_timeout))
        self.max_failures = max_failures
        self.backoff_cap = backoff_cap
        self.latency = latency if latency is not None else LatencyProbe()
        self._recorder = Recorder(history, self.latency)
        if source is None:
            if api_client is None:
                raise ValueError("Observer needs an api_client or a source")
            source = KubeSource(api_client, pool_size=4 * len(self.namespaces) + 8)
        self.source: WatchSource = source
        self._stop = threading.Event()
        self._lock = threading.RLock()
        self._threads: list[threading.Thread] = []
        self._streams: dict[str, WatchStream] = {}
        self._synced: dict[str, threading.Event] = {}
        self._exited: set[str] = set()
        self._errors: list[ObserverFailure] = []
        self._dropped_errors = 0
        self._started = False
        self._stopped = False
        self.stats: dict[str, int] = {"lists": 0, "watches": 0, "expired": 0, "events": 0,
                                      "reconnects": 0, "polls": 0}

    # -- lifecycle ------------------------------------------------------------------

    def _loops(self) -> list[tuple[str, Callable[[], None]]]:
        loops: list[tuple[str, Callable[[], None]]] = []
        for ns in self.namespaces:
            specs: list[tuple[Resource, Tracker]] = [
                (image_policies(self.api_version), PolicyTracker(self._recorder, self.api_version)),
                (image_repositories(self.api_version), RepositoryTracker(self._recorder)),
                (leader_lease(self.lease_name), LeaseTracker(self._recorder, self.lease_name)),
            ]
            if self.events:
                specs.append((EVENTS, EventTracker(self._recorder)))
            for resource, tracker in specs:
                name = f"observe-{resource.kind}-{ns}"
                loops.append((name, self._make_watch_loop(name, resource, ns, tracker)))
        if self.pods_fn is not None:
            loops.append(("observe-pods", self._pod_loop))
        return loops

    def start(self, sync_timeout: float | None = None) -> Observer:
        """Start the threads; with ``sync_timeout``, wait for every initial list.

        If the initial lists do not complete in time, the observer is stopped and
        ObserverError is raised (``errors`` still tells why).
        """
        with self._lock:
            if self._started:
                raise RuntimeError("Observer.start() called twice")
            self._started = True
            for name, target in self._loops():
                self._synced[name] = threading.Event()
                thread = threading.Thread(target=self._guard, args=(name, target), name=name,
                                          daemon=True)
                self._threads.append(thread)
            for thread in self._threads:
                thread.start()
        if sync_timeout is not None and not self.wait_synced(sync_timeout):
            pending = [n for n, e in self._synced.items() if not e.is_set()]
            errors = "; ".join(str(e) for e in self.errors[-3:])
            self.stop()  # never leave threads behind an exception the caller cannot stop
            raise ObserverError(f"observers not synced within {sync_timeout:g}s: "
                                f"{', '.join(pending)}" + (f" ({errors})" if errors else ""))
        return self

    def wait_synced(self, timeout: float) -> bool:
        """True once every thread has done its initial list/poll.

        False on timeout, or as soon as a thread exited (gave up) before syncing.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                pending = [n for n, e in self._synced.items() if not e.is_set()]
                dead = [n for n in pending if n in self._exited]
            if not pending:
                return True
            if dead or time.monotonic() >= deadline:
                return False
            self._synced[pending[0]].wait(min(0.05, max(0.0, deadline - time.monotonic())))

    def stop(self, timeout: float = 2.0) -> list[str]:
        """Stop all threads (idempotent); returns the error lines (``str`` of ``errors``)."""
        with self._lock:
            if self._stopped or not self._started:
                if not self._stopped:
                    self._stopped = True
                    self.source.close()
                return self._error_lines()
            self._stopped = True
            self._stop.set()
            streams = list(self._streams.values())
        for stream in streams:
            stream.close()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [t.name for t in self._threads if t.is_alive()]
        if stuck:
            self._fail("observer", f"threads did not stop within {timeout:g}s: {', '.join(stuck)}",
                       fatal=True)
        self.source.close()
        return self._error_lines()

    def _error_lines(self) -> list[str]:
        lines = [str(e) for e in self.errors]
        if self._dropped_errors:
            lines.append(f"observer: {self._dropped_errors} more errors not kept")
        return lines

    def __enter__(self) -> Observer:
        return self.start() if not self._started else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._started and not self._stopped

    # -- errors -----------------------------------------------------------------------

    @property
    def errors(self) -> list[ObserverFailure]:
        with self._lock:
            return list(self._errors)

    @property
    def fatal_errors(self) -> list[ObserverFailure]:
        return [e for e in self.errors if e.fatal]

    def raise_for_errors(self, *, fatal_only: bool = False) -> None:
        errors = self.fatal_errors if fatal_only else self.errors
        if errors:
            raise ObserverError("; ".join(str(e) for e in errors[:5])
                                + (f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""))

    def _fail(self, thread: str, message: str, *, fatal: bool,
              exc: BaseException | None = None) -> None:
        failure = ObserverFailure(thread=thread, message=message, fatal=fatal,
                                  t=round(self.history.now(), 6),
                                  traceback=traceback.format_exc() if exc is not None else "",
                                  exception=exc)
        with self._lock:
            if len(self._errors) < 500:
                self._errors.append(failure)
            else:
                self._dropped_errors += 1
        if fatal:
            try:
                self.history.record(Note, message=f"observer {thread} stopped: {message}",
                                    data={"observer_error": True, "thread": thread,
                                          "error": message, "fatal": True})
            except Exception:  # noqa: BLE001 - the history itself failing: keep the error
                pass

    def _guard(self, name: str, target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as exc:  # noqa: BLE001 - surface, never lose
            if not self._stop.is_set():
                self._fail(name, f"crashed: {_describe(exc)}", fatal=True, exc=exc)
        finally:
            with self._lock:
                self._exited.add(name)

    # -- watch loop -------------------------------------------------------------------

    def _backoff(self, failures: int) -> float:
        base = min(self.backoff_cap, 0.1 * (2 ** (failures - 1)))
        return base * (0.8 + 0.4 * random.random())

    def _make_watch_loop(self, name: str, resource: Resource, namespace: str,
                         tracker: Tracker) -> Callable[[], None]:
        def loop() -> None:
            self._watch_loop(name, resource, namespace, tracker)
        return loop

    def _count(self, key: str) -> None:
        with self._lock:
            self.stats[key] += 1

    def _process(self, name: str, action: Callable[[], None]) -> None:
        """Run tracker code; a bug there is recorded but does not stop the watch."""
        try:
            action()
        except Exception as exc:  # noqa: BLE001
            self._fail(name, f"could not process an object: {_describe(exc)}", fatal=False, exc=exc)

    def _watch_loop(self, name: str, resource: Resource, namespace: str, tracker: Tracker) -> None:
        rv: str | None = None
        failures = 0
        first = True
        while not self._stop.is_set():
            try:
                if rv is None:
                    items, rv = self.source.list(resource, namespace)
                    self._count("lists")
                    initial = first
                    self._process(name, partial(tracker.sync, items, initial=initial))
                    if first:
                        first = False
                        self._synced[name].set()
                    failures = 0
                stream = self.source.watch(resource, namespace, rv, self._watch_timeout())
                self._count("watches")
                with self._lock:
                    if self._stop.is_set():
                        stream.close()
                        return
                    self._streams[name] = stream
                opened, seen = time.monotonic(), 0
                try:
                    for event in stream:
                        if self._stop.is_set():
                            return
                        seen += 1
                        rv = self._handle(name, tracker, event, rv)
                        failures = 0
                        if rv is None:
                            break
                finally:
                    with self._lock:
                        self._streams.pop(name, None)
                    stream.close()
                if self._stop.is_set():
                    return
                # stream ended (server timeout, or a 410 in the stream): resume / re-list
                self._count("reconnects")
                if not seen and time.monotonic() - opened < 0.2:
                    self._stop.wait(0.1)  # never spin on a server that closes at once
            except WatchExpired:
                self._count("expired")
                rv = None
            except Exception as exc:  # noqa: BLE001 - network errors, HTTP errors
                if self._stop.is_set():
                    return
                if isinstance(exc, _WatchErrorEvent):
                    rv = None  # replaying from the same version could repeat the error
                failures += 1
                fatal = failures >= self.max_failures
                message = f"{resource} in {namespace}: {_describe(exc)}"
                if fatal:
                    self._fail(name, f"gave up after {failures} consecutive failures; last: "
                               f"{message}", fatal=True, exc=exc)
                    return
                self._fail(name, f"retrying ({failures}/{self.max_failures}): {message}",
                           fatal=False, exc=exc)
                self._stop.wait(self._backoff(failures))

    def _watch_timeout(self) -> int:
        # jitter so that the watches of many threads do not all end at once
        return max(1, int(self.watch_timeout * (0.8 + 0.4 * random.random())))

    def _handle(self, name: str, tracker: Tracker, event: dict[str, Any], rv: str | None) -> str | None:
        """Apply one watch event; returns the new resourceVersion (None: re-list)."""
        etype = event.get("type")
        obj = event.get("object") or {}
        if etype == "ERROR":
            code = obj.get("code")
            if code == 410:
                self._count("expired")
                return None
            raise _WatchErrorEvent(f"watch error {code} {obj.get('reason', '')}: {obj.get('message', '')}")
        new_rv = resource_version(obj) or rv
        if etype == "BOOKMARK":
            return new_rv
        if etype not in ("ADDED", "MODIFIED", "DELETED"):
            self._fail(name, f"unexpected watch event type {etype!r}", fatal=False)
            return new_rv
        self._count("events")
        self._process(name, lambda: tracker.apply(etype, obj))
        return new_rv

    # -- container state poller ---------------------------------------------------------

    def _pod_loop(self) -> None:
        assert self.pods_fn is not None
        trackers = {ns: PodTracker(self._recorder) for ns in self.namespaces}
        streak: dict[str, int] = {ns: 0 for ns in self.namespaces}
        first = True
        while not self._stop.is_set():
            started = time.monotonic()
            for ns in self.namespaces:
                if self._stop.is_set():
                    return
                try:
                    pods = self.pods_fn(ns)
                except Exception as exc:  # noqa: BLE001 - a backend hiccup: keep polling
                    streak[ns] += 1
                    if streak[ns] == 1 or streak[ns] % 50 == 0:
                        self._fail("observe-pods", f"pods({ns}) failed ({streak[ns]}x): "
                                   f"{_describe(exc)}", fatal=False, exc=exc)
                    continue
                streak[ns] = 0
                self._process("observe-pods", partial(trackers[ns].sync, pods, ns))
            self._count("polls")
            if first:
                first = False
                self._synced["observe-pods"].set()
            self._stop.wait(max(0.0, self.pod_poll_interval - (time.monotonic() - started)))
