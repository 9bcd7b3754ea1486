"""The registry liar's admin adapter against canned answers in the liar's JSON shapes (the
real liar answers it in tests/test_registry_liar_real.py): parsing, and every failure as
one BackendError line."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from pytest_fluxchaos.domain import BackendError, RegistryLie
from pytest_fluxchaos.registry_liar import RegistryLiarClient

LIE = {"id": "s1", "kind": "stale", "image": "ns/*", "params": {}, "set_at": "2026-12-01T23:21:36Z",
       "log_cursor": 3, "snapshot": {"ns/app": 5, "ns/gone": -1}}
ENTRY = {"seq": 4, "lie": "s1", "kind": "stale", "at": 1796167296.5, "time": "2026-12-01T23:21:36.5Z",
         "client": "127.0.0.1:5", "user_agent": "ua", "method": "GET", "path": "/v2/ns/app/tags/list?n=2",
         "status": 200, "upstream_status": 200, "lied": True, "detail": {"served_tags": 2}}


class CannedLiar(BaseHTTPRequestHandler):
    seen: list[tuple[str, str, Any]] = []

    def log_message(self, *_a: Any) -> None:
        pass

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        self.seen.append(("GET", self.path, None))
        if self.path == "/lies":
            self._send(200, {"boot": "b1", "lies": [LIE]})
        elif self.path.startswith("/log"):
            self._send(200, {"boot": "b1", "last": 4, "dropped": 0, "entries": [ENTRY]})
        else:
            self._send(200, {"ok": True, "boot": "b1"})

    def do_PUT(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append(("PUT", self.path, body))
        if self.path == "/lies/taken":
            self._send(409, {"error": "lie taken is already set; clear it first", "status": 409})
        else:
            self._send(201, {**LIE, "id": self.path.rsplit("/", 1)[1]})

    def do_DELETE(self) -> None:  # noqa: N802
        self.seen.append(("DELETE", self.path, None))
        self._send(404, {"error": "no lie", "status": 404})


@pytest.fixture
def client() -> Iterator[RegistryLiarClient]:
    CannedLiar.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), CannedLiar)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    c = RegistryLiarClient(f"http://127.0.0.1:{server.server_address[1]}")
    yield c
    c.close()
    server.shutdown()
    server.server_close()


def test_set_read_log_clear(client: RegistryLiarClient) -> None:
    assert client.answers()
    held = client.set_lie(RegistryLie("s1", "stale", "ns/*"))
    assert (held.id, held.log_cursor, held.snapshot) == ("s1", 3, {"ns/app": 5, "ns/gone": -1})
    assert CannedLiar.seen[-1] == ("PUT", "/lies/s1", {"kind": "stale", "image": "ns/*", "params": {}})
    state = client.state()
    assert state.boot == "b1" and state.lie("s1") == held and state.lie("x") is None
    log = client.log(3, "s1")
    assert CannedLiar.seen[-1][1] == "/log?since=3&lie=s1"
    assert (log.boot, log.last, len(log.entries)) == ("b1", 4, 1)
    e = log.entries[0]
    assert (e.seq, e.lied, e.status, e.upstream_status, e.detail) == (4, True, 200, 200, {"served_tags": 2})
    client.clear_lie("s1")  # 404: already gone, fine


def test_errors_are_one_line_backend_errors(client: RegistryLiarClient) -> None:
    with pytest.raises(BackendError, match="refused PUT /lies/taken: HTTP 409 lie taken is already set"):
        client.set_lie(RegistryLie("taken", "slow", "*", {"delay_ms": 5}))
    with pytest.raises(BackendError, match="unknown lie kind 'fib'"):
        client.set_lie(RegistryLie("x", "fib", "*"))
    dead = RegistryLiarClient("http://127.0.0.1:9", timeout=1)
    assert not dead.answers()
    with pytest.raises(BackendError, match="the registry liar does not answer GET http://127.0.0.1:9/lies"):
        dead.state()
