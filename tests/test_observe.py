"""Unit tests of the observers: parsing, change detection, and the watch/poll threads
driven by an in-memory watch source (no network)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pytest_fluxchaos.domain import PodStatus
from pytest_fluxchaos.history import (Event, History, LeaseHolder, Note, OomKill, PodState, PolicyLatest,
                                      PolicyReady, PolicySpec, RepositoryReady, RepositoryScan)
from pytest_fluxchaos.observe import (LEASE_NAME, FakeSource, LatencyProbe, Observer,
                                      ObserverError, lease_holder, parse_time, percentile,
                                      policy_latest, ready_state, split_image_ref,
                                      status_write_time, summarize)
from pytest_fluxchaos.observe.parse import time_resolution
from pytest_fluxchaos.observe.trackers import (EventTracker, LeaseTracker, PodTracker,
                                               PolicyTracker, Recorder, RepositoryTracker)

NS = "fc-test"


# --------------------------------------------------------------------------------------
# object builders


def policy(name: str = "app", *, tag: str | None = None, digest: str | None = None,
           generation: int = 1, ready: tuple[str, str, str] | None = None,
           latest_image: str | None = None, spec: dict[str, Any] | None = None,
           status_time: str | None = None, ns: str = NS) -> dict[str, Any]:
    status: dict[str, Any] = {}
    if tag is not None:
        status["latestRef"] = {"name": "127.0.0.1:5000/app", "tag": tag}
        if digest:
            status["latestRef"]["digest"] = digest
    if latest_image is not None:
        status["latestImage"] = latest_image
    if ready is not None:
        status["conditions"] = [{"type": "Ready", "status": ready[0], "reason": ready[1],
                                 "message": ready[2], "lastTransitionTime": "2026-01-01T00:00:00Z"}]
    obj: dict[str, Any] = {
        "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy",
        "metadata": {"name": name, "namespace": ns, "generation": generation, "uid": f"uid-{name}"},
        "spec": spec or {"imageRepositoryRef": {"name": "app"}, "policy": {"semver": {"range": ">=1.0.0"}}},
        "status": status,
    }
    if status_time:
        obj["metadata"]["managedFields"] = [
            {"manager": "kubectl", "operation": "Update", "time": "2026-01-01T00:00:00Z"},
            {"manager": "image-reflector-controller", "operation": "Update",
             "subresource": "status", "time": status_time},
        ]
    return obj


def repository(name: str = "app", *, revision: str | None = None, scan_time: str | None = None,
               tags: tuple[str, ...] = (), ready: tuple[str, str, str] | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {}
    if revision is not None:
        status["lastScanResult"] = {"revision": revision, "tagCount": len(tags),
                                    "scanTime": scan_time, "latestTags": list(tags)}
    if ready is not None:
        status["conditions"] = [{"type": "Ready", "status": ready[0], "reason": ready[1],
                                 "message": ready[2]}]
    return {"kind": "ImageRepository", "metadata": {"name": name, "namespace": NS, "generation": 1},
            "spec": {"image": "127.0.0.1:5000/app", "interval": "1m"}, "status": status}


def lease(identity: str | None, *, renew: str = "2026-01-01T00:00:00.000000Z", transitions: int = 0,
          name: str = LEASE_NAME, acquire: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"leaseDurationSeconds": 35, "renewTime": renew,
                            "leaseTransitions": transitions}
    if identity is not None:
        spec["holderIdentity"] = identity
    if acquire:
        spec["acquireTime"] = acquire
    return {"kind": "Lease", "metadata": {"name": name, "namespace": NS}, "spec": spec}


def k8s_event(uid: str, reason: str, message: str, *, count: int = 1, etype: str = "Warning",
              kind: str = "ImagePolicy", name: str = "app") -> dict[str, Any]:
    return {"kind": "Event", "metadata": {"name": f"{name}.{uid}", "namespace": NS, "uid": uid},
            "involvedObject": {"kind": kind, "namespace": NS, "name": name},
            "reason": reason, "message": message, "type": etype, "count": count,
            "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": f"2026-01-01T00:00:0{count}Z",
            "source": {"component": "image-reflector-controller"}}


def pod(name: str, cid: str | None, state: str = "running", *, restarts: int = 0,
        reason: str | None = None, exit_code: int | None = None, oom: bool = False) -> PodStatus:
    return PodStatus(namespace=NS, name=name, container_id=cid, state=state, reason=reason,
                     exit_code=exit_code, restart_count=restarts, oom_killed=oom)


def kinds(history: History) -> list[str]:
    return [e.kind for e in history]


# --------------------------------------------------------------------------------------
# parsing


@pytest.mark.parametrize("image,expected", [
    ("127.0.0.1:5000/app:v1.2.3", ("v1.2.3", None)),
    ("127.0.0.1:5000/app", (None, None)),
    ("localhost:5000/team/app:1.0.0-rc.1", ("1.0.0-rc.1", None)),
    ("app:latest", ("latest", None)),
    ("ghcr.io/org/app:1.2.3@sha256:abc", ("1.2.3", "sha256:abc")),
    ("ghcr.io/org/app@sha256:abc", (None, "sha256:abc")),
    ("registry:5000/a/b/c:tag_with.dots-1", ("tag_with.dots-1", None)),
    ("", (None, None)),
    (None, (None, None)),
])
def test_split_image_ref(image: str | None, expected: tuple[str | None, str | None]) -> None:
    assert split_image_ref(image) == expected


def test_policy_latest_by_api_version() -> None:
    v1 = policy(tag="1.2.0", digest="sha256:d")
    assert policy_latest(v1, "v1") == ("1.2.0", "sha256:d")
    assert policy_latest(v1, "v1beta2") == ("1.2.0", "sha256:d")  # fallback
    beta = policy(latest_image="127.0.0.1:5000/app:1.3.0")
    assert policy_latest(beta, "v1beta2") == ("1.3.0", None)
    assert policy_latest(beta, "v1") == ("1.3.0", None)  # fallback
    both = policy(tag="2.0.0", latest_image="127.0.0.1:5000/app:1.0.0")
    assert policy_latest(both, "v1") == ("2.0.0", None)
    assert policy_latest(both, "v1beta2") == ("1.0.0", None)
    assert policy_latest(policy(), "v1") == (None, None)
    assert policy_latest({"metadata": {}}, "v1") == (None, None)


@pytest.mark.parametrize("identity,holder", [
    ("image-reflector-controller-5d8f7-x2z9q_3f2a1b4c-aaaa-bbbb-cccc-0123456789ab",
     "image-reflector-controller-5d8f7-x2z9q"),
    ("irc_pod_with_underscores_uuid", "irc_pod_with_underscores"),
    ("no-separator", "no-separator"),
    ("_leading", "_leading"),
    ("", None),
    (None, None),
])
def test_lease_holder(identity: str | None, holder: str | None) -> None:
    assert lease_holder(identity) == holder


def test_parse_time_and_resolution() -> None:
    assert parse_time("2026-01-02T03:04:05Z").isoformat() == "2026-01-02T03:04:05+00:00"
    micro = parse_time("2026-01-02T03:04:05.123456Z")
    assert micro is not None and micro.microsecond == 123456
    nano = parse_time("2026-01-02T03:04:05.123456789Z")
    assert nano is not None and nano.microsecond == 123456
    assert parse_time("2026-01-02T03:04:05.5+02:00").utcoffset().total_seconds() == 7200
    assert parse_time(None) is None and parse_time("garbage") is None
    assert time_resolution("2026-01-02T03:04:05Z") == 1.0
    assert time_resolution("2026-01-02T03:04:05.123456Z") == pytest.approx(1e-6)


def test_status_write_time_picks_latest_status_writer() -> None:
    obj = policy(status_time="2026-01-01T00:00:09Z")
    obj["metadata"]["managedFields"].append(
        {"manager": "other", "subresource": "status", "time": "2026-01-01T00:00:05Z"})
    assert status_write_time(obj) == "2026-01-01T00:00:09Z"
    assert status_write_time(obj, subresource=None) == "2026-01-01T00:00:00Z"
    assert status_write_time(policy()) is None


def test_ready_state() -> None:
    assert ready_state(policy(ready=("True", "Succeeded", "ok"))) == ("True", "Succeeded", "ok")
    assert ready_state(policy()) is None
    odd = policy(ready=("Maybe", "", ""))
    assert ready_state(odd) == ("Unknown", "", "")


def test_percentiles() -> None:
    assert percentile([1.0], 99) == 1.0
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile(list(range(101)), 99) == pytest.approx(99)
    assert summarize([])["count"] == 0
    s = summarize([0.1, 0.2, 0.3])
    assert s["count"] == 3 and s["p50"] == 0.2 and s["max"] == 0.3
    with pytest.raises(ValueError):
        percentile([], 50)


# --------------------------------------------------------------------------------------
# trackers (no threads)


@pytest.fixture
def history() -> History:
    return History()


@pytest.fixture
def recorder(history: History) -> Recorder:
    return Recorder(history, LatencyProbe())


def test_policy_tracker_change_detection_and_dedup(history: History, recorder: Recorder) -> None:
    t = PolicyTracker(recorder)
    t.apply("ADDED", policy())  # first sight, no status yet: only the spec
    assert kinds(history) == ["policy-spec"]
    t.apply("MODIFIED", policy())  # nothing changed
    t.apply("MODIFIED", policy(tag="1.0.0", ready=("True", "Succeeded", "resolved to 1.0.0")))
    t.apply("MODIFIED", policy(tag="1.0.0", ready=("True", "Succeeded", "resolved to 1.0.0")))
    # message-only change: not recorded
    t.apply("MODIFIED", policy(tag="1.0.0", ready=("True", "Succeeded", "other message")))
    t.apply("MODIFIED", policy(tag="1.1.0", ready=("True", "Succeeded", "resolved to 1.1.0")))
    t.apply("MODIFIED", policy(tag="1.1.0", digest="sha256:x", ready=("True", "Succeeded", "m")))
    t.apply("MODIFIED", policy(tag="1.1.0", digest="sha256:x", ready=("False", "DependencyNotReady",
                                                                     "no tags in database")))
    t.apply("MODIFIED", policy(tag="1.1.0", digest="sha256:x", ready=("False", "Failure", "x")))
    t.apply("MODIFIED", policy(tag="1.1.0", digest="sha256:x", generation=2,
                               ready=("False", "Failure", "x"), spec={"policy": {"alphabetical": {}}}))
    t.apply("MODIFIED", policy(generation=2, ready=("False", "Failure", "x")))  # latestRef cleared
    latest = history.of(PolicyLatest)
    assert [(e.policy, e.tag, e.previous, e.digest) for e in latest] == [
        (f"{NS}/app", "1.0.0", None, None),
        (f"{NS}/app", "1.1.0", "1.0.0", None),
        (f"{NS}/app", "1.1.0", "1.1.0", "sha256:x"),
        (f"{NS}/app", None, "1.1.0", None),
    ]
    assert [(e.status, e.reason) for e in history.of(PolicyReady)] == [
        ("True", "Succeeded"), ("False", "DependencyNotReady"), ("False", "Failure")]
    assert history.of(PolicyReady)[1].message == "no tags in database"
    specs = history.of(PolicySpec)
    assert [(s.generation, s.spec.get("policy")) for s in specs] == [
        (1, {"semver": {"range": ">=1.0.0"}}), (2, {"alphabetical": {}})]


def test_policy_tracker_v1beta2_latest_image(history: History, recorder: Recorder) -> None:
    t = PolicyTracker(recorder, api_version="v1beta2")
    t.apply("ADDED", policy(latest_image="127.0.0.1:5000/app:production_v2.17.2"))
    t.apply("MODIFIED", policy(latest_image="127.0.0.1:5000/app:production_v2.17.2"))
    t.apply("MODIFIED", policy(latest_image="127.0.0.1:5000/app:production_v2.17.1"))
    assert [(e.tag, e.previous) for e in history.of(PolicyLatest)] == [
        ("production_v2.17.2", None), ("production_v2.17.1", "production_v2.17.2")]


def test_policy_delete_and_recreate(history: History, recorder: Recorder) -> None:
    t = PolicyTracker(recorder)
    t.apply("ADDED", policy(tag="1.0.0", ready=("True", "Succeeded", "")))
    t.apply("DELETED", policy(tag="1.0.0"))
    t.apply("DELETED", policy(tag="1.0.0"))  # duplicate delete: ignored
    t.apply("ADDED", policy(tag="1.0.0", ready=("True", "Succeeded", "")))
    assert kinds(history) == ["policy-spec", "policy-latest", "policy-ready", "note",
                              "policy-spec", "policy-ready"]
    assert "deleted" in history.of(Note)[0].message


def test_sync_treats_missing_objects_as_deleted(history: History, recorder: Recorder) -> None:
    t = LeaseTracker(recorder)
    t.sync([lease("pod-a_1")], initial=True)
    t.sync([lease("pod-a_1", renew="2026-01-01T00:00:05.000000Z")])  # a renewal: nothing
    t.sync([])
    t.sync([])
    assert [(e.holder, e.identity) for e in history.of(LeaseHolder)] == [
        ("pod-a", "pod-a_1"), (None, None)]


def test_repository_tracker(history: History, recorder: Recorder) -> None:
    t = RepositoryTracker(recorder)
    t.apply("ADDED", repository())
    t.apply("MODIFIED", repository(ready=("Unknown", "Progressing", "scanning: first scan")))
    t.apply("MODIFIED", repository(revision="1943865137", scan_time="2026-01-01T00:00:01Z",
                                   tags=("v0.0.2", "v0.0.1"), ready=("True", "Succeeded", "found 2")))
    t.apply("MODIFIED", repository(revision="1943865137", scan_time="2026-01-01T00:00:01Z",
                                   tags=("v0.0.2", "v0.0.1"), ready=("True", "Succeeded", "found 2")))
    # same revision, new scan time (interval scan): recorded
    t.apply("MODIFIED", repository(revision="1943865137", scan_time="2026-01-01T00:01:01Z",
                                   tags=("v0.0.2", "v0.0.1"), ready=("True", "Succeeded", "found 2")))
    scans = history.of(RepositoryScan)
    assert [(s.revision, s.scan_time, s.tag_count, s.latest_tags) for s in scans] == [
        ("1943865137", "2026-01-01T00:00:01Z", 2, ("v0.0.2", "v0.0.1")),
        ("1943865137", "2026-01-01T00:01:01Z", 2, ("v0.0.2", "v0.0.1")),
    ]
    assert [(r.status, r.reason) for r in history.of(RepositoryReady)] == [
        ("Unknown", "Progressing"), ("True", "Succeeded")]
    assert history.of(RepositoryScan)[0].repository == f"{NS}/app"


def test_lease_tracker_holders(history: History, recorder: Recorder) -> None:
    t = LeaseTracker(recorder)
    t.apply("ADDED", lease("irc-0_aaa", transitions=0))
    t.apply("MODIFIED", lease("irc-0_aaa", renew="2026-01-01T00:00:05.000000Z"))
    t.apply("MODIFIED", lease("irc-1_bbb", transitions=1, acquire="2026-01-01T00:00:40.123456Z"))
    t.apply("MODIFIED", lease("", transitions=1))  # released on cancel
    t.apply("MODIFIED", lease("irc-0_ccc", transitions=2))  # same pod, new process
    t.apply("ADDED", lease("x_1", name="other-lease"))  # another lease: ignored
    t.apply("DELETED", lease("irc-0_ccc", transitions=2))
    t.apply("ADDED", lease("irc-0_ccc", transitions=0))  # re-created: first sight again
    assert [(e.holder, e.identity, e.transitions) for e in history.of(LeaseHolder)] == [
        ("irc-0", "irc-0_aaa", 0), ("irc-1", "irc-1_bbb", 1), (None, None, 1),
        ("irc-0", "irc-0_ccc", 2), (None, None, 2), ("irc-0", "irc-0_ccc", 0)]
    assert {e.lease for e in history.of(LeaseHolder)} == {f"{NS}/{LEASE_NAME}"}


def test_event_tracker_notes(history: History, recorder: Recorder) -> None:
    t = EventTracker(recorder)
    t.sync([k8s_event("u0", "Succeeded", "old news", etype="Normal")], initial=True)
    t.apply("ADDED", k8s_event("u1", "Progressing", "scanning", etype="Normal", kind="ImageRepository"))
    t.apply("MODIFIED", k8s_event("u1", "Progressing", "scanning", etype="Normal", kind="ImageRepository"))
    t.apply("MODIFIED", k8s_event("u1", "Progressing", "scanning", etype="Normal", kind="ImageRepository",
                                  count=2))
    t.apply("ADDED", k8s_event("u2", "OOMKilling", "Memory cgroup out of memory", kind="Pod",
                               name="irc-0"))
    notes = history.of(Note)
    assert len(notes) == 4
    assert notes[0].data["initial"] is True and notes[1].data["initial"] is False
    assert notes[1].message == f"event Normal Progressing ImageRepository/{NS}/app: scanning"
    assert notes[2].data["count"] == 2
    assert notes[3].data["object"] == {"kind": "Pod", "namespace": NS, "name": "irc-0"}
    assert all(n.data["observer"] == "Event" for n in notes)


def test_pod_tracker(history: History, recorder: Recorder) -> None:
    t = PodTracker(recorder)
    t.sync([pod("irc-0", "c1"), pod("irc-1", "d1")])
    t.sync([pod("irc-0", "c1"), pod("irc-1", "d1")])
    t.sync([pod("irc-0", "c1", "terminated", reason="OOMKilled", exit_code=137, oom=True),
            pod("irc-1", "d1")])
    t.sync([pod("irc-0", None, "waiting", restarts=1, reason="CrashLoopBackOff"), pod("irc-1", "d1")])
    t.sync([pod("irc-0", "c2", restarts=1), pod("irc-1", "d1")])
    t.sync([pod("irc-0", "c2", "terminated", restarts=1, exit_code=137, oom=True), pod("irc-1", "d1")])
    t.sync([pod("irc-0", "c2", restarts=1)][:0] + [pod("irc-1", "d1")])  # irc-0 deleted
    states = [(e.pod, e.container_id, e.state, e.reason, e.exit_code, e.restart_count)
              for e in history.of(PodState)]
    assert states == [
        (f"{NS}/irc-0", "c1", "running", None, None, 0),
        (f"{NS}/irc-1", "d1", "running", None, None, 0),
        (f"{NS}/irc-0", "c1", "terminated", "OOMKilled", 137, 0),
        (f"{NS}/irc-0", None, "waiting", "CrashLoopBackOff", None, 1),
        (f"{NS}/irc-0", "c2", "running", None, None, 1),
        (f"{NS}/irc-0", "c2", "terminated", "OOMKilled", 137, 1),  # reason from oom_killed
        (f"{NS}/irc-0", "c2", "deleted", None, None, 1),
    ]


def test_latency_samples_from_managed_fields(history: History) -> None:
    probe = LatencyProbe()
    t = PolicyTracker(Recorder(history, probe))
    t.apply("ADDED", policy(tag="1.0.0", status_time="2000-01-01T00:00:00Z"))
    (sample,) = [s for s in probe.samples if s.kind == "policy-latest"]
    assert sample.source == "managedFields[status].time" and sample.resolution == 1.0
    assert sample.latency > 0  # recorded "now", written in 2000
    assert probe.summary("policy-latest")["count"] == 1
    assert "policy-latest" in probe.summary()


# --------------------------------------------------------------------------------------
# the observer threads, with a fake watch source


def wait_for(predicate: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


class Subscriber:
    """Captures the monotonic time each matching event was appended."""

    def __init__(self, history: History) -> None:
        self.times: list[tuple[float, Event]] = []
        self.cond = threading.Condition()
        history.subscribe(self._on)

    def _on(self, event: Event) -> None:
        with self.cond:
            self.times.append((time.monotonic(), event))
            self.cond.notify_all()

    def wait(self, match: Callable[[Event], bool], timeout: float = 3.0) -> tuple[float, Event]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for t, ev in self.times:
                    if match(ev):
                        return t, ev
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no matching event within {timeout}s: "
                                         f"{[e for _, e in self.times]}")
                self.cond.wait(remaining)


@pytest.fixture
def source() -> FakeSource:
    return FakeSource()


@pytest.fixture
def make_observer(source: FakeSource, history: History) -> Iterator[Callable[..., Observer]]:
    made: list[Observer] = []

    def make(**kwargs: Any) -> Observer:
        kwargs.setdefault("namespaces", [NS])
        obs = Observer(None, kwargs.pop("namespaces"), history, source=source, **kwargs)
        made.append(obs)
        return obs

    yield make
    for obs in made:
        obs.stop()


def test_initial_state_is_recorded_before_start_returns(source: FakeSource, history: History,
                                                        make_observer: Callable[..., Observer]) -> None:
    source.apply("ImagePolicy", policy(tag="1.0.0", ready=("True", "Succeeded", "ok")))
    source.apply("ImageRepository", repository(revision="1", scan_time="t1", tags=("1.0.0",)))
    source.apply("Lease", lease("irc-0_abc"))
    source.apply("Event", k8s_event("u1", "Succeeded", "resolved", etype="Normal"))
    obs = make_observer().start(sync_timeout=2)
    assert {e.kind for e in history} == {"policy-spec", "policy-latest", "policy-ready",
                                         "repository-scan", "lease-holder", "note"}
    assert obs.stop() == []


def test_changes_are_recorded_promptly(source: FakeSource, history: History,
                                       make_observer: Callable[..., Observer]) -> None:
    make_observer().start(sync_timeout=2)
    sub = Subscriber(history)
    latencies = []
    for i in range(20):
        t0 = time.monotonic()
        source.apply("ImagePolicy", policy(tag=f"1.0.{i}"))
        t1, _ = sub.wait(lambda e, i=i: isinstance(e, PolicyLatest) and e.tag == f"1.0.{i}")
        latencies.append(t1 - t0)
    assert max(latencies) < 1.0
    assert [e.tag for e in history.of(PolicyLatest)] == [f"1.0.{i}" for i in range(20)]


def test_410_in_stream_relists_without_duplicates(source: FakeSource, history: History,
                                                  make_observer: Callable[..., Observer]) -> None:
    source.apply("ImagePolicy", policy(tag="1.0.0"))
    obs = make_observer().start(sync_timeout=2)
    source.expire("ImagePolicy", NS)
    source.apply("ImagePolicy", policy(tag="1.1.0"))
    assert wait_for(lambda: len(history.of(PolicyLatest)) == 2)
    assert wait_for(lambda: source.count("list", "ImagePolicy") == 2)
    time.sleep(0.2)
    assert [(e.tag, e.previous) for e in history.of(PolicyLatest)] == [("1.0.0", None), ("1.1.0", "1.0.0")]
    assert len(history.of(PolicySpec)) == 1  # the re-list did not re-record the spec
    assert obs.stats["expired"] >= 1
    assert obs.stop() == []


def test_410_on_resume_relists_and_sees_deletions(source: FakeSource, history: History,
                                                  make_observer: Callable[..., Observer]) -> None:
    source.apply("Lease", lease("irc-0_a"))
    obs = make_observer().start(sync_timeout=2)
    # the watch drops, and while it is down the lease changes hands and is deleted;
    # the server compacted its history, so resuming fails with 410 -> re-list
    with source._cond:  # make the changes atomically with the disconnect
        source.disconnect("Lease", NS)
        source.apply("Lease", lease("irc-1_b"))
        source.delete("Lease", NS, LEASE_NAME)
        source.expire("Lease", NS, in_stream=False)
    assert wait_for(lambda: len(history.of(LeaseHolder)) == 2)
    assert [(e.holder) for e in history.of(LeaseHolder)] == ["irc-0", None]
    assert source.count("list", "Lease") == 2
    assert obs.stop() == []


def test_disconnect_resumes_from_resource_version(source: FakeSource, history: History,
                                                  make_observer: Callable[..., Observer]) -> None:
    obs = make_observer().start(sync_timeout=2)
    with source._cond:
        source.disconnect("ImagePolicy", NS)
        source.apply("ImagePolicy", policy(tag="2.0.0"))  # happens while disconnected
    assert wait_for(lambda: len(history.of(PolicyLatest)) == 1)
    source.apply("ImagePolicy", policy(tag="2.1.0"))
    assert wait_for(lambda: len(history.of(PolicyLatest)) == 2)
    assert source.count("list", "ImagePolicy") == 1  # no re-list needed
    assert source.count("watch", "ImagePolicy") >= 2
    assert obs.stop() == []


def test_bookmarks_and_injected_raw_events(source: FakeSource, history: History,
                                           make_observer: Callable[..., Observer]) -> None:
    obs = make_observer().start(sync_timeout=2)
    source.inject("ImagePolicy", NS, {"type": "BOOKMARK",
                                      "object": {"metadata": {"resourceVersion": "1"}}})
    source.inject("ImagePolicy", NS, {"type": "ADDED", "object": policy(tag="3.0.0")})
    source.inject("ImagePolicy", NS, {"type": "MODIFIED", "object": policy(tag="3.0.0")})
    source.inject("ImagePolicy", NS, {"type": "MODIFIED", "object": policy(tag="3.0.1")})
    assert wait_for(lambda: len(history.of(PolicyLatest)) == 2)
    assert obs.stop() == []


def test_transient_list_failures_are_retried_and_surfaced(source: FakeSource, history: History,
                                                          make_observer: Callable[..., Observer]) -> None:
    source.fail_list("ImageRepository", NS, ConnectionResetError("connection reset by peer"), times=2)
    source.apply("ImageRepository", repository(revision="9", scan_time="t", tags=("a",)))
    obs = make_observer(backoff_cap=0.05).start(sync_timeout=3)
    assert len(history.of(RepositoryScan)) == 1
    errors = obs.errors
    assert len(errors) == 2 and not any(e.fatal for e in errors)
    assert "connection reset by peer" in errors[0].message
    assert "retrying (1/10)" in errors[0].message
    lines = obs.stop()
    assert len(lines) == 2 and all("observe-ImageRepository-" in line for line in lines)


def test_persistent_failure_is_fatal_and_recorded(source: FakeSource, history: History,
                                                  make_observer: Callable[..., Observer]) -> None:
    class NotFound(Exception):
        status = 404
        reason = "Not Found"

    source.fail_list("ImagePolicy", NS, NotFound(), times=100)
    obs = make_observer(max_failures=3, backoff_cap=0.01)
    with pytest.raises(ObserverError, match="not synced"):
        obs.start(sync_timeout=3)
    fatal = obs.fatal_errors
    assert len(fatal) == 1 and "gave up after 3 consecutive failures" in fatal[0].message
    assert "CRDs not installed" in fatal[0].message
    notes = [n for n in history.of(Note) if n.data.get("observer_error")]
    assert len(notes) == 1 and notes[0].data["fatal"] is True
    with pytest.raises(ObserverError):
        obs.raise_for_errors(fatal_only=True)
    # a failed start stops the observer: no threads are left behind
    assert not obs.running and source.closed
    assert not any(t.is_alive() for t in obs._threads)


def test_bad_object_is_reported_and_watch_continues(source: FakeSource, history: History,
                                                    make_observer: Callable[..., Observer]) -> None:
    obs = make_observer().start(sync_timeout=2)
    bad = policy(tag="1.0.0")
    bad["status"]["conditions"] = 7  # not a list: the tracker raises
    source.apply("ImagePolicy", bad)
    source.apply("ImagePolicy", policy(tag="1.0.1"))
    assert wait_for(lambda: any(e.tag == "1.0.1" for e in history.of(PolicyLatest)))
    assert len(obs.errors) == 1 and "could not process an object" in obs.errors[0].message
    assert obs.errors[0].traceback


def test_unexpected_watch_error_event_is_retried(source: FakeSource, history: History,
                                                 make_observer: Callable[..., Observer]) -> None:
    obs = make_observer(backoff_cap=0.01).start(sync_timeout=2)
    source.inject("ImagePolicy", NS, {"type": "ERROR", "object": {
        "kind": "Status", "code": 500, "reason": "InternalError", "message": "etcd hiccup"}})
    assert wait_for(lambda: len(obs.errors) == 1)
    source.apply("ImagePolicy", policy(tag="1.0.0"))
    assert wait_for(lambda: len(history.of(PolicyLatest)) == 1)
    assert "watch error 500" in obs.errors[0].message and not obs.errors[0].fatal


def test_stop_is_prompt_and_idempotent(source: FakeSource, history: History,
                                       make_observer: Callable[..., Observer]) -> None:
    calls = []

    def pods_fn(ns: str) -> list[PodStatus]:
        calls.append(ns)
        return []

    obs = make_observer(pods_fn=pods_fn, watch_timeout=300, namespaces=[NS, "other"])
    obs.start(sync_timeout=2)
    assert obs.running
    t0 = time.monotonic()
    assert obs.stop() == []
    assert time.monotonic() - t0 < 1.0
    assert not obs.running and source.closed
    assert obs.stop() == []  # idempotent
    assert all(not t.is_alive() for t in obs._threads)
    n = len(calls)
    time.sleep(0.4)
    assert len(calls) == n  # the poller stopped too


def test_stop_without_start_and_context_manager(source: FakeSource, history: History) -> None:
    assert Observer(None, [NS], history, source=source).stop() == []
    with Observer(None, [NS], history, source=source) as obs:
        source.apply("Lease", lease("p_1"))
        assert wait_for(lambda: len(history.of(LeaseHolder)) == 1)
    assert not obs.running


def test_observer_needs_a_client_or_source(history: History) -> None:
    with pytest.raises(ValueError):
        Observer(None, [NS], history)
    with pytest.raises(ValueError):
        Observer(None, [], history, source=FakeSource())


def test_events_can_be_disabled(source: FakeSource, history: History,
                                make_observer: Callable[..., Observer]) -> None:
    obs = make_observer(events=False).start(sync_timeout=2)
    assert source.count("list", "Event") == 0
    assert obs.stop() == []


def test_namespaces_are_separate(source: FakeSource, history: History,
                                 make_observer: Callable[..., Observer]) -> None:
    make_observer(namespaces=["a", "b"]).start(sync_timeout=2)
    source.apply("ImagePolicy", policy(tag="1.0.0", ns="a"))
    source.apply("ImagePolicy", policy(tag="2.0.0", ns="b"))
    assert wait_for(lambda: len(history.of(PolicyLatest)) == 2)
    assert sorted((e.policy, e.tag) for e in history.of(PolicyLatest)) == [
        ("a/app", "1.0.0"), ("b/app", "2.0.0")]


def test_pod_poller(source: FakeSource, history: History,
                    make_observer: Callable[..., Observer]) -> None:
    script = [
        [pod("irc-0", "c1"), pod("irc-1", "d1")],
        [pod("irc-0", "c1", "terminated", reason="OOMKilled", exit_code=137, oom=True),
         pod("irc-1", "d1")],
        [pod("irc-0", "c2", restarts=1), pod("irc-1", "d1")],
        [pod("irc-1", "d1")],
    ]
    step = {"i": 0}
    lock = threading.Lock()

    def pods_fn(ns: str) -> list[PodStatus]:
        with lock:
            return list(script[step["i"]])

    obs = make_observer(pods_fn=pods_fn, pod_poll_interval=0.05, events=False).start(sync_timeout=2)
    assert len(history.of(PodState)) == 2
    for i in range(1, len(script)):
        with lock:
            step["i"] = i
        before = len(history.of(PodState))
        assert wait_for(lambda b=before: len(history.of(PodState)) > b, timeout=1.0)
    time.sleep(0.2)
    states = [(e.pod.split("/")[1], e.state, e.restart_count) for e in history.of(PodState)]
    assert states == [("irc-0", "running", 0), ("irc-1", "running", 0),
                      ("irc-0", "terminated", 0), ("irc-0", "running", 1), ("irc-0", "deleted", 1)]
    assert obs.stats["polls"] > 4
    assert obs.stop() == []


def test_pod_poller_errors_are_kept_and_polling_goes_on(source: FakeSource, history: History,
                                                        make_observer: Callable[..., Observer]) -> None:
    state = {"fail": True}

    def pods_fn(ns: str) -> list[PodStatus]:
        if state["fail"]:
            raise RuntimeError("docker: 500 Server Error")
        return [pod("irc-0", "c1")]

    obs = make_observer(pods_fn=pods_fn, pod_poll_interval=0.02, events=False).start(sync_timeout=2)
    time.sleep(0.2)
    state["fail"] = False
    assert wait_for(lambda: len(history.of(PodState)) == 1)
    errors = obs.errors
    assert len(errors) == 1  # one entry per failure streak, not one per poll
    assert "pods(fc-test) failed" in errors[0].message and not errors[0].fatal


def test_subscribers_see_observations(source: FakeSource, history: History,
                                      make_observer: Callable[..., Observer]) -> None:
    """Triggers ("after tag X is observed") are history subscribers fed by the observer."""
    fired = threading.Event()
    history.subscribe(lambda e: fired.set() if isinstance(e, PolicyLatest) and e.tag == "9.9.9" else None)
    make_observer().start(sync_timeout=2)
    source.apply("ImagePolicy", policy(tag="9.9.9"))
    assert fired.wait(1.0)


def test_latency_probe_fed_by_observer(source: FakeSource, history: History,
                                       make_observer: Callable[..., Observer]) -> None:
    obs = make_observer().start(sync_timeout=2)
    from datetime import datetime, timezone
    now = datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
    source.apply("Lease", lease("irc-0_a", acquire=now))
    assert wait_for(lambda: len(obs.latency.samples) == 1)
    sample = obs.latency.samples[0]
    assert sample.kind == "lease-holder" and sample.resolution == pytest.approx(1e-6)
    assert -0.01 < sample.latency < 1.0


def test_one_oom_event_per_killed_container(history: History, recorder: Recorder) -> None:
    t = PodTracker(recorder)
    t.sync([pod("irc-0", "c1")])
    t.sync([pod("irc-0", "c1", "terminated", reason="OOMKilled", exit_code=137, oom=True)])
    # restarted: the status now tells the last termination, the same kill
    t.sync([pod("irc-0", "c2", restarts=1, reason="OOMKilled", exit_code=137, oom=True)])
    t.sync([pod("irc-0", "c2", restarts=1, reason="OOMKilled", exit_code=137, oom=True)])
    # killed again, seen only after its restart (the terminated state was never polled)
    t.sync([pod("irc-0", "c3", restarts=2, reason="OOMKilled", exit_code=137, oom=True)])
    # a plain kill is not an OOM kill
    t.sync([pod("irc-0", "c4", restarts=3, reason="Error", exit_code=137)])
    assert [(e.pod, e.restart, e.exit_code) for e in history.of(OomKill)] == [
        (f"{NS}/irc-0", 0, 137), (f"{NS}/irc-0", 1, 137)]
