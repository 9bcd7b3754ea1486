"""A kubelet-like supervisor for the controller "pods" (one container each).

Docker's restart policy is not used: it keeps the *same* container (same id, the
restart count lives in Docker only, no lastState, no CrashLoopBackOff). Instead a
background thread polls the run's pod containers and, when one exits:

* records the termination as the kubelet's ``lastState.terminated`` would read it -
  exit code, ``reason`` (``OOMKilled`` when Docker's ``State.OOMKilled`` is set,
  ``Completed`` for exit 0, ``Error`` otherwise), start and finish times;
* waits the back-off of :mod:`.backoff` (``waiting/CrashLoopBackOff`` meanwhile);
* creates a NEW container (new id) for the same pod with the same volumes and
  ``restart_count + 1``, keeping only the previous container for its logs.

All state lives in :class:`PodRecord`\\s guarded by one lock; :meth:`Supervisor.wait`
lets callers block (bounded) until a predicate over the records holds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ...domain import PodStatus
from .backoff import BackoffPolicy, CrashLoop
from .labels import (LABEL_MANAGED, LABEL_NAMESPACE, LABEL_POD, LABEL_RESTART, LABEL_ROLE,  # noqa: F401
                     LABEL_RUN, ROLE_POD)
from .podspec import PodTemplate

log = logging.getLogger(__name__)


def parse_docker_time(value: str | None) -> datetime | None:
    """Docker's RFC 3339 nanosecond timestamps -> aware datetime (None for the zero time)."""
    if not value or value.startswith("0001-01-01"):
        return None
    text = value.rstrip("Z")
    frac = ""
    if "." in text:
        text, frac = text.split(".", 1)
        # Drop a numeric offset if any (Docker uses Z); keep microseconds.
        for sep in ("+", "-"):
            if sep in frac:
                frac = frac.split(sep, 1)[0]
    try:
        dt = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None
    micro = int((frac + "000000")[:6]) if frac else 0
    return dt.replace(microsecond=micro, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Termination:
    """One finished container of a pod (the kubelet's ``lastState.terminated``)."""

    container_id: str
    exit_code: int | None
    reason: str
    oom_killed: bool
    started_at: str | None
    finished_at: str | None
    ran_for: float
    error: str | None = None

    @classmethod
    def from_inspect(cls, container_id: str, state: dict[str, Any]) -> Termination:
        oom = bool(state.get("OOMKilled"))
        code = state.get("ExitCode")
        if oom:
            reason = "OOMKilled"
        elif code == 0:
            reason = "Completed"
        else:
            reason = "Error"
        started = parse_docker_time(state.get("StartedAt"))
        finished = parse_docker_time(state.get("FinishedAt"))
        ran_for = (finished - started).total_seconds() if started and finished else 0.0
        return cls(
            container_id=container_id,
            exit_code=code,
            reason=reason,
            oom_killed=oom,
            started_at=state.get("StartedAt") if started else None,
            finished_at=state.get("FinishedAt") if finished else None,
            ran_for=max(ran_for, 0.0),
            error=state.get("Error") or None,
        )


@dataclass
class PodRecord:
    """One controller pod as the supervisor tracks it."""

    namespace: str
    name: str
    uid: str
    index: int
    template: PodTemplate
    image: str
    volumes: dict[str, str]  # pod volume name -> Docker volume name
    owned_volumes: list[str]  # emptyDir Docker volumes (dropped with the pod)
    crash: CrashLoop
    created_mono: float = field(default_factory=time.monotonic)
    container_id: str | None = None
    container_name: str | None = None
    previous_container_id: str | None = None
    attempts: int = 0  # containers created for this pod
    restart_count: int = 0
    state: str = "waiting"  # waiting | running | terminated
    waiting_reason: str | None = "ContainerCreating"
    started_at: str | None = None
    ip: str | None = None
    next_start: float | None = 0.0  # monotonic time of the next (re)start; None = never
    last_termination: Termination | None = None
    terminations: list[Termination] = field(default_factory=list)
    deleted: bool = False
    start_error: str | None = None
    launching: bool = False  # a (re)start is in flight in some thread
    controller: str = "reflector"  # reflector (IRC) | automation (IAC)

    def status(self) -> PodStatus:
        last = self.last_termination
        if self.state == "running":
            reason = last.reason if last else None
        else:
            reason = self.waiting_reason or (last.reason if last else None)
        return PodStatus(
            namespace=self.namespace,
            name=self.name,
            container_id=self.container_id,
            state=self.state,
            reason=reason,
            exit_code=last.exit_code if last else None,
            restart_count=self.restart_count,
            oom_killed=bool(last and last.oom_killed),
            started_at=self.started_at,
            controller=self.controller,
        )


# create(pod, docker_client) -> (container id, container name); raises on failure
CreateFn = Callable[[PodRecord, Any], tuple[str, str]]


class Supervisor:
    """Watches the pod containers of one run and restarts them like a kubelet."""

    def __init__(
        self,
        run_id: str,
        docker_factory: Callable[[], Any],
        create: CreateFn,
        *,
        backoff: BackoffPolicy | None = None,
        poll_interval: float = 0.2,
        on_event: Callable[[str, PodRecord, dict[str, Any]], None] | None = None,
    ) -> None:
        self.run_id = run_id
        self.backoff = backoff or BackoffPolicy()
        self.poll_interval = poll_interval
        self._docker_factory = docker_factory
        self._create = create
        self._on_event = on_event
        self._pods: dict[tuple[str, str], PodRecord] = {}
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._docker: Any = None
        self.errors: list[str] = []

    # -- registry of pods ---------------------------------------------------------------

    def new_crash_loop(self) -> CrashLoop:
        return CrashLoop(self.backoff)

    def add(self, pod: PodRecord) -> None:
        with self._cond:
            self._pods[(pod.namespace, pod.name)] = pod
            self._cond.notify_all()

    def get(self, namespace: str, name: str) -> PodRecord | None:
        with self._lock:
            pod = self._pods.get((namespace, name))
            return pod if pod and not pod.deleted else None

    def remove(self, namespace: str, name: str) -> PodRecord | None:
        """Stop supervising a pod (the caller removes its containers)."""
        with self._cond:
            pod = self._pods.pop((namespace, name), None)
            if pod:
                pod.deleted = True
                pod.next_start = None
            self._cond.notify_all()
            return pod

    def records(self, namespace: str | None = None) -> list[PodRecord]:
        with self._lock:
            pods = [p for p in self._pods.values() if not p.deleted]
        if namespace is not None:
            pods = [p for p in pods if p.namespace == namespace]
        return sorted(pods, key=lambda p: (p.namespace, p.created_mono, p.index))

    def statuses(self, namespace: str) -> list[PodStatus]:
        with self._lock:
            return [p.status() for p in self.records(namespace)]

    @property
    def changed(self) -> threading.Condition:
        """Notified on every container start or exit: a waker for ``wait_until``."""
        return self._cond

    # -- the loop --------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"fluxchaos-kubelet-{self.run_id}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._thread = None

    @property
    def running(self) -> bool:
        return bool(self._thread and self._thread.is_alive())

    def _client(self) -> Any:
        if self._docker is None:
            self._docker = self._docker_factory()
        return self._docker

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception as exc:  # noqa: BLE001 - keep supervising; remember the error
                msg = f"{type(exc).__name__}: {exc}"
                if not self.errors or self.errors[-1] != msg:
                    self.errors.append(msg)
                    log.warning("fluxchaos supervisor: %s", msg)
            self._stop.wait(self.poll_interval)

    def tick(self) -> None:
        """One reconciliation pass: detect exits, (re)start pods that are due."""
        docker = self._client()
        pods = self.records()
        if not pods:
            return
        listed = docker.api.containers(
            all=True, filters={"label": [f"{LABEL_RUN}={self.run_id}", f"{LABEL_ROLE}={ROLE_POD}"]}
        )
        states = {c["Id"]: c.get("State") for c in listed}
        for pod in pods:
            if self._stop.is_set():
                return
            if pod.state == "running" and pod.container_id:
                if states.get(pod.container_id) == "running":
                    continue
                self._on_exit(docker, pod, states.get(pod.container_id))
            if (
                pod.state != "running"
                and not pod.launching
                and pod.next_start is not None
                and pod.next_start <= time.monotonic()
            ):
                self.launch(pod, docker)

    def _on_exit(self, docker: Any, pod: PodRecord, listed_state: str | None) -> None:
        cid = pod.container_id
        assert cid is not None
        try:
            info = docker.api.inspect_container(cid)
            state = info.get("State") or {}
            if state.get("Running"):
                return  # listed between states; look again next tick
            term = Termination.from_inspect(cid, state)
        except Exception as exc:  # noqa: BLE001 - removed behind our back
            if "404" not in str(exc) and "No such container" not in str(exc):
                raise
            term = Termination(
                container_id=cid, exit_code=137, reason="ContainerStatusUnknown", oom_killed=False,
                started_at=pod.started_at, finished_at=None, ran_for=0.0, error="container disappeared",
            )
        with self._cond:
            if pod.deleted or pod.container_id != cid:
                return
            delay = pod.crash.on_exit(term.ran_for)
            pod.last_termination = term
            pod.terminations.append(term)
            pod.previous_container_id = cid
            pod.state = "waiting" if delay > 0 else "terminated"
            pod.waiting_reason = "CrashLoopBackOff" if delay > 0 else None
            pod.next_start = time.monotonic() + delay
            self._cond.notify_all()
        self._emit("exit", pod, {"termination": term, "restart_in": delay})

    def launch(self, pod: PodRecord, docker: Any | None = None) -> None:
        """Create and start the pod's next container (first start or restart)."""
        docker = docker or self._client()
        with self._cond:
            if pod.deleted or pod.state == "running" or pod.launching:
                return
            pod.launching = True
            is_restart = pod.attempts > 0
            pod.attempts += 1
            attempt = pod.attempts
        try:
            cid, cname = self._create(pod, docker)
            info = docker.api.inspect_container(cid)
        except BaseException as exc:  # a failed start is an exit too (back off)
            msg = " ".join(str(exc).split())[:300]
            with self._cond:
                pod.launching = False
                pod.start_error = msg
                term = Termination(
                    container_id="", exit_code=128, reason="StartError", oom_killed=False,
                    started_at=None, finished_at=None, ran_for=0.0, error=msg,
                )
                delay = max(pod.crash.on_exit(0.0), self.backoff.initial or 1.0)
                pod.last_termination = term
                pod.terminations.append(term)
                pod.state = "waiting"
                pod.waiting_reason = "CrashLoopBackOff" if is_restart else "CreateContainerError"
                pod.next_start = time.monotonic() + delay
                self._cond.notify_all()
            self._emit("start-error", pod, {"error": msg})
            if not isinstance(exc, Exception):
                raise
            return
        state = info.get("State") or {}
        networks = (info.get("NetworkSettings") or {}).get("Networks") or {}
        ip = next((n.get("IPAddress") for n in networks.values() if n.get("IPAddress")), None)
        with self._cond:
            pod.launching = False
            if pod.deleted:
                stale = cid
            else:
                stale = None
                pod.container_id = cid
                pod.container_name = cname
                pod.state = "running"
                pod.waiting_reason = None
                pod.started_at = state.get("StartedAt")
                pod.ip = ip
                pod.next_start = None
                pod.start_error = None
                if is_restart:
                    pod.restart_count += 1
                self._cond.notify_all()
        if stale:
            _force_remove(docker, stale)
            return
        self._prune(docker, pod)
        self._emit("start", pod, {"container_id": cid, "attempt": attempt, "restart": is_restart})

    def _prune(self, docker: Any, pod: PodRecord) -> None:
        """Remove the pod's dead containers except the previous one."""
        keep = {pod.container_id, pod.previous_container_id}
        try:
            listed = docker.api.containers(
                all=True,
                filters={"label": [f"{LABEL_RUN}={self.run_id}", f"{LABEL_POD}={pod.namespace}/{pod.name}"]},
            )
        except Exception:  # noqa: BLE001
            return
        for c in listed:
            if c["Id"] not in keep and c.get("State") != "running":
                _force_remove(docker, c["Id"])

    def _emit(self, kind: str, pod: PodRecord, detail: dict[str, Any]) -> None:
        if self._on_event:
            try:
                self._on_event(kind, pod, detail)
            except Exception:  # noqa: BLE001
                log.exception("fluxchaos supervisor event callback failed")


def _force_remove(docker: Any, container_id: str) -> None:
    try:
        docker.api.remove_container(container_id, force=True, v=True)
    except Exception:  # noqa: BLE001
        pass
