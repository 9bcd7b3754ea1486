"""An in-memory :class:`~pytest_fluxchaos.observe.source.WatchSource` for tests.

It keeps objects and a per-(kind, namespace) event log with increasing
resourceVersions, so a watch resumed from an older resourceVersion replays what it
missed, as the API server's watch cache does. Tests drive it with ``apply`` /
``delete`` (which produce ``ADDED``/``MODIFIED``/``DELETED``), ``inject`` (any raw
watch event dict), ``expire`` (410 Gone), ``disconnect`` (the server ends open
streams) and ``fail_list`` / ``fail_watch`` (errors on the next calls).
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator
from typing import Any

from .source import Resource, WatchExpired

Key = tuple[str, str]


def _kind(kind: str | Resource) -> str:
    return kind.kind if isinstance(kind, Resource) else kind


class FakeStream:
    def __init__(self, source: FakeSource, key: Key, resource: Resource, cursor: int,
                 timeout: float) -> None:
        self._source = source
        self._key = key
        self._resource = resource
        self._cursor = cursor
        self._deadline = time.monotonic() + timeout
        self._closed = False
        self._epoch = source._epochs.get(key, 0)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        src = self._source
        while True:
            with src._cond:
                while True:
                    if self._closed or src._epochs.get(self._key, 0) != self._epoch:
                        return
                    pending = [(rv, ev) for rv, ev in src._log.get(self._key, [])
                               if rv > self._cursor]
                    if pending:
                        break
                    remaining = self._deadline - time.monotonic()
                    if remaining <= 0:
                        return
                    src._cond.wait(min(remaining, 0.5))
            for rv, event in pending:
                if self._closed:
                    return
                self._cursor = rv
                name = ((event.get("object") or {}).get("metadata") or {}).get("name")
                if self._resource.name and event.get("type") != "ERROR" and name != self._resource.name:
                    continue
                yield copy.deepcopy(event)

    def close(self) -> None:
        with self._source._cond:
            self._closed = True
            self._source._cond.notify_all()


class FakeSource:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._rv = 0
        self._objects: dict[Key, dict[str, dict[str, Any]]] = {}
        self._log: dict[Key, list[tuple[int, dict[str, Any]]]] = {}
        self._compacted: dict[Key, int] = {}
        self._epochs: dict[Key, int] = {}
        self._list_errors: dict[Key, list[BaseException]] = {}
        self._watch_errors: dict[Key, list[BaseException]] = {}
        self.calls: list[tuple[str, str, str, str]] = []  # (call, kind, namespace, rv)
        self.closed = False

    # -- test controls --------------------------------------------------------------

    def _next_rv(self) -> int:
        self._rv += 1
        return self._rv

    def _append(self, key: Key, event: dict[str, Any]) -> int:
        rv = self._next_rv()
        self._log.setdefault(key, []).append((rv, event))
        self._cond.notify_all()
        return rv

    def apply(self, kind: str | Resource, obj: dict[str, Any]) -> dict[str, Any]:
        """Create or replace an object (ADDED / MODIFIED); returns the stored copy."""
        obj = copy.deepcopy(obj)
        m = obj.setdefault("metadata", {})
        key = (_kind(kind), m.get("namespace") or "default")
        m["namespace"] = key[1]
        with self._cond:
            store = self._objects.setdefault(key, {})
            etype = "MODIFIED" if m["name"] in store else "ADDED"
            m["resourceVersion"] = str(self._rv + 1)
            store[m["name"]] = obj
            self._append(key, {"type": etype, "object": copy.deepcopy(obj)})
        return copy.deepcopy(obj)

    def delete(self, kind: str | Resource, namespace: str, name: str) -> None:
        key = (_kind(kind), namespace)
        with self._cond:
            obj = self._objects.get(key, {}).pop(name)
            obj["metadata"]["resourceVersion"] = str(self._rv + 1)
            self._append(key, {"type": "DELETED", "object": obj})

    def inject(self, kind: str | Resource, namespace: str, event: dict[str, Any],
               *, store: bool = False) -> None:
        """Deliver a raw watch event to the watches (``store``: also change the list)."""
        key = (_kind(kind), namespace)
        with self._cond:
            if store and event.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                obj = event["object"]
                name = obj["metadata"]["name"]
                if event["type"] == "DELETED":
                    self._objects.get(key, {}).pop(name, None)
                else:
                    self._objects.setdefault(key, {})[name] = copy.deepcopy(obj)
            self._append(key, copy.deepcopy(event))

    def expire(self, kind: str | Resource, namespace: str, *, in_stream: bool = True) -> None:
        """Compact the history: resuming from any current resourceVersion gets 410.

        ``in_stream``: open watches also receive an ERROR 410 event.
        """
        key = (_kind(kind), namespace)
        with self._cond:
            if in_stream:
                self._append(key, {"type": "ERROR", "object": {
                    "kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 410,
                    "reason": "Expired", "message": "too old resource version"}})
            self._compacted[key] = self._rv + 1

    def disconnect(self, kind: str | Resource, namespace: str) -> None:
        """End the open watch streams (as a server-side timeout or a dropped connection)."""
        key = (_kind(kind), namespace)
        with self._cond:
            self._epochs[key] = self._epochs.get(key, 0) + 1
            self._cond.notify_all()

    def disconnect_all(self) -> None:
        """End every open watch stream."""
        with self._cond:
            for key in set(self._log) | set(self._objects) | set(self._epochs):
                self._epochs[key] = self._epochs.get(key, 0) + 1
            self._cond.notify_all()

    def fail_list(self, kind: str | Resource, namespace: str, error: BaseException,
                  times: int = 1) -> None:
        self._list_errors.setdefault((_kind(kind), namespace), []).extend([error] * times)

    def fail_watch(self, kind: str | Resource, namespace: str, error: BaseException,
                   times: int = 1) -> None:
        self._watch_errors.setdefault((_kind(kind), namespace), []).extend([error] * times)

    def count(self, call: str, kind: str | Resource, namespace: str | None = None) -> int:
        return sum(1 for c, k, ns, _ in list(self.calls)
                   if c == call and k == _kind(kind) and (namespace is None or ns == namespace))

    # -- WatchSource ----------------------------------------------------------------

    def list(self, resource: Resource, namespace: str) -> tuple[list[dict[str, Any]], str]:
        key = (resource.kind, namespace)
        with self._cond:
            self.calls.append(("list", resource.kind, namespace, ""))
            errors = self._list_errors.get(key)
            if errors:
                raise errors.pop(0)
            items = [copy.deepcopy(o) for o in self._objects.get(key, {}).values()
                     if not resource.name or o["metadata"]["name"] == resource.name]
            return items, str(self._rv)

    def watch(self, resource: Resource, namespace: str, resource_version: str,
              timeout_seconds: int) -> FakeStream:
        key = (resource.kind, namespace)
        with self._cond:
            self.calls.append(("watch", resource.kind, namespace, resource_version))
            errors = self._watch_errors.get(key)
            if errors:
                raise errors.pop(0)
            self._epochs.setdefault(key, 0)
            cursor = int(resource_version or self._rv)
            if cursor < self._compacted.get(key, 0) - 1:
                raise WatchExpired(f"too old resource version: {cursor}")
            return FakeStream(self, key, resource, cursor, float(timeout_seconds))

    def close(self) -> None:
        self.closed = True
