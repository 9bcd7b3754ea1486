"""The history: every operation, fault step and observation of one run, timestamped.

Like Jepsen's history, it is the single source of truth the checkers judge; nothing
else (no live cluster state) is consulted when a verdict is computed. Each event
carries two clocks: ``t`` (monotonic seconds since the run started, for ordering and
durations, immune to wall-clock jumps) and ``wall`` (UTC ISO-8601, for humans and for
correlating with controller logs).

Events are plain frozen dataclasses; the JSON Lines artifact writes one event per
line with a ``kind`` discriminator so the file can be re-read into the same types.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

OpType = Literal["invoke", "ok", "fail", "info"]
"""Jepsen's completion types: ``info`` means the outcome is indeterminate."""

FaultPhase = Literal["inject", "confirm", "heal"]
FaultOutcome = Literal["ok", "failed", "unconfirmed"]


@dataclass(frozen=True)
class Event:
    """Base of all history events; ``kind`` is the JSON discriminator."""

    kind: ClassVar[str] = "event"
    t: float
    wall: str

    def to_dict(self) -> dict[str, Any]:
        data = {"kind": self.kind}
        data.update(dataclasses.asdict(self))
        return data


@dataclass(frozen=True)
class Op(Event):
    """A client operation against the registry (push or delete a tag).

    ``process`` names the client that performed it; an ``invoke`` is always followed
    by exactly one ``ok``, ``fail`` or ``info`` from the same process.
    """

    kind: ClassVar[str] = "op"
    f: Literal["push-tag", "delete-tag"] = "push-tag"
    type: OpType = "invoke"
    image: str = ""
    tag: str = ""
    process: str = "client-0"
    digest: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Fault(Event):
    """One step of a fault's life: inject, confirm (with its outcome), heal.

    ``fault_id`` ties the steps of one fault together. ``target`` is what the schedule
    asked for (``leader``, ``standby``, ``pod-0``, ``registry``); ``resolved`` is the
    concrete pod or container it hit. ``detail`` holds the confirming evidence
    (exit code, reason, restart counts, container ids, new holder ...).
    """

    kind: ClassVar[str] = "fault"
    fault_id: str = ""
    f: str = ""
    phase: FaultPhase = "inject"
    target: str = ""
    resolved: str | None = None
    outcome: FaultOutcome | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PolicyLatest(Event):
    """``status.latestRef.tag`` of an ImagePolicy changed (or was first seen)."""

    kind: ClassVar[str] = "policy-latest"
    policy: str = ""  # namespace/name
    tag: str | None = None
    previous: str | None = None
    digest: str | None = None


@dataclass(frozen=True)
class PolicyReady(Event):
    """The Ready condition of an ImagePolicy changed status or reason."""

    kind: ClassVar[str] = "policy-ready"
    policy: str = ""
    status: Literal["True", "False", "Unknown"] = "Unknown"
    reason: str = ""
    message: str = ""


@dataclass(frozen=True)
class PolicySpec(Event):
    """The spec of an ImagePolicy as observed at a generation (first sight or change)."""

    kind: ClassVar[str] = "policy-spec"
    policy: str = ""
    generation: int = 0
    spec: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RepositoryScan(Event):
    """An ImageRepository's ``status.lastScanResult`` changed."""

    kind: ClassVar[str] = "repository-scan"
    repository: str = ""  # namespace/name
    revision: str = ""
    tag_count: int = 0
    scan_time: str | None = None
    latest_tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class RepositoryReady(Event):
    """The Ready condition of an ImageRepository changed status or reason."""

    kind: ClassVar[str] = "repository-ready"
    repository: str = ""
    status: Literal["True", "False", "Unknown"] = "Unknown"
    reason: str = ""
    message: str = ""


@dataclass(frozen=True)
class LeaseHolder(Event):
    """The leader Lease's holder changed; ``holder`` is the pod name (or None if deleted)."""

    kind: ClassVar[str] = "lease-holder"
    lease: str = ""  # namespace/name
    holder: str | None = None
    identity: str | None = None  # raw holderIdentity (<pod>_<uuid>)
    transitions: int | None = None


@dataclass(frozen=True)
class PodState(Event):
    """A controller container changed state (started, terminated, restarted, deleted)."""

    kind: ClassVar[str] = "pod-state"
    pod: str = ""  # namespace/name
    container_id: str | None = None
    state: Literal["waiting", "running", "terminated", "deleted"] = "running"
    reason: str | None = None  # e.g. OOMKilled, Error, CrashLoopBackOff
    exit_code: int | None = None
    restart_count: int = 0


@dataclass(frozen=True)
class OomKill(Event):
    """The kernel's memory-cgroup OOM killer ended a controller container: the runtime's
    OOMKilled flag (Docker's ``State.OOMKilled``, the kubelet's ``lastState.terminated``
    reason), which the runtime sets only from the cgroup's OOM event. Recorded once per
    killed container, injected or not; checkers tell the two apart."""

    kind: ClassVar[str] = "oom"
    pod: str = ""  # namespace/name
    restart: int = 0  # the killed container's restart number in its pod (0: the first)
    exit_code: int | None = None


@dataclass(frozen=True)
class KubeEvent(Event):
    """A Kubernetes Warning Event about an ImagePolicy or ImageRepository, first seen or
    repeated (its ``count`` grew).

    The API server folds repetitions into one Event object (``name``) whose ``count`` and
    ``last_timestamp`` grow, so a storm is the highest count per object, not the number
    of these events. Timestamps are the Event's own (UTC, second precision).
    """

    kind: ClassVar[str] = "kube-event"
    involved_kind: str = ""  # ImagePolicy / ImageRepository
    involved: str = ""  # namespace/name
    type: str = "Warning"
    reason: str = ""
    message: str = ""
    count: int = 1
    first_timestamp: str | None = None
    last_timestamp: str | None = None
    name: str = ""  # the Event object's namespace/name
    reporter: str | None = None


@dataclass(frozen=True)
class Note(Event):
    """Free-form run milestone (phase start/end, trigger fired, scenario parameters)."""

    kind: ClassVar[str] = "note"
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GitCommit(Event):
    """A commit newly seen on the automation's push branch, oldest first.

    ``markers`` are the setter markers of the tree at this commit (``path``, ``line``,
    ``policy`` as namespace/name, ``form``, ``value``, ``tag``, ``text``); ``seed`` marks
    the plugin's own first commit, which no controller wrote.
    """

    kind: ClassVar[str] = "git-commit"
    repo: str = ""  # the repository's name on the Git server
    branch: str = ""
    sha: str = ""
    parents: tuple[str, ...] = ()
    author: str = ""
    message: str = ""
    committed: str = ""  # the commit's own time (UTC ISO-8601)
    markers: tuple[dict[str, Any], ...] = ()
    seed: bool = False


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (Op, Fault, PolicyLatest, PolicyReady, PolicySpec, RepositoryScan,
                RepositoryReady, LeaseHolder, PodState, OomKill, KubeEvent, Note, GitCommit)
}

E = TypeVar("E", bound=Event)


def event_from_dict(data: dict[str, Any]) -> Event:
    """Rebuild a typed event from its JSON form (unknown keys are an error)."""
    data = dict(data)
    kind = data.pop("kind")
    cls = EVENT_TYPES[kind]
    for key in ("latest_tags", "parents", "markers"):
        if isinstance(data.get(key), list):
            data[key] = tuple(data[key])
    return cls(**data)


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class History:
    """Append-only, thread-safe event log with a run-relative monotonic clock.

    Observers run on their own threads, so appends are locked; readers get a
    snapshot. Subscribers are called (outside the lock) for each appended event,
    which is how triggers ("after tag X is observed") wake up without polling.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], str] = _utc_now) -> None:
        self._clock = clock
        self._wall = wall_clock
        self._origin = clock()
        self._events: list[Event] = []
        self._lock = threading.Lock()
        self._subscribers: list[Callable[[Event], None]] = []

    def now(self) -> float:
        """Seconds since the run started (monotonic)."""
        return self._clock() - self._origin

    def record(self, cls: type[E], **fields: Any) -> E:
        """Create an event stamped with both clocks and append it."""
        event = cls(t=round(self.now(), 6), wall=self._wall(), **fields)
        self.append(event)
        return event

    def append(self, event: Event) -> None:
        with self._lock:
            self._events.append(event)
            subscribers = list(self._subscribers)
        for callback in subscribers:
            callback(event)

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``callback`` for every future event; returns an unsubscribe function."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    @property
    def events(self) -> list[Event]:
        with self._lock:
            return list(self._events)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def __len__(self) -> int:
        with self._lock:
            return len(self._events)

    def of(self, cls: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, cls)]

    def write_jsonl(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as fh:
            for event in self.events:
                fh.write(json.dumps(event.to_dict(), sort_keys=True, default=str) + "\n")

    @classmethod
    def from_events(cls, events: Iterable[Event]) -> History:
        history = cls()
        history._events = sorted(events, key=lambda e: e.t)
        return history

    @classmethod
    def read_jsonl(cls, path: Path) -> History:
        with path.open(encoding="utf-8") as fh:
            return cls.from_events(event_from_dict(json.loads(line)) for line in fh if line.strip())
