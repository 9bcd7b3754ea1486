"""The registry's fault proxy on the private network: Toxiproxy, then the registry liar.

One container ``<prefix>-proxy`` (image ``registry-proxy``, ``assets/registry_proxy.py``)
runs ``toxiproxy-server`` with one proxy, ``registry``, listening on ``:5000`` and
forwarding to the registry liar on ``127.0.0.1:5001`` in the same container, which
forwards to ``<prefix>-registry:5000`` (Docker's DNS, so a registry stop/start keeps
working). ImageRepositories reach the registry through it (``RegistryEndpoint.cluster_host``
is ``<prefix>-proxy:5000``); the plugin's own pushes go straight to the registry.
Toxiproxy is in front so its TCP faults hit the controllers' own connections; the liar's
HTTP lies sit behind it. Published on 127.0.0.1 only: Toxiproxy's admin API (toxics),
the liar's admin API (lies, its log), and the ``:5000`` listener, so the host can time a
request through the chain (:mod:`..proxy_endpoints`, shared with the kind backend).
Labelled like everything else, so teardown removes it.
"""

from __future__ import annotations

from ...domain import BackendError, ProxyState
from ..ports import free_port
from ..proxy_endpoints import ADMIN_PORT, LIAR_ADMIN_PORT, LISTEN_PORT, ProxyEndpoints
from .client import Containers, PortInUse
from .labels import LABEL_ROLE


class ProxyContainer:
    def __init__(self, containers: Containers, prefix: str, network: str, upstream: str) -> None:
        self.c = containers
        self.network = network
        self.name = f"{prefix}-proxy"
        self.upstream = upstream  # "<prefix>-registry:5000"
        self.endpoints: ProxyEndpoints | None = None

    def start(self, image: str) -> None:
        last = ""
        for _ in range(3):
            admin, liar_admin, listen = free_port(), free_port(), free_port()
            try:
                self.c.run(self.name, image, network=self.network,
                           labels=self.c.label(**{LABEL_ROLE: "registry-proxy"}),
                           environment={"LIAR_UPSTREAM": f"http://{self.upstream}"},
                           ports={f"{ADMIN_PORT}/tcp": ("127.0.0.1", admin),
                                  f"{LIAR_ADMIN_PORT}/tcp": ("127.0.0.1", liar_admin),
                                  f"{LISTEN_PORT}/tcp": ("127.0.0.1", listen)})
            except PortInUse as exc:
                last = str(exc)
                continue
            self.endpoints = ProxyEndpoints(admin, liar_admin, listen)
            return
        raise BackendError(f"port in use for {self.name} ({last}); free a port on 127.0.0.1 and retry")

    def wait(self, timeout: float = 30.0) -> ProxyState:
        """Until both admin APIs answer, then create the ``registry`` proxy (idempotent)."""
        assert self.endpoints is not None

        def running() -> None:
            state = self.c.state(self.name)
            if not state.get("Running"):
                raise BackendError(f"the registry's fault proxy stopped (exit code {state.get('ExitCode')}); "
                                   f"last log lines: {self.c.logs_tail(self.name)}")

        return self.endpoints.wait(timeout, running, lambda: self.c.logs_tail(self.name))

    @property
    def cluster_host(self) -> str:
        return f"{self.name}:{LISTEN_PORT}"

    def close(self) -> None:
        if self.endpoints is not None:
            self.endpoints.close()
