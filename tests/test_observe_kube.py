"""The real KubeSource (official kubernetes client, HTTP, chunked watch streams) against
a small loopback API server emulation backed by FakeSource: list/watch paths, field
selectors, 410 Gone as an HTTP status and as a stream event, prompt stop while a
watch read is blocked, and an unreachable server. No cluster needed."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client as k8s  # noqa: E402

from pytest_fluxchaos.history import History, LeaseHolder, PolicyLatest  # noqa: E402
from pytest_fluxchaos.observe import (LEASE_NAME, FakeSource, KubeSource, Observer,  # noqa: E402
                                      Resource, WatchExpired, image_policies, leader_lease,
                                      summarize)

from test_observe import NS, lease, policy  # noqa: E402

PATHS = {
    ("image.toolkit.fluxcd.io", "imagepolicies"): "ImagePolicy",
    ("image.toolkit.fluxcd.io", "imagerepositories"): "ImageRepository",
    ("coordination.k8s.io", "leases"): "Lease",
    ("", "events"): "Event",
}


class FakeApiServer:
    """Serves list and watch for a few namespaced resources out of a FakeSource."""

    def __init__(self, source: FakeSource) -> None:
        self.source = source
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        self.fail_next: list[int] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                api.requests.append((url.path, query))
                parts = url.path.strip("/").split("/")
                # /api/v1/namespaces/NS/PLURAL or /apis/GROUP/VERSION/namespaces/NS/PLURAL
                if parts[0] == "api":
                    group, version, ns, plural = "", parts[1], parts[3], parts[4]
                else:
                    group, version, ns, plural = parts[1], parts[2], parts[4], parts[5]
                kind = PATHS.get((group, plural))
                if kind is None:
                    return self._json(404, {"kind": "Status", "code": 404, "reason": "NotFound"})
                if api.fail_next:
                    code = api.fail_next.pop(0)
                    return self._json(code, {"kind": "Status", "code": code, "reason": "Injected"})
                name = None
                for selector in query.get("fieldSelector", []):
                    key, _, value = unquote(selector).partition("=")
                    if key == "metadata.name":
                        name = value
                resource = Resource(kind, group, version, plural, name=name)
                if query.get("watch", ["false"])[0] != "true":
                    items, rv = api.source.list(resource, ns)
                    return self._json(200, {"kind": f"{kind}List", "apiVersion": "v1",
                                            "metadata": {"resourceVersion": rv}, "items": items})
                timeout = int(query.get("timeoutSeconds", ["30"])[0])
                try:
                    stream = api.source.watch(resource, ns, query.get("resourceVersion", [""])[0],
                                              timeout)
                except WatchExpired as exc:
                    return self._json(410, {"kind": "Status", "code": 410, "reason": "Expired",
                                            "message": str(exc)})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    for event in stream:
                        data = json.dumps(event).encode() + b"\n"
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except OSError:
                    pass
                finally:
                    stream.close()
                    self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def watches(self, plural: str) -> list[dict[str, list[str]]]:
        return [q for p, q in list(self.requests) if p.endswith(plural) and q.get("watch") == ["true"]]

    def lists(self, plural: str) -> list[dict[str, list[str]]]:
        return [q for p, q in list(self.requests) if p.endswith(plural) and q.get("watch") != ["true"]]

    def close(self) -> None:
        self.source.disconnect_all()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def source() -> FakeSource:
    return FakeSource()


@pytest.fixture
def apiserver(source: FakeSource) -> Iterator[FakeApiServer]:
    server = FakeApiServer(source)
    yield server
    server.close()


@pytest.fixture
def api_client(apiserver: FakeApiServer) -> Iterator[Any]:
    cfg = k8s.Configuration(host=apiserver.url)
    api = k8s.ApiClient(cfg)
    yield api
    api.close()


def wait_for(predicate: Any, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def test_kube_source_list_and_watch(source: FakeSource, apiserver: FakeApiServer, api_client: Any) -> None:
    source.apply("ImagePolicy", policy(tag="1.0.0"))
    ks = KubeSource(api_client)
    try:
        items, rv = ks.list(image_policies("v1"), NS)
        assert [i["status"]["latestRef"]["tag"] for i in items] == ["1.0.0"] and rv
        stream = ks.watch(image_policies("v1"), NS, rv, 5)
        got: list[dict[str, Any]] = []
        reader = threading.Thread(target=lambda: got.extend(stream))
        reader.start()
        source.apply("ImagePolicy", policy(tag="1.1.0"))
        assert wait_for(lambda: len(got) == 1)
        assert got[0]["type"] == "MODIFIED"
        assert got[0]["object"]["status"]["latestRef"]["tag"] == "1.1.0"
        stream.close()
        reader.join(2)
        assert not reader.is_alive()
        (watch_q,) = apiserver.watches("imagepolicies")
        assert watch_q["allowWatchBookmarks"] == ["true"] and watch_q["timeoutSeconds"] == ["5"]
        # 410 as an HTTP status
        source.expire("ImagePolicy", NS, in_stream=False)
        with pytest.raises(WatchExpired):
            ks.watch(image_policies("v1"), NS, "1", 5)
    finally:
        ks.close()


def test_observer_over_http(source: FakeSource, apiserver: FakeApiServer, api_client: Any) -> None:
    source.apply("ImagePolicy", policy(tag="0.0.1"))
    source.apply("Lease", lease("irc-0_a"))
    source.apply("Lease", lease("x_1", name="some-other-lease"))
    history = History()
    obs = Observer(api_client, [NS], history).start(sync_timeout=5)
    try:
        assert [e.tag for e in history.of(PolicyLatest)] == ["0.0.1"]
        assert [e.holder for e in history.of(LeaseHolder)] == ["irc-0"]
        lease_lists = apiserver.lists("leases")
        assert lease_lists[0]["fieldSelector"] == [f"metadata.name={LEASE_NAME}"]
        # record latency of status writes over loopback HTTP
        latencies = []
        arrived: dict[str, float] = {}
        cond = threading.Condition()

        def on_event(ev: Any) -> None:
            if isinstance(ev, PolicyLatest):
                with cond:
                    arrived[ev.tag] = time.monotonic()
                    cond.notify_all()

        history.subscribe(on_event)
        for i in range(50):
            tag = f"1.0.{i}"
            t0 = time.monotonic()
            source.apply("ImagePolicy", policy(tag=tag))
            with cond:
                assert cond.wait_for(lambda tag=tag: tag in arrived, 2.0)
            latencies.append(arrived[tag] - t0)
        stats = summarize(latencies)
        print("fake-apiserver record latency:", stats)
        assert stats["p99"] < 1.0
        # 410 inside the stream -> re-list and resume
        before = len(apiserver.lists("imagepolicies"))
        source.expire("ImagePolicy", NS)
        source.apply("ImagePolicy", policy(tag="2.0.0"))
        assert wait_for(lambda: any(e.tag == "2.0.0" for e in history.of(PolicyLatest)))
        assert len(apiserver.lists("imagepolicies")) == before + 1
        # leader change and deletion
        source.apply("Lease", lease("irc-1_b"))
        source.delete("Lease", NS, LEASE_NAME)
        assert wait_for(lambda: len(history.of(LeaseHolder)) == 3)
        assert [e.holder for e in history.of(LeaseHolder)] == ["irc-0", "irc-1", None]
        tags = [e.tag for e in history.of(PolicyLatest)]
        assert len(tags) == len(set(tags))  # no duplicates
    finally:
        t0 = time.monotonic()
        errors = obs.stop()
        assert time.monotonic() - t0 < 2.0
    assert errors == []


def test_stop_interrupts_blocked_watch_reads(source: FakeSource, apiserver: FakeApiServer,
                                             api_client: Any) -> None:
    history = History()
    obs = Observer(api_client, [NS, "other"], history, watch_timeout=300).start(sync_timeout=5)
    assert wait_for(lambda: len(apiserver.watches("imagepolicies")) == 2)
    time.sleep(0.3)  # every watch is now blocked reading an idle stream
    t0 = time.monotonic()
    assert obs.stop(timeout=2.0) == []
    elapsed = time.monotonic() - t0
    assert elapsed < 1.0, f"stop took {elapsed:.2f}s"
    assert not any(t.is_alive() for t in obs._threads)


def test_server_errors_are_retried(source: FakeSource, apiserver: FakeApiServer, api_client: Any) -> None:
    apiserver.fail_next.extend([500, 503])
    history = History()
    obs = Observer(api_client, [NS], history, events=False, backoff_cap=0.05).start(sync_timeout=5)
    errors = obs.stop()
    assert len(errors) == 2 and all("retrying" in e for e in errors)
    assert any("HTTP 500" in e for e in errors) and any("HTTP 503" in e for e in errors)


def test_unreachable_api_server_gives_up_with_a_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    api = k8s.ApiClient(k8s.Configuration(host=f"http://127.0.0.1:{port}"))
    history = History()
    obs = Observer(api, [NS], history, events=False, max_failures=3, backoff_cap=0.05)
    t0 = time.monotonic()
    obs.start()
    assert not obs.wait_synced(10)
    assert wait_for(lambda: len(obs.fatal_errors) == 3, 10)
    assert time.monotonic() - t0 < 10
    fatal = obs.fatal_errors
    assert len(fatal) == 3  # one per watched resource
    assert all("gave up after 3 consecutive failures" in e.message for e in fatal)
    assert any("refused" in e.message.lower() or "MaxRetryError" in e.message for e in fatal)
    obs.stop()
    api.close()


def test_lease_resource_uses_field_selector() -> None:
    assert leader_lease().name == LEASE_NAME
    assert str(leader_lease()) == f"Lease (coordination.k8s.io/v1) {LEASE_NAME}"
