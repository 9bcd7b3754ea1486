"""The registry's fault proxy as the host reaches it, whichever backend started it.

Both backends run the same image (``assets/registry_proxy.py``: Toxiproxy on ``:5000``
forwarding to the registry liar on ``127.0.0.1:5001``, admin APIs on ``:8474`` and
``:8475``) as a plain container next to the registry, and publish the three ports on
127.0.0.1. What differs is only how the container is started (the Docker SDK or the
docker CLI); everything said to it goes through :class:`ProxyEndpoints`, and
:class:`ProxyPrimitives` gives a backend the ``RegistryProxy`` and ``RegistryLiar``
primitives from one.
"""

from __future__ import annotations

from collections.abc import Callable

from ..domain import BackendError, LiarState, LieLog, ProxyState, ProxyToxic, RegistryLie, WaitTimeout
from ..registry_liar import RegistryLiarClient
from ..toxiproxy import ToxiproxyClient, timed_get
from ..waiting import wait_until

ADMIN_PORT = 8474
LIAR_ADMIN_PORT = 8475
LISTEN_PORT = 5000
LIAR_LISTEN = "127.0.0.1:5001"  # inside the container, fixed by the image's entrypoint
PROXY_NAME = "registry"


class ProxyEndpoints:
    """The three published ports of one proxy container, and clients for its two APIs."""

    def __init__(self, admin_port: int, liar_admin_port: int, listen_port: int) -> None:
        self.admin_port = admin_port
        self.liar_admin_port = liar_admin_port
        self.listen_port = listen_port
        self.toxiproxy = ToxiproxyClient(f"http://127.0.0.1:{admin_port}")
        self.liar = RegistryLiarClient(f"http://127.0.0.1:{liar_admin_port}")

    @property
    def host_url(self) -> str:
        """The proxy's listener from the host: ``GET <host_url>/v2/`` goes through the chain."""
        return f"http://127.0.0.1:{self.listen_port}"

    def wait(self, timeout: float, running: Callable[[], None], logs: Callable[[], str]) -> ProxyState:
        """Until both admin APIs answer, then create the ``registry`` proxy (idempotent).
        ``running()`` raises when the container stopped; ``logs()`` gives its last lines."""
        def settled() -> bool:
            running()
            return self.toxiproxy.answers() and self.liar.answers()

        try:
            wait_until(settled, timeout, what="the registry's fault proxy", interval=0.1)
        except WaitTimeout:
            raise BackendError(f"the registry's fault proxy did not answer within {timeout:g}s; "
                               f"last log lines: {logs()}") from None
        return self.toxiproxy.create_proxy(PROXY_NAME, f"0.0.0.0:{LISTEN_PORT}", LIAR_LISTEN)

    def probe(self, timeout: float = 30.0) -> float:
        """Seconds a ``GET /v2/`` through the proxy takes from the host (never lied about)."""
        return timed_get(f"{self.host_url}/v2/", timeout)

    def close(self) -> None:
        self.toxiproxy.close()
        self.liar.close()


class ProxyPrimitives:
    """A backend's ``RegistryProxy`` and ``RegistryLiar`` primitives, from its endpoints."""

    def _proxy_endpoints(self) -> ProxyEndpoints:
        raise NotImplementedError

    def registry_proxy(self) -> ProxyState:
        return self._proxy_endpoints().toxiproxy.proxy(PROXY_NAME)

    def add_registry_toxic(self, toxic: ProxyToxic) -> ProxyToxic:
        return self._proxy_endpoints().toxiproxy.add_toxic(PROXY_NAME, toxic)

    def remove_registry_toxic(self, name: str) -> None:
        self._proxy_endpoints().toxiproxy.remove_toxic(PROXY_NAME, name)

    def registry_proxy_probe(self, timeout: float = 30.0) -> float:
        return self._proxy_endpoints().probe(timeout)

    def registry_liar(self) -> LiarState:
        return self._proxy_endpoints().liar.state()

    def set_registry_lie(self, lie: RegistryLie) -> RegistryLie:
        return self._proxy_endpoints().liar.set_lie(lie)

    def clear_registry_lie(self, lie_id: str) -> None:
        self._proxy_endpoints().liar.clear_lie(lie_id)

    def registry_lie_log(self, since: int = 0, lie: str | None = None) -> LieLog:
        return self._proxy_endpoints().liar.log(since, lie)
