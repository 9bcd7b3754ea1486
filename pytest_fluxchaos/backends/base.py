"""The narrow interface every backend (where Flux runs) implements.

The domain (scenario, generator, nemesis, checkers) talks only to this protocol and to
plain data; it never imports Docker or Kubernetes clients. A backend owns the
environment's life (provision, teardown), knows how to run the IRC Deployment of a
variant, and offers the low-level fault primitives; the nemesis decides *what* to
inject and *how to confirm it* from observations recorded in the history.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


class BackendError(Exception):
    """A one-line, actionable failure of the environment (shown without a traceback)."""


@dataclass(frozen=True)
class RegistryEndpoint:
    """Where the registry is reached from the plugin and from inside the cluster."""

    host_url: str  # e.g. "http://127.0.0.1:41234", for the plugin's registry client
    cluster_host: str  # e.g. "fluxchaos-registry-ab12:5000", for ImageRepository.spec.image
    insecure: bool = True  # plain HTTP; ImageRepository.spec.insecure must be set


@dataclass(frozen=True)
class ClusterAccess:
    """How the plugin reaches the Kubernetes API of the environment."""

    kubeconfig: Path
    context: str | None = None
    created_by_plugin: bool = True


@dataclass(frozen=True)
class PodStatus:
    """A controller pod's container as the backend sees it (docker or kubelet)."""

    namespace: str
    name: str
    container_id: str | None
    state: str  # waiting | running | terminated
    reason: str | None = None  # OOMKilled, Error, CrashLoopBackOff, ...
    exit_code: int | None = None
    restart_count: int = 0
    oom_killed: bool = False
    started_at: str | None = None


@dataclass(frozen=True)
class InstallRequest:
    """Run one variant's IRC Deployment in a namespace (one namespace per variant)."""

    namespace: str
    deployment: dict[str, Any]  # the full, patched apps/v1 Deployment manifest
    irc_version: str
    labels: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class Backend(Protocol):
    """What the runner needs from an environment; see docker.py and kind.py."""

    name: str

    def provision(self, progress: Callable[[str], None]) -> None:
        """Create the control plane and the registry (idempotent, bounded waits)."""

    def cluster(self) -> ClusterAccess: ...

    def registry(self) -> RegistryEndpoint: ...

    def install_flux(self, request: InstallRequest, progress: Callable[[str], None]) -> None:
        """Install CRDs/RBAC once, then run the Deployment's pods in its namespace."""

    def uninstall(self, namespace: str) -> None:
        """Remove the namespace's pods and their volumes (other namespaces keep running)."""

    def pods(self, namespace: str) -> list[PodStatus]: ...

    def kill_container(self, namespace: str, pod: str, signal: str = "KILL") -> str:
        """Signal the controller process; returns the killed container id."""

    def oom_kill(self, namespace: str, pod: str, timeout: float) -> dict[str, Any]:
        """Make the kernel OOM-kill the controller container via its memory cgroup."""

    def freeze(self, namespace: str, pod: str, frozen: bool) -> str:
        """Freeze or thaw the pod's current container (cgroup freezer); returns its id."""

    def delete_pod(self, namespace: str, pod: str) -> str:
        """Replace the pod (new name, its emptyDir dropped); returns the new pod name."""

    def registry_outage(self, down: bool) -> None:
        """Stop (down=True) or restore (down=False) the registry."""

    def teardown(self) -> None:
        """Remove everything this backend created; safe to call twice."""
