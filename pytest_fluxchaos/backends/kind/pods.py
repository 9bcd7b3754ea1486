"""Pods as the kubelet reports them -> the plugin's PodStatus, in stable slot order.

The faults package confirms faults from these fields, exactly as a user would from
``kubectl get pod -o yaml``: an OOM kill is ``lastState.terminated.reason: OOMKilled``
with ``exitCode: 137``, a higher ``restartCount`` and a new ``containerID``.

Slots: schedules name pods by index (``pod-0``, ``pod-1``), the docker backend keeps an
index per replica, and real pods have random names. :class:`SlotTable` gives each pod
the slot of the pod it replaced (a deleted pod's replacement takes its slot), so
``pod-1`` means the same replica throughout a run.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any

from ...domain import AUTOMATION, REFLECTOR, BackendError, PodStatus, one_line
from .cgroups import strip_runtime_scheme

CONTAINER = "manager"
DEFAULT_SELECTOR = "app=image-reflector-controller"


def _container_status(pod: dict[str, Any], container: str) -> dict[str, Any] | None:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return next((s for s in statuses if s.get("name") == container), statuses[0] if statuses else None)


def is_terminating(pod: dict[str, Any]) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def pod_status(pod: dict[str, Any], container: str = CONTAINER) -> PodStatus:
    """A camelCase pod dict (``ApiClient.sanitize_for_serialization``) -> PodStatus.

    ``reason``/``exit_code``/``oom_killed`` describe the *last termination* while the
    container runs again (like the docker backend's supervisor), the current one when
    it is terminated, and the waiting reason (CrashLoopBackOff...) while it waits.
    """
    meta = pod.get("metadata") or {}
    cs = _container_status(pod, container)
    if cs is None:
        phase = (pod.get("status") or {}).get("phase") or "Pending"
        return PodStatus(namespace=meta.get("namespace", ""), name=meta.get("name", ""),
                         container_id=None, state="waiting", reason=phase)
    state = cs.get("state") or {}
    last = (cs.get("lastState") or {}).get("terminated")
    if "running" in state and state["running"] is not None:
        kind, term, reason = "running", last, (last or {}).get("reason")
        started = state["running"].get("startedAt")
    elif state.get("terminated") is not None:
        term = state["terminated"]
        kind, reason, started = "terminated", term.get("reason"), term.get("startedAt")
    else:
        waiting = state.get("waiting") or {}
        kind, term, started = "waiting", last, None
        reason = waiting.get("reason") or (last or {}).get("reason")
    return PodStatus(
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
        container_id=strip_runtime_scheme(cs.get("containerID")),
        state=kind,
        reason=reason,
        exit_code=(term or {}).get("exitCode"),
        restart_count=int(cs.get("restartCount") or 0),
        oom_killed=(term or {}).get("reason") == "OOMKilled",
        started_at=str(started) if started else None,
    )


class SlotTable:
    """namespace -> slot index -> pod name, updated from each listing."""

    def __init__(self) -> None:
        self._slots: dict[str, list[str | None]] = {}
        self._lock = threading.Lock()

    def order(self, namespace: str, pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``pods`` (live, not terminating) in slot order; new pods fill freed slots.

        New pods are assigned oldest first (``creationTimestamp``, then name), so the
        first listing after an install is deterministic.
        """
        by_name = {p["metadata"]["name"]: p for p in pods}
        with self._lock:
            slots = self._slots.setdefault(namespace, [])
            for i, name in enumerate(slots):
                if name is not None and name not in by_name:
                    slots[i] = None
            assigned = {n for n in slots if n is not None}
            fresh = sorted((p for p in pods if p["metadata"]["name"] not in assigned),
                           key=lambda p: (str(p["metadata"].get("creationTimestamp") or ""),
                                          p["metadata"]["name"]))
            for pod in fresh:
                name = pod["metadata"]["name"]
                try:
                    slots[slots.index(None)] = name
                except ValueError:
                    slots.append(name)
            return [by_name[n] for n in slots if n is not None]

    def replace(self, namespace: str, old: str, new: str) -> None:
        """The replacement of a deleted pod takes its slot."""
        with self._lock:
            slots = self._slots.setdefault(namespace, [])
            if new in slots:
                slots[slots.index(new)] = None
            if old in slots:
                slots[slots.index(old)] = new
            else:
                slots.append(new)

    def forget(self, namespace: str) -> None:
        with self._lock:
            self._slots.pop(namespace, None)


class PodView:
    """The controller pods as the API lists them: per-namespace selector, slots, reads.

    ``kube`` returns the backend's current :class:`~pytest_fluxchaos.kube.KubeClient`.
    """

    def __init__(self, kube: Callable[[], Any]) -> None:
        self._kube = kube
        self.slots = SlotTable()
        self._selectors: dict[str, str] = {}
        self._automation: dict[str, str] = {}  # namespace -> IAC's selector
        self._lock = threading.Lock()

    def track(self, namespace: str, selector: str, controller: str = REFLECTOR) -> None:
        with self._lock:
            if controller == REFLECTOR:
                self._selectors[namespace] = selector
            else:
                self._automation[namespace] = selector

    def forget(self, namespace: str) -> None:
        with self._lock:
            self._selectors.pop(namespace, None)
            self._automation.pop(namespace, None)
        self.slots.forget(namespace)
        self.slots.forget(self.slot_key(namespace, AUTOMATION))

    def selector(self, namespace: str, controller: str = REFLECTOR) -> str | None:
        """The label selector of a controller's pods in the namespace (None: not installed)."""
        with self._lock:
            if controller == REFLECTOR:
                return self._selectors.get(namespace, DEFAULT_SELECTOR)
            return self._automation.get(namespace)

    @staticmethod
    def slot_key(namespace: str, controller: str = REFLECTOR) -> str:
        """IAC's pods keep their own slots, so IRC's ``pod-N`` never shifts."""
        return namespace if controller == REFLECTOR else f"{namespace}/{controller}"

    def namespaces(self) -> list[str]:
        """Namespaces installed through this view (what teardown of a foreign cluster removes)."""
        with self._lock:
            return list(self._selectors)

    def objects(self, namespace: str, selector: str | None = None) -> list[dict[str, Any]]:
        """Live (not terminating) pods of the namespace's Deployment, as camelCase dicts."""
        if selector is None:
            with self._lock:
                selector = self._selectors.get(namespace, DEFAULT_SELECTOR)
        kube = self._kube()
        pods = kube.core.list_namespaced_pod(namespace, label_selector=selector, _request_timeout=10)
        items = kube.api_client.sanitize_for_serialization(pods).get("items") or []
        return [p for p in items if not is_terminating(p)]

    def statuses(self, namespace: str) -> list[PodStatus]:
        """IRC's pods in slot order, then IAC's (``controller="automation"``) if installed."""
        out = [pod_status(p) for p in self.slots.order(namespace, self.objects(namespace))]
        selector = self.selector(namespace, AUTOMATION)
        if selector:
            key = self.slot_key(namespace, AUTOMATION)
            out += [dataclasses.replace(pod_status(p), controller=AUTOMATION)
                    for p in self.slots.order(key, self.objects(namespace, selector))]
        return out

    def read(self, namespace: str, pod: str) -> dict[str, Any]:
        kube = self._kube()
        try:
            obj = kube.core.read_namespaced_pod(pod, namespace, _request_timeout=10)
        except Exception as exc:  # noqa: BLE001 - 404 or an API blip: one line either way
            raise BackendError(f"no pod {namespace}/{pod}: {one_line(exc, 120)}") from None
        return kube.api_client.sanitize_for_serialization(obj)
