"""What one run needs from a provisioned environment, in domain terms.

The runner, generator and nemesis see only this protocol: plain strings, dicts and
:class:`~pytest_fluxchaos.backends.base.PodStatus`. Real environments compose a
backend (docker, kind) with the Kubernetes adapter, the observers and the registry
client (``backends/kube_environment.py``); the plugin's own tests use an in-memory
simulation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from .backends.base import PodStatus
from .history import History
from .scenario import Scenario
from .variants import Variant

Progress = Callable[[str], None]


class Environment(Protocol):
    """A provisioned control plane + registry that can host many variant namespaces."""

    backend_name: str
    irc_version: str
    flux_version: str | None

    def deploy(self, namespace: str, variant: Variant, progress: Progress) -> None:
        """Install the IRC Deployment of ``variant`` into ``namespace`` and wait until it runs."""

    def apply_objects(self, namespace: str, scenario: Scenario, variant: Variant) -> None:
        """Create the scenario's ImageRepositories and ImagePolicies in ``namespace``."""

    def push_tag(self, namespace: str, image: str, tag: str) -> str:
        """Push ``tag`` of the scenario image; returns the manifest digest."""

    def delete_tag(self, namespace: str, image: str, tag: str) -> None: ...

    def request_reconcile(self, namespace: str, kind: str, name: str) -> None:
        """Ask Flux to reconcile an object now (ImageRepository or ImagePolicy)."""

    def observe(self, namespace: str, history: History) -> Callable[[], list[str]]:
        """Start recording observations; the returned function stops and returns errors."""

    def leader(self, namespace: str) -> str | None:
        """The pod currently holding the leader Lease (None if none)."""

    def lease_renew_age(self, namespace: str) -> float | None:
        """Seconds since the leader last renewed its Lease (None without a holder)."""

    def pods(self, namespace: str) -> list[PodStatus]:
        """Controller pods in replica-slot order (slot i is ``pod-i`` in a schedule)."""

    def kill(self, namespace: str, pod: str) -> dict[str, Any]: ...

    def oom_kill(self, namespace: str, pod: str, timeout: float) -> dict[str, Any]: ...

    def freeze(self, namespace: str, pod: str, frozen: bool) -> str:
        """Freeze or thaw a pod's current container (keeps it from racing for the lease)."""

    def delete_pod(self, namespace: str, pod: str) -> str: ...

    def delete_lease(self, namespace: str) -> str | None:
        """Delete the leader Lease; returns the holder it had."""

    def registry_outage(self, down: bool) -> None: ...

    def registry_reachable(self) -> bool: ...

    def undeploy(self, namespace: str) -> None:
        """Remove the namespace's pods and objects (the environment stays up)."""

    def close(self) -> None:
        """Tear the whole environment down."""
