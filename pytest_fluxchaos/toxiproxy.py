"""Toxiproxy's admin API (a small JSON/HTTP API) as the plugin uses it: create a proxy,
add and remove toxics by name, read a proxy's state.

Written on ``requests`` rather than the PyPI client ``toxiproxy-python``: that package's
last release (0.1.1) is from January 2019, targets Python 2.7-3.5, ships no type hints,
and maps errors to its own exceptions; the handful of calls below is shorter than an
adapter around it would be, and every error becomes one ``BackendError`` line.
"""

from __future__ import annotations

import time
from typing import Any

import requests

from .domain import TOXIC_TYPES, BackendError, ProxyState, ProxyToxic, one_line

STREAMS = ("downstream", "upstream")


def toxic_from_json(data: dict[str, Any]) -> ProxyToxic:
    return ProxyToxic(name=str(data.get("name", "")), kind=str(data.get("type", "")),
                      stream=str(data.get("stream", "downstream")),
                      toxicity=float(data.get("toxicity", 1.0)),
                      attributes=dict(data.get("attributes") or {}))


def state_from_json(data: dict[str, Any]) -> ProxyState:
    return ProxyState(name=str(data.get("name", "")), listen=str(data.get("listen", "")),
                      upstream=str(data.get("upstream", "")), enabled=bool(data.get("enabled", False)),
                      toxics=tuple(toxic_from_json(t) for t in data.get("toxics") or []))


def check_toxic(toxic: ProxyToxic) -> None:
    if toxic.kind not in TOXIC_TYPES:
        raise BackendError(f"unknown toxic type {toxic.kind!r}: choose one of {', '.join(TOXIC_TYPES)}")
    if toxic.stream not in STREAMS:
        raise BackendError(f"toxic stream must be downstream or upstream, not {toxic.stream!r}")
    if not toxic.name:
        raise BackendError("a toxic needs a name")


class ToxiproxyClient:
    """One Toxiproxy server's admin API (``http://127.0.0.1:<port>``)."""

    def __init__(self, admin_url: str, timeout: float = 5.0) -> None:
        self.admin_url = admin_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def close(self) -> None:
        self.session.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None,
              ok: tuple[int, ...] = (200, 201, 204)) -> requests.Response:
        url = f"{self.admin_url}{path}"
        try:
            resp = self.session.request(method, url, json=body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise BackendError(f"the registry's fault proxy does not answer {method} {url}: "
                               f"{one_line(exc, 200)}") from None
        if resp.status_code not in ok:
            raise BackendError(f"the registry's fault proxy refused {method} {path}: "
                               f"HTTP {resp.status_code} {one_line(resp.text, 200)}")
        return resp

    def version(self) -> str:
        return self._call("GET", "/version").text.strip()

    def answers(self) -> bool:
        try:
            self.version()
        except BackendError:
            return False
        return True

    def create_proxy(self, name: str, listen: str, upstream: str) -> ProxyState:
        """Create (or, when it exists, keep) proxy ``name``; returns its state."""
        self._call("POST", "/proxies", {"name": name, "listen": listen, "upstream": upstream, "enabled": True},
                   ok=(200, 201, 409))
        return self.proxy(name)

    def proxy(self, name: str) -> ProxyState:
        return state_from_json(self._call("GET", f"/proxies/{name}").json())

    def add_toxic(self, proxy: str, toxic: ProxyToxic) -> ProxyToxic:
        check_toxic(toxic)
        body = {"name": toxic.name, "type": toxic.kind, "stream": toxic.stream, "toxicity": toxic.toxicity,
                "attributes": dict(toxic.attributes)}
        return toxic_from_json(self._call("POST", f"/proxies/{proxy}/toxics", body).json())

    def remove_toxic(self, proxy: str, name: str) -> None:
        """Remove toxic ``name``; one that is not there is fine."""
        self._call("DELETE", f"/proxies/{proxy}/toxics/{name}", ok=(200, 204, 404))


def timed_get(url: str, timeout: float = 30.0) -> float:
    """Seconds one ``GET url`` takes to its last byte (any HTTP status); BackendError when
    nothing answers."""
    t0 = time.monotonic()
    try:
        resp = requests.get(url, timeout=timeout)
        _ = resp.content
    except requests.RequestException as exc:
        raise BackendError(f"GET {url} failed: {one_line(exc, 200)}") from None
    return time.monotonic() - t0
