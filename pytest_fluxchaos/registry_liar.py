"""The registry liar's admin API (``assets/registry_liar``, our own program) as the plugin
uses it: set and clear lies, read its log of the responses they acted on.

On ``requests``, like the Toxiproxy adapter: a handful of JSON calls, every error one
``BackendError`` line.
"""

from __future__ import annotations

from typing import Any

import requests

from .domain import LIE_KINDS, BackendError, LiarState, LieLog, RegistryLie, ServedLie, one_line


def lie_from_json(data: dict[str, Any]) -> RegistryLie:
    return RegistryLie(id=str(data.get("id", "")), kind=str(data.get("kind", "")), image=str(data.get("image", "")),
                       params=dict(data.get("params") or {}), log_cursor=int(data.get("log_cursor") or 0),
                       snapshot={str(k): int(v) for k, v in (data.get("snapshot") or {}).items()})


def served_from_json(data: dict[str, Any]) -> ServedLie:
    return ServedLie(seq=int(data["seq"]), lie=str(data.get("lie", "")), kind=str(data.get("kind", "")),
                     at=float(data.get("at", 0.0)), client=str(data.get("client", "")),
                     user_agent=str(data.get("user_agent", "")), method=str(data.get("method", "")),
                     path=str(data.get("path", "")), status=int(data.get("status", 0)),
                     upstream_status=int(data.get("upstream_status") or 0), lied=bool(data.get("lied")),
                     detail=dict(data.get("detail") or {}))


class RegistryLiarClient:
    """One registry liar's admin API (``http://127.0.0.1:<port>``)."""

    def __init__(self, admin_url: str, timeout: float = 15.0) -> None:
        self.admin_url = admin_url.rstrip("/")
        self.timeout = timeout  # a clear waits (10 s at most) for the requests a lie holds
        self.session = requests.Session()

    def close(self) -> None:
        self.session.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None,
              params: dict[str, Any] | None = None, ok: tuple[int, ...] = (200, 201)) -> requests.Response:
        url = f"{self.admin_url}{path}"
        try:
            resp = self.session.request(method, url, json=body, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise BackendError(f"the registry liar does not answer {method} {url}: {one_line(exc, 200)}") from None
        if resp.status_code not in ok:
            try:
                why = str(resp.json().get("error", resp.text))
            except ValueError:
                why = resp.text
            raise BackendError(f"the registry liar refused {method} {path}: HTTP {resp.status_code} "
                               f"{one_line(why, 200)}")
        return resp

    def health(self) -> dict[str, Any]:
        return dict(self._call("GET", "/healthz").json())

    def answers(self) -> bool:
        try:
            self.health()
        except BackendError:
            return False
        return True

    def state(self) -> LiarState:
        data = self._call("GET", "/lies").json()
        return LiarState(str(data.get("boot", "")), tuple(lie_from_json(d) for d in data.get("lies") or []))

    def set_lie(self, lie: RegistryLie) -> RegistryLie:
        """Set a lie; the answer is the lie as the liar holds it (cursor, stale snapshot)."""
        if lie.kind not in LIE_KINDS:
            raise BackendError(f"unknown lie kind {lie.kind!r}: choose one of {', '.join(LIE_KINDS)}")
        body = {"kind": lie.kind, "image": lie.image, "params": dict(lie.params)}
        return lie_from_json(self._call("PUT", f"/lies/{lie.id}", body).json())

    def clear_lie(self, lie_id: str) -> None:
        """Clear a lie once the requests it acts on have ended; one that is not there is fine."""
        self._call("DELETE", f"/lies/{lie_id}", ok=(200, 404))

    def log(self, since: int = 0, lie: str | None = None) -> LieLog:
        params: dict[str, Any] = {"since": since}
        if lie:
            params["lie"] = lie
        data = self._call("GET", "/log", params=params).json()
        return LieLog(boot=str(data.get("boot", "")), last=int(data.get("last") or 0),
                      entries=tuple(served_from_json(e) for e in data.get("entries") or []),
                      dropped=int(data.get("dropped") or 0))
