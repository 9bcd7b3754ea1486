"""The Toxiproxy admin adapter against a tiny in-process imitation of its JSON API (the real
server is exercised by tests/integration/test_registry_proxy.py)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from pytest_fluxchaos.domain import BackendError, ProxyToxic
from pytest_fluxchaos.toxiproxy import ToxiproxyClient, timed_get


class FakeToxiproxy(BaseHTTPRequestHandler):
    proxies: dict[str, dict[str, Any]] = {}

    def log_message(self, *_a: Any) -> None:
        pass

    def _send(self, status: int, body: Any = None) -> None:
        data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict[str, Any]:
        return dict(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))

    def do_GET(self) -> None:  # noqa: N802
        parts = self.path.strip("/").split("/")
        if parts == ["version"]:
            self._send(200, b"v2.5.0")
        elif len(parts) == 2 and parts[0] == "proxies" and parts[1] in self.proxies:
            self._send(200, self.proxies[parts[1]])
        else:
            self._send(404, {"error": "proxy not found", "status": 404})

    def do_POST(self) -> None:  # noqa: N802
        parts = self.path.strip("/").split("/")
        body = self._body()
        if parts == ["proxies"]:
            if body["name"] in self.proxies:
                self._send(409, {"error": "proxy already exists", "status": 409})
                return
            self.proxies[body["name"]] = {**body, "listen": "[::]:5000", "toxics": []}
            self._send(201, self.proxies[body["name"]])
        elif len(parts) == 3 and parts[2] == "toxics":
            self.proxies[parts[1]]["toxics"].append(body)
            self._send(200, body)

    def do_DELETE(self) -> None:  # noqa: N802
        parts = self.path.strip("/").split("/")
        toxics = self.proxies[parts[1]]["toxics"]
        if not any(t["name"] == parts[3] for t in toxics):
            self._send(404, {"error": "toxic not found", "status": 404})
            return
        self.proxies[parts[1]]["toxics"] = [t for t in toxics if t["name"] != parts[3]]
        self._send(204)


@pytest.fixture
def client() -> Iterator[ToxiproxyClient]:
    FakeToxiproxy.proxies = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeToxiproxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    c = ToxiproxyClient(f"http://127.0.0.1:{server.server_address[1]}")
    yield c
    c.close()
    server.shutdown()
    server.server_close()


def test_create_add_read_remove(client: ToxiproxyClient) -> None:
    assert client.version() == "v2.5.0"
    state = client.create_proxy("registry", "0.0.0.0:5000", "reg:5000")
    assert (state.name, state.upstream, state.enabled, state.toxics) == ("registry", "reg:5000", True, ())
    assert client.create_proxy("registry", "0.0.0.0:5000", "reg:5000") == state  # idempotent (409)
    slow = ProxyToxic("slow", "latency", attributes={"latency": 1500, "jitter": 0})
    assert client.add_toxic("registry", slow) == slow
    got = client.proxy("registry").toxic("slow")
    assert got is not None and (got.kind, got.stream, got.attributes["latency"]) == ("latency", "downstream", 1500)
    client.remove_toxic("registry", "slow")
    client.remove_toxic("registry", "slow")  # gone already: fine
    assert client.proxy("registry").toxics == ()


def test_errors_are_one_line_backend_errors(client: ToxiproxyClient) -> None:
    client.create_proxy("registry", "0.0.0.0:5000", "reg:5000")
    with pytest.raises(BackendError, match="unknown toxic type 'slicer'"):
        client.add_toxic("registry", ProxyToxic("x", "slicer"))
    with pytest.raises(BackendError, match="stream must be downstream or upstream"):
        client.add_toxic("registry", ProxyToxic("x", "latency", stream="both"))
    with pytest.raises(BackendError, match="refused GET /proxies/missing: HTTP 404"):
        client.proxy("missing")
    dead = ToxiproxyClient("http://127.0.0.1:9", timeout=1)
    assert not dead.answers()
    with pytest.raises(BackendError, match="does not answer GET"):
        dead.version()
    with pytest.raises(BackendError, match="GET http://127.0.0.1:9/v2/ failed"):
        timed_get("http://127.0.0.1:9/v2/", timeout=1)


def test_an_environment_on_a_backend_without_a_proxy_says_so() -> None:
    from pytest_fluxchaos.backends.kube_environment import KubeEnvironment

    env = KubeEnvironment.__new__(KubeEnvironment)
    env.backend = object()  # type: ignore[assignment]
    env.backend_name = "kind"
    with pytest.raises(BackendError, match="the kind backend has no fault proxy in front of the registry"):
        env.add_registry_toxic(ProxyToxic("slow", "latency"))
