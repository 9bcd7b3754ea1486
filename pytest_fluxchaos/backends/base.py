"""The narrow interface every backend (where Flux runs) implements.

A backend owns the environment's life (provision, teardown), runs the IRC Deployment
of a variant, and offers *primitives* only: signal, freeze or thaw a container, find
its process, run a privileged helper beside it, replace a pod, stop or start the
registry or the Git server. What a fault is, how it is injected from those primitives and how it is
confirmed lives once, in :mod:`pytest_fluxchaos.faults`, the same for every backend.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from ..domain import (ClusterAccess, ContainerProcess, GitEndpoint, HelperResult, InstallRequest, LiarState, LieLog,
                      PodStatus, ProxyState, ProxyToxic, RegistryEndpoint, RegistryLie)

Progress = Callable[[str], None]


@runtime_checkable
class Backend(Protocol):
    """What the Kubernetes-side environment needs from a backend; see docker/ and kind/."""

    name: str

    def provision(self, progress: Progress) -> None:
        """Create the control plane and the registry (idempotent, bounded waits)."""

    def cluster(self) -> ClusterAccess: ...

    def registry(self) -> RegistryEndpoint: ...

    def install_flux(self, request: InstallRequest, progress: Progress,
                     extra_objects: Sequence[dict[str, Any]] = ()) -> None:
        """Install CRDs/RBAC once, then run the Deployment's pods in its namespace.

        ``extra_objects`` are the variant's other objects (a PersistentVolumeClaim); a
        backend without a storage provisioner realises them its own way."""

    def uninstall(self, namespace: str) -> None:
        """Remove the namespace's pods and their volumes (other namespaces keep running)."""

    def pods(self, namespace: str) -> list[PodStatus]: ...

    # -- primitives the faults are built from --------------------------------------------
    def signal_container(self, namespace: str, pod: str, signal: str = "KILL") -> str:
        """Signal the controller process; returns the signalled container id."""

    def freeze(self, namespace: str, pod: str, frozen: bool) -> str:
        """Freeze or thaw the pod's current container (cgroup freezer); returns its id."""

    def container_process(self, namespace: str, pod: str) -> ContainerProcess:
        """The running controller container and its PID where host helpers run."""

    def run_host_helper(self, namespace: str, pod: str, script: str, env: Mapping[str, str],
                        timeout: float) -> HelperResult:
        """Run ``sh -c script`` as root beside the pod (host PID namespace, the host's
        cgroup tree mounted at ``$CG``, which the backend sets in ``env``)."""

    def delete_pod(self, namespace: str, pod: str) -> str:
        """Replace the pod (new name, its emptyDir dropped); returns the new pod name."""

    def stop_registry(self) -> None: ...

    def start_registry(self) -> None:
        """Start the registry again and wait until it answers from the host."""

    # -- the smart-HTTP Git server image-automation-controller clones from and pushes to --
    def git_server(self) -> GitEndpoint: ...

    def create_git_repo(self, name: str) -> None:
        """A bare repository ``<name>.git`` on ``main``, anonymous push on (idempotent)."""

    def stop_git(self) -> None:
        """The outage: the server stops answering; its name, address and repositories stay."""

    def start_git(self) -> None:
        """Start the Git server again and wait (bounded) until it answers from the host."""

    def git_reachable(self) -> bool: ...

    def teardown(self) -> None:
        """Remove everything this backend created; safe to call twice."""


@runtime_checkable
class RegistryProxy(Protocol):
    """A backend whose controllers reach the registry through a fault proxy (Toxiproxy).

    Separate from :class:`Backend` because only the docker backend has one so far; the
    environment says so in one line when a backend lacks it."""

    def registry_proxy(self) -> ProxyState:
        """The proxy as it reports itself: listen address, upstream, active toxics."""

    def add_registry_toxic(self, toxic: ProxyToxic) -> ProxyToxic:
        """Add a toxic (latency, timeout, reset_peer, bandwidth) under its name."""

    def remove_registry_toxic(self, name: str) -> None:
        """Remove the toxic ``name``; one that is not there is fine."""

    def registry_proxy_probe(self, timeout: float = 30.0) -> float:
        """Seconds one ``GET /v2/`` through the proxy takes from the host."""


@runtime_checkable
class RegistryLiar(Protocol):
    """A backend whose controllers reach the registry through the registry liar (HTTP
    lies, ``assets/registry_liar``). Optional like :class:`RegistryProxy`: docker only."""

    def registry_liar(self) -> LiarState:
        """The liar as it reports itself: its boot id and active lies."""

    def set_registry_lie(self, lie: RegistryLie) -> RegistryLie:
        """Set a lie; returns it as the liar holds it (log cursor, stale snapshot)."""

    def clear_registry_lie(self, lie_id: str) -> None:
        """Clear a lie once the requests it acts on have ended; one not there is fine."""

    def registry_lie_log(self, since: int = 0, lie: str | None = None) -> LieLog:
        """The liar's log of responses lies acted on, after seq ``since`` (of one lie)."""
