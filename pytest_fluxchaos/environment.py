"""What one run needs from a provisioned environment, in domain terms.

The runner, generator and nemesis see only this protocol: plain strings, dicts and
:class:`~pytest_fluxchaos.domain.PodStatus`. Real environments compose a
backend (docker, kind) with the Kubernetes adapter, the observers and the registry
client (``backends/kube_environment.py``); the plugin's own tests use an in-memory
simulation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from .domain import (ContainerProcess, GitEndpoint, HelperResult, LiarState, LieLog, PodStatus, ProxyState, ProxyToxic,
                     RegistryLie)
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

    def leader(self, namespace: str, controller: str = "reflector") -> str | None:
        """The pod currently holding IRC's leader Lease (``controller="automation"``: IAC's)."""

    def lease_renew_age(self, namespace: str) -> float | None:
        """Seconds since the leader last renewed its Lease (None without a holder)."""

    def pods(self, namespace: str, controller: str = "reflector") -> list[PodStatus]:
        """IRC's pods (or IAC's) in replica-slot order (slot i is ``pod-i`` in a schedule)."""

    # -- primitives the faults are made of (see pytest_fluxchaos.faults) ----------------
    def signal_container(self, namespace: str, pod: str, signal: str = "KILL") -> str:
        """Signal the pod's controller process; returns the container id."""

    def freeze(self, namespace: str, pod: str, frozen: bool) -> str:
        """Freeze or thaw a pod's current container (keeps it from racing for the lease)."""

    def container_process(self, namespace: str, pod: str) -> ContainerProcess:
        """The running container of the pod and its PID where host helpers run."""

    def run_host_helper(self, namespace: str, pod: str, script: str, env: Mapping[str, str],
                        timeout: float) -> HelperResult:
        """Run a privileged shell script beside the pod (host PID namespace, ``$CG``)."""

    def delete_pod(self, namespace: str, pod: str) -> str:
        """Replace the pod; returns the new pod's name."""

    def delete_lease(self, namespace: str, controller: str = "reflector") -> str | None:
        """Delete IRC's (or IAC's) leader Lease; returns the holder it had."""

    def stop_registry(self) -> None: ...

    def start_registry(self) -> None: ...

    def registry_reachable(self) -> bool: ...

    # -- the registry's fault proxy (controllers reach the registry through it) -----------
    def registry_proxy(self) -> ProxyState:
        """The proxy's own account: listen address, upstream, active toxics."""

    def add_registry_toxic(self, toxic: ProxyToxic) -> ProxyToxic:
        """Add a toxic (``latency``, ``timeout``, ``reset_peer``, ``bandwidth``) by name."""

    def remove_registry_toxic(self, name: str) -> None:
        """Remove a toxic by name; one that is not there is fine."""

    def registry_proxy_probe(self, timeout: float = 30.0) -> float:
        """Seconds one registry request (``GET /v2/``) through the proxy takes from the host."""

    # -- the registry liar (HTTP lies, behind the proxy; the plugin's pushes bypass it) -----
    def registry_liar(self) -> LiarState:
        """The liar's own account: its boot id (new at every start) and active lies."""

    def set_registry_lie(self, lie: RegistryLie) -> RegistryLie:
        """Set a lie; returns it as the liar holds it (log cursor, stale snapshot)."""

    def clear_registry_lie(self, lie_id: str) -> None:
        """Clear a lie once the requests it acts on have ended; one not there is fine."""

    def registry_lie_log(self, since: int = 0, lie: str | None = None) -> LieLog:
        """The liar's log of the responses lies acted on, after seq ``since``."""

    # -- the Git server image automation pushes to -------------------------------------
    def git_server(self) -> GitEndpoint: ...

    def create_git_repo(self, name: str) -> None:
        """A bare repository, anonymous push on; creating it twice is fine."""

    def stop_git(self) -> None: ...

    def start_git(self) -> None:
        """Start the Git server again; returns once it answers (bounded)."""

    def git_reachable(self) -> bool: ...

    def undeploy(self, namespace: str) -> None:
        """Remove the namespace's pods and objects (the environment stays up)."""

    def close(self) -> None:
        """Tear the whole environment down."""
