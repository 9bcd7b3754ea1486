"""The registry's fault proxy of a kind cluster: one container on the nodes' network.

The same image as the docker backend's (:mod:`..proxy_endpoints`): Toxiproxy, then the
registry liar, forwarding to the registry holder's address on the kind
network. Pods reach it as ``<cluster>-proxy:5000`` (CoreDNS -> the node's resolver ->
Docker's DNS, as they reach the registry); the plugin's own pushes go straight to the
registry. Its admin APIs and listener are published on 127.0.0.1. It holds no state a
kept cluster needs, so a new session replaces it rather than reusing it; a container of
that name without this cluster's label is someone else's and is refused, never removed.
"""

from __future__ import annotations

from collections.abc import Callable

from ...domain import BackendError, one_line
from ..ports import free_port
from ..proxy_endpoints import ADMIN_PORT, LIAR_ADMIN_PORT, LISTEN_PORT, ProxyEndpoints
from . import commands as cmd
from .guard import container_is_ours
from .publish import run_publishing
from .registry import LABEL_CLUSTER, LABEL_MANAGED, LABEL_ROLE


class ProxyContainer:
    """One cluster's fault proxy and its published ports."""

    def __init__(self, run: Callable[..., cmd.Result], cluster: str, wait_timeout: float = 30.0) -> None:
        self.run = run
        self.cluster = cluster
        self.name = f"{cluster}-proxy"
        self.wait_timeout = wait_timeout
        self.endpoints: ProxyEndpoints | None = None
        self.created = False  # started by this session: the only proxy teardown removes

    @property
    def cluster_host(self) -> str:
        return f"{self.name}:{LISTEN_PORT}"

    def ensure(self, image: str | None, network: str, upstream: str,
               progress: Callable[[str], None]) -> ProxyEndpoints:
        """Replace any proxy of this cluster with a new one (forwarding to ``upstream``, the
        registry's URL) and wait until it answers."""
        if not image:
            raise BackendError("the assets name no fault-proxy image for the registry; build the assets again")
        if container_is_ours(self.run, self.name, self.cluster, "fault proxy"):
            self.run([cmd.DOCKER, "rm", "-f", "-v", self.name], timeout=60, check=False)  # a kept session's
        ports = run_publishing(
            self.run, self.name, "the registry's fault proxy", lambda: (free_port(), free_port(), free_port()),
            lambda p: [cmd.DOCKER, "run", "-d", "--name", self.name, "--network", network,
                       "--label", f"{LABEL_MANAGED}=true", "--label", f"{LABEL_CLUSTER}={self.cluster}",
                       "--label", f"{LABEL_ROLE}=registry-proxy", "-e", f"LIAR_UPSTREAM={upstream}",
                       "-p", f"127.0.0.1:{p[0]}:{ADMIN_PORT}", "-p", f"127.0.0.1:{p[1]}:{LIAR_ADMIN_PORT}",
                       "-p", f"127.0.0.1:{p[2]}:{LISTEN_PORT}", image])
        self.created = True
        self.endpoints = ProxyEndpoints(*ports)
        self.endpoints.wait(self.wait_timeout, self._running, self._logs)
        progress(f"kind: registry fault proxy {self.cluster_host} (Toxiproxy + liar; admin "
                 f"127.0.0.1:{ports[0]}, liar 127.0.0.1:{ports[1]})")
        return self.endpoints

    def _running(self) -> None:
        state = self.run(cmd.inspect_container(self.name, "{{.State.Running}} {{.State.ExitCode}}"), timeout=30,
                         check=False)
        running, _, code = state.stdout.strip().partition(" ")
        if running != "true":
            raise BackendError(f"the registry's fault proxy stopped (exit code {code or '?'}); "
                               f"last log lines: {self._logs()}")

    def _logs(self) -> str:
        out = self.run([cmd.DOCKER, "logs", "--tail", "5", self.name], timeout=30, check=False)
        return one_line(out.stderr + out.stdout, 300)

    def remove(self) -> None:
        """The proxy this session started (best effort: teardown goes on)."""
        if self.endpoints is not None:
            self.endpoints.close()
            self.endpoints = None
        if self.created:
            try:
                self.run([cmd.DOCKER, "rm", "-f", "-v", self.name], timeout=60, check=False)
            except BaseException:  # noqa: BLE001 - teardown: best effort
                pass
            self.created = False
