"""Kubernetes objects without a client: manifests, Lease holders, API errors in one line."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes.client.exceptions import ApiException

from .domain import BackendError


class KubeError(BackendError):
    """A Kubernetes API call or wait failed (one actionable line)."""


@dataclass(frozen=True)
class LeaseInfo:
    namespace: str
    name: str
    holder_identity: str | None
    holder_pod: str | None
    acquire_time: str | None
    renew_time: str | None
    lease_duration_seconds: int | None
    lease_transitions: int | None
    resource_version: str | None


def holder_pod(holder_identity: str | None) -> str | None:
    """controller-runtime's ``<hostname>_<uuid>`` identity -> the pod (host) name."""
    if not holder_identity:
        return None
    head, sep, _ = holder_identity.rpartition("_")
    return head if sep else holder_identity


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    iso = getattr(value, "isoformat", None)
    return iso() if iso else str(value)


def _json_object(value: object, what: str) -> dict[str, Any]:
    """A CustomObjectsApi result: the client types it ``object``; it is a JSON object."""
    if not isinstance(value, dict):
        raise KubeError(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


def _short(exc: BaseException) -> str:
    if isinstance(exc, ApiException):
        reason = exc.reason or ""
        body = exc.body
        if isinstance(body, bytes):
            body = body.decode(errors="replace")
        msg = ""
        if body:
            try:
                msg = (yaml.safe_load(body) or {}).get("message", "")
            except Exception:  # noqa: BLE001 - best effort
                msg = str(body)[:200]
        return f"HTTP {exc.status} {reason}: {msg}".strip()
    return " ".join(str(exc).split())[:300] or type(exc).__name__


def load_manifests(source: str | Path | dict | Iterable[dict]) -> list[dict]:
    """YAML text, a file path, one object or a list of objects -> a flat object list."""
    if isinstance(source, Path):
        source = source.read_text()
    if isinstance(source, str):
        docs = [d for d in yaml.safe_load_all(source) if d]
    elif isinstance(source, dict):
        docs = [source]
    else:
        docs = [d for d in source if d]
    out: list[dict] = []
    for doc in docs:
        if doc.get("kind", "").endswith("List") and "items" in doc:
            out.extend(i for i in doc["items"] if i)
        else:
            out.append(doc)
    return out


