"""The registry's fault proxy (Toxiproxy) on the private network.

One container ``<prefix>-proxy`` runs ``toxiproxy-server`` with one proxy, ``registry``,
listening on ``:5000`` and forwarding to ``<prefix>-registry:5000`` (Docker's DNS, so a
registry stop/start keeps working). ImageRepositories reach the registry through it
(``RegistryEndpoint.cluster_host`` is ``<prefix>-proxy:5000``); the plugin's own pushes go
straight to the registry. The admin API and the proxy's listener are published on
127.0.0.1 only: the first for toxics, the second so the host can time a request through
the proxy. Labelled like everything else, so teardown removes it; no volume.
"""

from __future__ import annotations

from ...domain import BackendError, ProxyState, ProxyToxic, WaitTimeout
from ...toxiproxy import ToxiproxyClient, timed_get
from ...waiting import wait_until
from ..ports import free_port
from .client import Containers, PortInUse
from .labels import LABEL_ROLE

ADMIN_PORT = 8474
LISTEN_PORT = 5000
PROXY_NAME = "registry"


class ProxyContainer:
    def __init__(self, containers: Containers, prefix: str, network: str, upstream: str) -> None:
        self.c = containers
        self.network = network
        self.name = f"{prefix}-proxy"
        self.upstream = upstream  # "<prefix>-registry:5000"
        self.admin_port: int | None = None
        self.listen_port: int | None = None
        self._client: ToxiproxyClient | None = None

    def start(self, image: str) -> None:
        last = ""
        for _ in range(3):
            admin, listen = free_port(), free_port()
            try:
                self.c.run(self.name, image, network=self.network,
                           labels=self.c.label(**{LABEL_ROLE: "registry-proxy"}),
                           ports={f"{ADMIN_PORT}/tcp": ("127.0.0.1", admin),
                                  f"{LISTEN_PORT}/tcp": ("127.0.0.1", listen)})
            except PortInUse as exc:
                last = str(exc)
                continue
            self.admin_port, self.listen_port = admin, listen
            return
        raise BackendError(f"port in use for {self.name} ({last}); free a port on 127.0.0.1 and retry")

    @property
    def client(self) -> ToxiproxyClient:
        if self._client is None:
            self._client = ToxiproxyClient(f"http://127.0.0.1:{self.admin_port}")
        return self._client

    def wait(self, timeout: float = 30.0) -> ProxyState:
        """Until the admin API answers, then create the ``registry`` proxy (idempotent)."""
        def settled() -> bool:
            state = self.c.state(self.name)
            if not state.get("Running"):
                raise BackendError(f"the registry's fault proxy stopped (exit code {state.get('ExitCode')}); "
                                   f"last log lines: {self.c.logs_tail(self.name)}")
            return self.client.answers()

        try:
            wait_until(settled, timeout, what=f"the registry's fault proxy {self.name}", interval=0.1)
        except WaitTimeout:
            raise BackendError(f"the registry's fault proxy did not answer within {timeout:g}s; "
                               f"last log lines: {self.c.logs_tail(self.name)}") from None
        return self.client.create_proxy(PROXY_NAME, f"0.0.0.0:{LISTEN_PORT}", self.upstream)

    @property
    def cluster_host(self) -> str:
        return f"{self.name}:{LISTEN_PORT}"

    @property
    def host_url(self) -> str:
        """The proxy's listener from the host: ``GET <host_url>/v2/`` goes through the proxy."""
        return f"http://127.0.0.1:{self.listen_port}"

    def state(self) -> ProxyState:
        return self.client.proxy(PROXY_NAME)

    def add_toxic(self, toxic: ProxyToxic) -> ProxyToxic:
        return self.client.add_toxic(PROXY_NAME, toxic)

    def remove_toxic(self, name: str) -> None:
        self.client.remove_toxic(PROXY_NAME, name)

    def probe(self, timeout: float = 30.0) -> float:
        """Seconds a ``GET /v2/`` through the proxy takes from the host."""
        return timed_get(f"{self.host_url}/v2/", timeout)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
