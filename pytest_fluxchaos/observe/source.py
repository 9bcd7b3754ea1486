"""Where observations come from: list + watch of namespaced Kubernetes resources.

:class:`WatchSource` is the small seam between the observer threads and the API
server. :class:`KubeSource` implements it with the official ``kubernetes`` client,
returning plain dicts (JSON as the API server sent it); ``fake.FakeSource`` implements
it in memory for tests. A source must let another thread interrupt a blocked watch
(``WatchStream.close``) so that observers stop promptly.
"""

from __future__ import annotations

import copy
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from .parse import IMAGE_GROUP, LEASE_NAME


class WatchExpired(Exception):
    """The resourceVersion is too old (HTTP 410 Gone): re-list, then watch again."""


@dataclass(frozen=True)
class Resource:
    """A namespaced resource type to observe; ``name`` restricts it to one object."""

    kind: str
    group: str  # "" for the core group
    version: str
    plural: str
    name: str | None = None

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def __str__(self) -> str:
        return f"{self.kind} ({self.api_version})" + (f" {self.name}" if self.name else "")


def image_policies(version: str = "v1") -> Resource:
    return Resource("ImagePolicy", IMAGE_GROUP, version, "imagepolicies")


def image_repositories(version: str = "v1") -> Resource:
    return Resource("ImageRepository", IMAGE_GROUP, version, "imagerepositories")


def leader_lease(name: str = LEASE_NAME) -> Resource:
    return Resource("Lease", "coordination.k8s.io", "v1", "leases", name=name)


EVENTS = Resource("Event", "", "v1", "events")


class WatchStream(Protocol):
    def __iter__(self) -> Iterator[dict[str, Any]]: ...

    def close(self) -> None:
        """Interrupt the stream from another thread (idempotent)."""


class WatchSource(Protocol):
    def list(self, resource: Resource, namespace: str) -> tuple[list[dict[str, Any]], str]:
        """All objects and the list's resourceVersion."""

    def watch(self, resource: Resource, namespace: str, resource_version: str,
              timeout_seconds: int) -> WatchStream:
        """Watch events after ``resource_version``; raises WatchExpired on 410."""

    def close(self) -> None: ...


class KubeWatchStream:
    """Iterates the JSON lines of a watch response; ``close`` unblocks a pending read."""

    def __init__(self, response: Any) -> None:
        self._resp = response
        self._lock = threading.Lock()
        self._closed = False
        self._done = False

    def __iter__(self) -> Iterator[dict[str, Any]]:
        buffer = bytearray()
        try:
            try:
                for chunk in self._resp.stream(amt=None, decode_content=True):
                    if self._closed:
                        return
                    buffer.extend(chunk if isinstance(chunk, (bytes, bytearray)) else chunk.encode())
                    while True:
                        newline = buffer.find(b"\n")
                        if newline < 0:
                            break
                        line = bytes(buffer[:newline]).strip()
                        del buffer[:newline + 1]
                        if line:
                            yield json.loads(line)
            except Exception:
                if self._closed:
                    return  # our own close() broke the read: a clean end
                raise
            tail = bytes(buffer).strip()
            if tail and not self._closed:
                yield json.loads(tail)
        finally:
            with self._lock:
                self._done = True
                try:
                    self._resp.close()
                    self._resp.release_conn()
                except Exception:  # noqa: BLE001 - best effort cleanup of a dead stream
                    pass

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._done:
                return
            resp = self._resp
            try:
                resp.shutdown()  # urllib3 >= 2.3: unblocks a read in another thread
                return
            except Exception:  # noqa: BLE001 - older urllib3, or already released
                pass
            sock = getattr(getattr(resp, "connection", None), "sock", None)
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class KubeSource:
    """List/watch through the official client, with a private ApiClient.

    The caller's ApiClient configuration is copied (so closing ours never affects
    theirs) and its connection pool is sized for the concurrent watches.
    """

    def __init__(self, api_client: Any, *, pool_size: int = 32,
                 connect_timeout: float = 5.0, list_timeout: float = 20.0) -> None:
        from kubernetes import client  # noqa: PLC0415 - keep the package importable without it

        cfg = copy.deepcopy(api_client.configuration)
        cfg.connection_pool_maxsize = max(int(getattr(cfg, "connection_pool_maxsize", 0) or 0),
                                          pool_size)
        cfg.retries = False  # the observer retries itself (bounded, with backoff, recorded)
        self._api = client.ApiClient(cfg)
        for name, value in (getattr(api_client, "default_headers", None) or {}).items():
            self._api.set_default_header(name, value)
        self._custom = client.CustomObjectsApi(self._api)
        self._core = client.CoreV1Api(self._api)
        self._coord = client.CoordinationV1Api(self._api)
        self._connect_timeout = connect_timeout
        self._list_timeout = list_timeout

    def _call(self, resource: Resource, namespace: str, **kwargs: Any) -> Any:
        if resource.name:
            kwargs["field_selector"] = f"metadata.name={resource.name}"
        kwargs["_preload_content"] = False
        if resource.group == "" and resource.plural == "events":
            return self._core.list_namespaced_event(namespace, **kwargs)
        if resource.group == "coordination.k8s.io" and resource.plural == "leases":
            return self._coord.list_namespaced_lease(namespace, **kwargs)
        return self._custom.list_namespaced_custom_object(
            resource.group, resource.version, namespace, resource.plural, **kwargs)

    def list(self, resource: Resource, namespace: str) -> tuple[list[dict[str, Any]], str]:
        items: list[dict[str, Any]] = []
        token: str | None = None
        rv = ""
        while True:
            kwargs: dict[str, Any] = {"limit": 500,
                                      "_request_timeout": (self._connect_timeout, self._list_timeout)}
            if token:
                kwargs["_continue"] = token
            resp = self._translate(lambda kw=kwargs: self._call(resource, namespace, **kw))
            try:
                body = json.loads(resp.data)
            finally:
                resp.release_conn()
            items.extend(body.get("items") or [])
            meta = body.get("metadata") or {}
            rv = meta.get("resourceVersion") or rv
            token = meta.get("continue") or None
            if not token:
                return items, rv

    def watch(self, resource: Resource, namespace: str, resource_version: str,
              timeout_seconds: int) -> KubeWatchStream:
        resp = self._translate(lambda: self._call(
            resource, namespace, watch=True, resource_version=resource_version,
            allow_watch_bookmarks=True, timeout_seconds=int(timeout_seconds),
            _request_timeout=(self._connect_timeout, float(timeout_seconds) + 15.0)))
        return KubeWatchStream(resp)

    @staticmethod
    def _translate(call: Any) -> Any:
        from kubernetes.client.exceptions import ApiException  # noqa: PLC0415

        try:
            return call()
        except ApiException as exc:
            if exc.status == 410:
                raise WatchExpired(str(exc.reason)) from exc
            raise

    def close(self) -> None:
        try:
            self._api.close()
        except Exception:  # noqa: BLE001 - closing twice or a half-built client
            pass
