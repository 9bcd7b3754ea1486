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
request through the chain. Labelled like everything else, so teardown removes it.
"""

from __future__ import annotations

from ...domain import BackendError, LiarState, LieLog, ProxyState, ProxyToxic, RegistryLie, WaitTimeout
from ...registry_liar import RegistryLiarClient
from ...toxiproxy import ToxiproxyClient, timed_get
from ...waiting import wait_until
from ..ports import free_port
from .client import Containers, PortInUse
from .labels import LABEL_ROLE

ADMIN_PORT = 8474
LIAR_ADMIN_PORT = 8475
LISTEN_PORT = 5000
LIAR_LISTEN = "127.0.0.1:5001"  # inside the container, fixed by the image's entrypoint
PROXY_NAME = "registry"


class ProxyContainer:
    def __init__(self, containers: Containers, prefix: str, network: str, upstream: str) -> None:
        self.c = containers
        self.network = network
        self.name = f"{prefix}-proxy"
        self.upstream = upstream  # "<prefix>-registry:5000"
        self.admin_port: int | None = None
        self.liar_admin_port: int | None = None
        self.listen_port: int | None = None
        self._client: ToxiproxyClient | None = None
        self._liar: RegistryLiarClient | None = None

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
            self.admin_port, self.liar_admin_port, self.listen_port = admin, liar_admin, listen
            return
        raise BackendError(f"port in use for {self.name} ({last}); free a port on 127.0.0.1 and retry")

    @property
    def client(self) -> ToxiproxyClient:
        if self._client is None:
            self._client = ToxiproxyClient(f"http://127.0.0.1:{self.admin_port}")
        return self._client

    @property
    def liar(self) -> RegistryLiarClient:
        if self._liar is None:
            self._liar = RegistryLiarClient(f"http://127.0.0.1:{self.liar_admin_port}")
        return self._liar

    def wait(self, timeout: float = 30.0) -> ProxyState:
        """Until both admin APIs answer, then create the ``registry`` proxy (idempotent)."""
        def settled() -> bool:
            state = self.c.state(self.name)
            if not state.get("Running"):
                raise BackendError(f"the registry's fault proxy stopped (exit code {state.get('ExitCode')}); "
                                   f"last log lines: {self.c.logs_tail(self.name)}")
            return self.client.answers() and self.liar.answers()

        try:
            wait_until(settled, timeout, what=f"the registry's fault proxy {self.name}", interval=0.1)
        except WaitTimeout:
            raise BackendError(f"the registry's fault proxy did not answer within {timeout:g}s; "
                               f"last log lines: {self.c.logs_tail(self.name)}") from None
        return self.client.create_proxy(PROXY_NAME, f"0.0.0.0:{LISTEN_PORT}", LIAR_LISTEN)

    @property
    def cluster_host(self) -> str:
        return f"{self.name}:{LISTEN_PORT}"

    @property
    def host_url(self) -> str:
        """The proxy's listener from the host: ``GET <host_url>/v2/`` goes through the chain."""
        return f"http://127.0.0.1:{self.listen_port}"

    def state(self) -> ProxyState:
        return self.client.proxy(PROXY_NAME)

    def add_toxic(self, toxic: ProxyToxic) -> ProxyToxic:
        return self.client.add_toxic(PROXY_NAME, toxic)

    def remove_toxic(self, name: str) -> None:
        self.client.remove_toxic(PROXY_NAME, name)

    def probe(self, timeout: float = 30.0) -> float:
        """Seconds a ``GET /v2/`` through the proxy takes from the host (never lied about)."""
        return timed_get(f"{self.host_url}/v2/", timeout)

    def close(self) -> None:
        for client in (self._client, self._liar):
            if client is not None:
                client.close()
        self._client = self._liar = None


class ProxyPrimitives:
    """The docker backend's ``RegistryProxy`` and ``RegistryLiar`` primitives."""

    def _proxy_container(self) -> ProxyContainer:
        raise NotImplementedError

    def registry_proxy(self) -> ProxyState:
        return self._proxy_container().state()

    def add_registry_toxic(self, toxic: ProxyToxic) -> ProxyToxic:
        return self._proxy_container().add_toxic(toxic)

    def remove_registry_toxic(self, name: str) -> None:
        self._proxy_container().remove_toxic(name)

    def registry_proxy_probe(self, timeout: float = 30.0) -> float:
        return self._proxy_container().probe(timeout)

    def registry_liar(self) -> LiarState:
        return self._proxy_container().liar.state()

    def set_registry_lie(self, lie: RegistryLie) -> RegistryLie:
        return self._proxy_container().liar.set_lie(lie)

    def clear_registry_lie(self, lie_id: str) -> None:
        self._proxy_container().liar.clear_lie(lie_id)

    def registry_lie_log(self, since: int = 0, lie: str | None = None) -> LieLog:
        return self._proxy_container().liar.log(since, lie)
