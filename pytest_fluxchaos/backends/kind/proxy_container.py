"""The registry's fault proxy of a kind cluster: one container on the nodes' network.

The same image as the docker backend's (:mod:`..proxy_endpoints`): Toxiproxy, then the
registry liar, forwarding to ``<cluster>-registry:5000`` by Docker's DNS on the kind
network. Pods reach it as ``<cluster>-proxy:5000`` (CoreDNS -> the node's resolver ->
Docker's DNS, as they reach the registry); the plugin's own pushes go straight to the
registry. Its admin APIs and listener are published on 127.0.0.1. It holds no state a
kept cluster needs, so a new session replaces it rather than reusing it.
"""

from __future__ import annotations

from collections.abc import Callable

from ...domain import BackendError, one_line
from ..ports import free_port
from ..proxy_endpoints import ADMIN_PORT, LIAR_ADMIN_PORT, LISTEN_PORT, ProxyEndpoints
from . import commands as cmd
from .registry import LABEL_CLUSTER, LABEL_MANAGED, LABEL_ROLE, REGISTRY_PORT, registry_name

START_ATTEMPTS = 3


class ProxyContainer:
    """One cluster's fault proxy and its published ports."""

    def __init__(self, run: Callable[..., cmd.Result], cluster: str, wait_timeout: float = 30.0) -> None:
        self.run = run
        self.cluster = cluster
        self.name = f"{cluster}-proxy"
        self.wait_timeout = wait_timeout
        self.endpoints: ProxyEndpoints | None = None

    @property
    def cluster_host(self) -> str:
        return f"{self.name}:{LISTEN_PORT}"

    def ensure(self, image: str | None, network: str) -> ProxyEndpoints:
        """Replace any proxy of this cluster with a new one and wait until it answers."""
        if not image:
            raise BackendError("the assets name no fault-proxy image for the registry; build the assets again")
        self.remove()
        upstream = f"http://{registry_name(self.cluster)}:{REGISTRY_PORT}"
        last = ""
        for _attempt in range(START_ATTEMPTS):  # a free port may be taken before docker binds it
            ports = free_port(), free_port(), free_port()
            args = [cmd.DOCKER, "run", "-d", "--name", self.name, "--network", network,
                    "--label", f"{LABEL_MANAGED}=true", "--label", f"{LABEL_CLUSTER}={self.cluster}",
                    "--label", f"{LABEL_ROLE}=registry-proxy", "-e", f"LIAR_UPSTREAM={upstream}",
                    "-p", f"127.0.0.1:{ports[0]}:{ADMIN_PORT}", "-p", f"127.0.0.1:{ports[1]}:{LIAR_ADMIN_PORT}",
                    "-p", f"127.0.0.1:{ports[2]}:{LISTEN_PORT}", image]
            started = self.run(args, timeout=120, check=False)
            if started.returncode == 0:
                self.endpoints = ProxyEndpoints(*ports)
                self.endpoints.wait(self.wait_timeout, self._running, self._logs)
                return self.endpoints
            last = one_line(started.stderr, 200)
            self.run([cmd.DOCKER, "rm", "-f", self.name], timeout=60, check=False)
            if not any(w in started.stderr for w in ("port is already allocated", "address already in use")):
                raise BackendError(f"cannot start the registry's fault proxy {self.name} ({image}): {last}")
        raise BackendError(f"cannot publish ports for {self.name} ({last}); free a port on 127.0.0.1 and retry")

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
        if self.endpoints is not None:
            self.endpoints.close()
            self.endpoints = None
        self.run([cmd.DOCKER, "rm", "-f", self.name], timeout=60, check=False)
