"""Test doubles for the kind backend: a scripted command runner and a fake Kubernetes API."""

from __future__ import annotations

import copy
import stat
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from pytest_fluxchaos.domain import BackendError
from pytest_fluxchaos.backends.kind.commands import Result

Handler = Result | Callable[[list[str], str | None], Result]

MUTATING = ("create", "delete", "load", "run", "exec", "rm", "stop", "start", "network", "pull", "kill")


def ok(stdout: str = "", stderr: str = "") -> Result:
    return Result([], 0, stdout, stderr)


def fail(stderr: str = "error", code: int = 1) -> Result:
    return Result([], code, "", stderr)


class FakeRunner:
    """Answers commands by prefix (first match wins) and records every call."""

    def __init__(self, handlers: Sequence[tuple[Sequence[str], Handler]] = ()) -> None:
        self.handlers = [(list(p), h) for p, h in handlers]
        self.calls: list[list[str]] = []
        self.inputs: list[str | None] = []
        self.timeouts: list[float] = []

    def add(self, prefix: Sequence[str], handler: Handler) -> None:
        self.handlers.insert(0, (list(prefix), handler))

    def __call__(self, args: Sequence[str], *, timeout: float, input: str | None = None,
                 check: bool = True, what: str | None = None) -> Result:
        args = [str(a) for a in args]
        self.calls.append(args)
        self.inputs.append(input)
        self.timeouts.append(timeout)
        result = Result(args, 127, "", f"unexpected command {args}")
        for prefix, handler in self.handlers:
            if args[: len(prefix)] == prefix:
                result = handler(args, input) if callable(handler) else handler
                result = Result(args, result.returncode, result.stdout, result.stderr)
                break
        if check and result.returncode != 0:
            raise BackendError(f"`{what or ' '.join(args[:4])}` failed (exit {result.returncode}): {result.stderr}")
        return result

    def mutations(self, kind: str) -> list[list[str]]:
        """Calls that would change something (kind create/delete/load, docker run/exec...)."""
        out = []
        for c in self.calls:
            verb = c[1] if c and c[0] == "docker" else (c[1] if c and c[0] == kind else "")
            if verb in MUTATING:
                out.append(c)
        return out


def fake_kind(tmp_path: Path) -> Path:
    """An executable that is never run (the FakeRunner answers for it)."""
    path = tmp_path / "bin" / "kind"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 99\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def preflight_runner(kind: Path, clusters: Sequence[str], *, kubeconfig: str | None = "apiVersion: v1\n",
                     images: Sequence[str] = ()) -> FakeRunner:
    k = str(kind)
    r = FakeRunner([
        (["docker", "version"], ok("20.10.24\n")),
        ([k, "version"], ok("kind v0.30.0 go1.26.8 linux/amd64\n")),
        ([k, "get", "clusters"], ok("".join(f"{c}\n" for c in clusters),
                                    "" if clusters else "No kind clusters found.\n")),
        ([k, "get", "kubeconfig"], ok(kubeconfig) if kubeconfig else fail(
            "ERROR: could not locate any control plane nodes")),
    ])
    for image in images:
        r.add(["docker", "image", "inspect", "-f", "{{.Id}}", image], ok("sha256:abc\n"))
    r.handlers.append((["docker", "image", "inspect"], fail("Error: No such image")))
    return r


# -- a fake Kubernetes API for pods ------------------------------------------------------------


def pod(name: str, *, node: str = "fluxchaos-control-plane", cid: str = "c1", restarts: int = 0,
        running: bool = True, last: dict[str, Any] | None = None, created: str = "2026-01-01T00:00:00Z",
        ready: bool = True, namespace: str = "ns", terminating: bool = False) -> dict[str, Any]:
    state: dict[str, Any] = {"running": {"startedAt": "2026-01-01T00:00:05Z"}} if running else {
        "waiting": {"reason": "CrashLoopBackOff"}}
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "creationTimestamp": created,
                            "labels": {"app": "image-reflector-controller"}}
    if terminating:
        meta["deletionTimestamp"] = "2026-01-01T00:10:00Z"
    return {
        "metadata": meta,
        "spec": {"nodeName": node},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [{
                "name": "manager", "containerID": f"containerd://{cid}", "restartCount": restarts,
                "state": state, "lastState": {"terminated": last} if last else {},
            }],
        },
    }


class ApiException(Exception):
    def __init__(self, status: int, reason: str = "") -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


class FakeCore:
    def __init__(self, pods: list[dict[str, Any]]) -> None:
        self.pods = {p["metadata"]["name"]: p for p in pods}
        self.deleted: list[str] = []
        self.on_read: Callable[[str], None] | None = None
        self.on_delete: Callable[[str], None] | None = None

    def list_namespaced_pod(self, namespace: str, label_selector: str = "", **_kw: Any) -> Any:
        return {"items": [copy.deepcopy(p) for p in self.pods.values()]}

    def read_namespaced_pod(self, name: str, namespace: str, **_kw: Any) -> Any:
        if self.on_read:
            self.on_read(name)
        if name not in self.pods:
            from kubernetes.client.exceptions import ApiException as RealApiException

            raise RealApiException(status=404, reason="Not Found")
        return copy.deepcopy(self.pods[name])

    def delete_namespaced_pod(self, name: str, namespace: str, **_kw: Any) -> None:
        self.deleted.append(name)
        self.pods.pop(name, None)
        if self.on_delete:
            self.on_delete(name)


class FakeKube:
    def __init__(self, pods: list[dict[str, Any]]) -> None:
        self.core = FakeCore(pods)
        self.api_client = SimpleNamespace(sanitize_for_serialization=lambda obj: copy.deepcopy(obj))
        self.closed = False

    def close(self) -> None:
        self.closed = True
