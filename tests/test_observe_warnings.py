"""Warning Events about ImagePolicies/ImageRepositories become ``KubeEvent``, and a failing
ImageRepository's Ready becomes ``RepositoryReady``: from the tracker, through the
observer threads on an in-memory source, and through the kubernetes client over loopback
HTTP. No cluster needed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_fluxchaos.checkers import CheckContext, PolicyUnderTest, ReadyHonest, Validity
from pytest_fluxchaos.history import Event, History, KubeEvent, Note, RepositoryReady
from pytest_fluxchaos.observe import FakeSource, Observer
from pytest_fluxchaos.observe.trackers import EventTracker, Recorder
from pytest_fluxchaos.waiting import wait_until

from test_observe import NS, k8s_event, policy, repository

NO_TAGS = "no tags in database"
SCAN_FAILED = 'scan failed: Get "http://fluxchaos-proxy:5000/v2/": EOF'


class Arrivals:
    """Wakes a wait_until when the history grows."""

    def __init__(self, history: History) -> None:
        self.cond = threading.Condition()
        history.subscribe(self._on)

    def _on(self, _event: Event) -> None:
        with self.cond:
            self.cond.notify_all()


def test_warnings_about_image_objects_are_kube_events(history: History, recorder: Recorder) -> None:
    t = EventTracker(recorder)
    t.apply("ADDED", k8s_event("u1", "DependencyNotReady", NO_TAGS))
    t.apply("MODIFIED", k8s_event("u1", "DependencyNotReady", NO_TAGS))  # nothing new: not recorded
    t.apply("MODIFIED", k8s_event("u1", "DependencyNotReady", NO_TAGS, count=3))
    t.apply("ADDED", k8s_event("u2", "ReadOperationFailed", SCAN_FAILED, kind="ImageRepository"))
    t.apply("ADDED", k8s_event("u3", "Succeeded", "resolved", etype="Normal"))  # a Note
    t.apply("ADDED", k8s_event("u4", "BackOff", "restarting", kind="Pod", name="irc-0"))  # a Note
    warnings = history.of(KubeEvent)
    assert [(w.involved_kind, w.involved, w.reason, w.count) for w in warnings] == [
        ("ImagePolicy", f"{NS}/app", "DependencyNotReady", 1),
        ("ImagePolicy", f"{NS}/app", "DependencyNotReady", 3),
        ("ImageRepository", f"{NS}/app", "ReadOperationFailed", 1)]
    first, again, repo = warnings
    assert (again.message, again.type, again.reporter) == (NO_TAGS, "Warning", "image-reflector-controller")
    assert (again.first_timestamp, again.last_timestamp) == ("2026-01-01T00:00:00Z", "2026-01-01T00:00:03Z")
    assert first.name == again.name == f"{NS}/app.u1" and repo.name == f"{NS}/app.u2"
    assert [n.data["reason"] for n in history.of(Note)] == ["Succeeded", "BackOff"]


def test_events_api_series_give_count_and_last_time(history: History, recorder: Recorder) -> None:
    """events.k8s.io Events read through core/v1: eventTime, series, deprecated fields empty."""
    obj = {"kind": "Event", "metadata": {"name": "app.x", "namespace": NS, "uid": "x"},
           "regarding": {"kind": "ImagePolicy", "namespace": NS, "name": "app"},
           "reason": "DependencyNotReady", "note": NO_TAGS, "type": "Warning",
           "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "irc",
           "series": {"count": 4, "lastObservedTime": "2026-01-01T00:01:30.000000Z"}}
    EventTracker(recorder).apply("ADDED", obj)
    (w,) = history.of(KubeEvent)
    assert (w.count, w.message) == (4, NO_TAGS)
    assert (w.first_timestamp, w.last_timestamp) == ("2026-01-01T00:00:00.000000Z",
                                                     "2026-01-01T00:01:30.000000Z")


@pytest.fixture
def history() -> History:
    return History()


@pytest.fixture
def recorder(history: History) -> Recorder:
    return Recorder(history)


@pytest.fixture
def observer(history: History) -> Iterator[tuple[FakeSource, Observer]]:
    source = FakeSource()
    obs = Observer(None, [NS], history, source=source)
    yield source, obs
    assert obs.stop() == []


def test_observer_records_a_failing_repository_and_its_warnings(
        history: History, observer: tuple[FakeSource, Observer]) -> None:
    """What IRC does in a registry outage (#449): the repository fails and warns, the
    policy keeps Ready=True; the observer records all of it, and ready-honest judges it."""
    source, obs = observer
    resolved = ("True", "Succeeded", "Latest image tag for app resolved to 1.2.0")
    source.apply("ImagePolicy", policy(tag="1.2.0", ready=resolved))
    source.apply("ImageRepository", repository(revision="1", scan_time="2026-01-01T00:00:00Z",
                                               tags=("1.2.0",), ready=("True", "Succeeded", "found 1")))
    obs.start(sync_timeout=5)
    arrivals = Arrivals(history)
    source.apply("ImageRepository", repository(revision="1", scan_time="2026-01-01T00:00:00Z",
                                               tags=("1.2.0",), ready=("False", "ReadOperationFailed",
                                                                       SCAN_FAILED)))
    for count in (1, 2):
        source.apply("Event", k8s_event("w1", "ReadOperationFailed", SCAN_FAILED, count=count,
                                        kind="ImageRepository"))
    wait_until(lambda: len(history.of(KubeEvent)) == 2 and len(history.of(RepositoryReady)) == 2, 5,
               what="two warnings and the failure recorded", condition=arrivals.cond)
    source.apply("ImageRepository", repository(revision="2", scan_time="2026-01-01T00:05:00Z",
                                               tags=("1.3.0", "1.2.0"), ready=("True", "Succeeded", "found 2")))
    wait_until(lambda: len(history.of(RepositoryReady)) == 3, 5, what="the recovery recorded",
               condition=arrivals.cond)
    readies = [(e.status, e.reason, e.message) for e in history.of(RepositoryReady)]
    assert readies == [("True", "Succeeded", "found 1"), ("False", "ReadOperationFailed", SCAN_FAILED),
                       ("True", "Succeeded", "found 2")]
    assert [w.count for w in history.of(KubeEvent)] == [1, 2]

    put = PolicyUnderTest(f"{NS}/app", "app", {"semver": {"range": ">=1.0.0"}})
    strict = ReadyHonest().check(history, CheckContext(policies=(put,), honest_bound=0.0))
    assert strict.valid is Validity.FALSE, strict.summary
    assert strict.data["policies"][put.name]["repository"] == f"{NS}/app"  # from the observed spec
    assert SCAN_FAILED in "\n".join(strict.story)
    lenient = ReadyHonest().check(history, CheckContext(policies=(put,), honest_bound=3600.0))
    assert lenient.valid is Validity.TRUE, lenient.summary


def test_observer_over_http_records_warnings(history: History) -> None:
    """The kubernetes client's event list/watch, as the real observer reads it."""
    pytest.importorskip("kubernetes")
    from kubernetes import client as k8s

    from test_observe_kube import FakeApiServer

    source = FakeSource()
    server = FakeApiServer(source)
    api: Any = k8s.ApiClient(k8s.Configuration(host=server.url))
    source.apply("Event", k8s_event("w1", "DependencyNotReady", NO_TAGS))
    obs = Observer(api, [NS], history).start(sync_timeout=5)
    try:
        arrivals = Arrivals(history)
        source.apply("Event", k8s_event("w1", "DependencyNotReady", NO_TAGS, count=2))
        wait_until(lambda: len(history.of(KubeEvent)) == 2, 5, what="the repeated warning",
                   condition=arrivals.cond)
    finally:
        errors = obs.stop()
        server.close()
        api.close()
    assert errors == []
    assert [(w.involved, w.count) for w in history.of(KubeEvent)] == [(f"{NS}/app", 1), (f"{NS}/app", 2)]
