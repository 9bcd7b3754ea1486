"""Change detection: object states in, history events out (pure apart from recording).

One tracker per watched (resource, namespace), used by one thread. ``apply`` takes a
watch event (``ADDED``/``MODIFIED``/``DELETED`` and the object as a dict), ``sync``
takes a full list (initial list, or a re-list after 410 Gone / reconnect) and treats
objects missing from it as deleted. Trackers remember the last *recorded* state per
object, so repeated or replayed events (re-list, duplicate watch events, lease
renewals, scans that change nothing we track) never produce duplicate history events.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..domain import PodStatus
from ..history import (Event, History, KubeEvent, LeaseHolder, Note, OomKill, PodState, PolicyLatest,
                       PolicyReady, PolicySpec, RepositoryReady, RepositoryScan)
from .latency import LatencyProbe
from .parse import (LEASE_NAME, condition, lease_holder, meta, object_key, policy_latest,
                    ready_state, status_write_time)


class Recorder:
    """Writes events into the history and feeds the latency probe."""

    def __init__(self, history: History, latency: LatencyProbe | None = None) -> None:
        self.history = history
        self.latency = latency

    def emit(self, cls: type[Event], *, key: str = "", written: str | None = None,
             source: str = "", **fields: Any) -> Event:
        event = self.history.record(cls, **fields)
        if self.latency is not None and written:
            self.latency.add(event, key, written, source)
        return event


class Tracker:
    """Base: per-object state, deletion by absence from a re-list."""

    kind = "object"

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.present: set[str] = set()

    def accepts(self, obj: dict[str, Any]) -> bool:
        return True

    def apply(self, event_type: str, obj: dict[str, Any], *, initial: bool = False) -> None:
        if not self.accepts(obj):
            return
        key = object_key(obj)
        if event_type == "DELETED":
            if key in self.present:
                self.present.discard(key)
                self.deleted(key, obj)
            return
        self.present.add(key)
        self.changed(key, obj, initial=initial)

    def sync(self, items: Iterable[dict[str, Any]], *, initial: bool = False) -> None:
        seen: set[str] = set()
        for obj in items:
            if not self.accepts(obj):
                continue
            seen.add(object_key(obj))
            self.apply("MODIFIED", obj, initial=initial)
        for key in sorted(self.present - seen):
            self.present.discard(key)
            self.deleted(key, None)

    def changed(self, key: str, obj: dict[str, Any], *, initial: bool) -> None:
        raise NotImplementedError

    def deleted(self, key: str, obj: dict[str, Any] | None) -> None:
        pass


def _status_time(obj: dict[str, Any]) -> tuple[str | None, str]:
    return status_write_time(obj), "managedFields[status].time"


@dataclass
class _ConditionedState:
    ready: tuple[str, str] | None = None


@dataclass
class _PolicyState(_ConditionedState):
    tag: str | None = None
    digest: str | None = None
    generation: int | None = None


class PolicyTracker(Tracker):
    """ImagePolicy -> PolicySpec, PolicyLatest, PolicyReady."""

    kind = "ImagePolicy"

    def __init__(self, recorder: Recorder, api_version: str = "v1") -> None:
        super().__init__(recorder)
        self.api_version = api_version
        self.state: dict[str, _PolicyState] = {}

    def changed(self, key: str, obj: dict[str, Any], *, initial: bool) -> None:
        st = self.state.setdefault(key, _PolicyState())
        generation = meta(obj).get("generation")
        if generation is not None and generation != st.generation:
            self.recorder.emit(PolicySpec, key=key, written=status_write_time(obj, subresource=None),
                               source="managedFields[main].time", policy=key,
                               generation=int(generation),
                               spec=copy.deepcopy(obj.get("spec") or {}))
            st.generation = generation
        tag, digest = policy_latest(obj, self.api_version)
        if (tag, digest) != (st.tag, st.digest):
            # first sight without a latest tag is not a change: nothing is recorded
            written, source = _status_time(obj)
            self.recorder.emit(PolicyLatest, key=key, written=written, source=source,
                               policy=key, tag=tag, previous=st.tag, digest=digest)
            st.tag, st.digest = tag, digest
        _ready(self.recorder, PolicyReady, "policy", key, obj, st)

    def deleted(self, key: str, obj: dict[str, Any] | None) -> None:
        st = self.state.get(key)
        self.recorder.emit(Note, message=f"ImagePolicy {key} deleted",
                           data={"observer": "ImagePolicy", "object": key, "deleted": True,
                                 "last_tag": st.tag if st else None})
        if st is not None:
            # the next object of that name is a new one: its first generation and Ready
            # are recorded again; the last tag is kept as ``previous``
            st.generation = None
            st.ready = None


def _ready(recorder: Recorder, cls: type[Event], field_name: str, key: str,
           obj: dict[str, Any], st: _ConditionedState) -> None:
    ready = ready_state(obj)
    if ready is None or ready[:2] == st.ready:
        return
    written, source = _status_time(obj)
    if written is None:
        cond = condition(obj) or {}
        written, source = cond.get("lastTransitionTime"), "Ready.lastTransitionTime"
    recorder.emit(cls, key=key, written=written, source=source,
                  **{field_name: key}, status=ready[0], reason=ready[1], message=ready[2])
    st.ready = ready[:2]


@dataclass
class _RepositoryState(_ConditionedState):
    scan: tuple[str, str | None] | None = None


class RepositoryTracker(Tracker):
    """ImageRepository -> RepositoryScan, RepositoryReady."""

    kind = "ImageRepository"

    def __init__(self, recorder: Recorder) -> None:
        super().__init__(recorder)
        self.state: dict[str, _RepositoryState] = {}

    def changed(self, key: str, obj: dict[str, Any], *, initial: bool) -> None:
        st = self.state.setdefault(key, _RepositoryState())
        result = (obj.get("status") or {}).get("lastScanResult") or None
        if result:
            revision = result.get("revision")
            scan = ("" if revision is None else str(revision), result.get("scanTime"))
            if scan != st.scan:
                written, source = _status_time(obj)
                self.recorder.emit(
                    RepositoryScan, key=key, written=written, source=source, repository=key,
                    revision=scan[0], tag_count=int(result.get("tagCount") or 0),
                    scan_time=scan[1], latest_tags=tuple(result.get("latestTags") or ()))
                st.scan = scan
        _ready(self.recorder, RepositoryReady, "repository", key, obj, st)

    def deleted(self, key: str, obj: dict[str, Any] | None) -> None:
        self.state.pop(key, None)
        self.recorder.emit(Note, message=f"ImageRepository {key} deleted",
                           data={"observer": "ImageRepository", "object": key, "deleted": True})


@dataclass
class _LeaseState:
    identity: str | None = None


class LeaseTracker(Tracker):
    """The leader-election Lease -> LeaseHolder (holder = pod name; deletion -> None)."""

    kind = "Lease"

    def __init__(self, recorder: Recorder, name: str = LEASE_NAME) -> None:
        super().__init__(recorder)
        self.name = name
        self.state: dict[str, _LeaseState] = {}

    def accepts(self, obj: dict[str, Any]) -> bool:
        return meta(obj).get("name") == self.name

    def changed(self, key: str, obj: dict[str, Any], *, initial: bool) -> None:
        spec = obj.get("spec") or {}
        identity = spec.get("holderIdentity") or None
        st = self.state.get(key)
        if st is not None and st.identity == identity:
            return
        transitions = spec.get("leaseTransitions")
        written = spec.get("acquireTime") if identity else None
        self.recorder.emit(LeaseHolder, key=key, written=written, source="spec.acquireTime",
                           lease=key, holder=lease_holder(identity), identity=identity,
                           transitions=int(transitions) if transitions is not None else None)
        self.state[key] = _LeaseState(identity)

    def deleted(self, key: str, obj: dict[str, Any] | None) -> None:
        st = self.state.get(key)
        if st is None:
            return
        spec = (obj or {}).get("spec") or {}
        transitions = spec.get("leaseTransitions")
        self.recorder.emit(LeaseHolder, lease=key, holder=None, identity=None,
                           transitions=int(transitions) if transitions is not None else None)
        # a lease created again later is first-seen again (even with the same holder)
        del self.state[key]


IMAGE_KINDS = ("ImagePolicy", "ImageRepository")


class EventTracker(Tracker):
    """core/v1 Events -> one history event per new Event or repetition.

    Warnings about ImagePolicies and ImageRepositories become ``KubeEvent`` (checkers
    count them: a DependencyNotReady storm is a finding); every other Event a ``Note``
    for the story.
    """

    kind = "Event"

    def __init__(self, recorder: Recorder) -> None:
        super().__init__(recorder)
        self.seen: dict[str, tuple[Any, ...]] = {}

    def changed(self, key: str, obj: dict[str, Any], *, initial: bool) -> None:
        m = meta(obj)
        uid = m.get("uid") or key
        series = obj.get("series") or {}
        last = obj.get("eventTime") or obj.get("lastTimestamp") or series.get("lastObservedTime")
        count = obj.get("count") or series.get("count") or 1
        signature = (count, series.get("count"), last, obj.get("message"), obj.get("reason"))
        if self.seen.get(uid) == signature:
            return
        self.seen[uid] = signature
        involved = obj.get("involvedObject") or obj.get("regarding") or {}
        source = obj.get("source") or {}
        etype = obj.get("type") or "Normal"
        reason = obj.get("reason") or ""
        message = (obj.get("message") or obj.get("note") or "").strip()
        target = f"{involved.get('kind', '?')}/{involved.get('namespace') or m.get('namespace', '')}/" \
                 f"{involved.get('name', '?')}"
        data = {"observer": "Event", "type": etype, "reason": reason, "message": message,
                "object": {"kind": involved.get("kind"), "namespace": involved.get("namespace"),
                           "name": involved.get("name")},
                "count": count, "first": obj.get("firstTimestamp"), "last": last,
                "reporter": obj.get("reportingComponent") or source.get("component"),
                "instance": obj.get("reportingInstance") or source.get("host"),
                "initial": initial}
        written, src = (obj.get("eventTime"), "eventTime") if obj.get("eventTime") else (
            obj.get("lastTimestamp"), "lastTimestamp")
        if initial:
            written = None  # events from before the observer started say nothing about latency
        if etype == "Warning" and involved.get("kind") in IMAGE_KINDS:
            self._warning(obj, involved, target, written, src, int(count), data)
            return
        self.recorder.emit(Note, key=target, written=written, source=src,
                           message=f"event {etype} {reason} {target}: {message}", data=data)

    def _warning(self, obj: dict[str, Any], involved: dict[str, Any], target: str,
                 written: str | None, src: str, count: int, data: dict[str, Any]) -> None:
        series = obj.get("series") or {}
        namespace = involved.get("namespace") or meta(obj).get("namespace", "")
        self.recorder.emit(
            KubeEvent, key=target, written=written, source=src, involved_kind=involved["kind"],
            involved=f"{namespace}/{involved.get('name', '')}", type=data["type"],
            reason=data["reason"], message=data["message"], count=count,
            first_timestamp=obj.get("firstTimestamp") or obj.get("eventTime"),
            last_timestamp=(series.get("lastObservedTime") or obj.get("lastTimestamp")
                            or obj.get("eventTime")),
            name=object_key(obj), reporter=data["reporter"])

    def deleted(self, key: str, obj: dict[str, Any] | None) -> None:
        uid = meta(obj or {}).get("uid")
        if uid:
            self.seen.pop(uid, None)


@dataclass
class PodTracker:
    """Container states from ``pods_fn`` polls -> PodState on any change or removal."""

    recorder: Recorder
    last: dict[str, PodStatus] = field(default_factory=dict)
    ooms: set[tuple[str, int]] = field(default_factory=set)  # (pod, restart) already recorded

    @staticmethod
    def _signature(p: PodStatus) -> tuple[Any, ...]:
        return (p.container_id, p.state, p.restart_count, _pod_reason(p), p.exit_code)

    def sync(self, pods: Iterable[PodStatus], namespace: str | None = None) -> None:
        seen: set[str] = set()
        for pod in pods:
            key = f"{pod.namespace}/{pod.name}"
            seen.add(key)
            prev = self.last.get(key)
            if prev is not None and self._signature(prev) == self._signature(pod):
                continue
            self.recorder.emit(PodState, pod=key, container_id=pod.container_id,
                               state=pod.state, reason=_pod_reason(pod), exit_code=pod.exit_code,
                               restart_count=pod.restart_count)
            self._oom(key, pod)
            self.last[key] = pod
        for key in sorted(set(self.last) - seen):
            if namespace is not None and not key.startswith(namespace + "/"):
                continue
            prev = self.last.pop(key)
            self.recorder.emit(PodState, pod=key, container_id=prev.container_id,
                               state="deleted", reason=None, exit_code=None,
                               restart_count=prev.restart_count)


    def _oom(self, key: str, pod: PodStatus) -> None:
        """One OomKill per killed container: while terminated the status describes the
        container itself; once restarted, its last termination (restart count - 1)."""
        if not pod.oom_killed:
            return
        restart = pod.restart_count if pod.state == "terminated" else pod.restart_count - 1
        if restart < 0 or (key, restart) in self.ooms:
            return
        self.ooms.add((key, restart))
        self.recorder.emit(OomKill, pod=key, restart=restart, exit_code=pod.exit_code)


def _pod_reason(p: PodStatus) -> str | None:
    if p.reason:
        return p.reason
    return "OOMKilled" if p.oom_killed else None
