"""The registry's fault proxy (Toxiproxy) and liar (HTTP lies) as an environment offers
them: optional backend primitives, so a backend without them says so in one line."""

from __future__ import annotations

from ..domain import BackendError, LiarState, LieLog, ProxyState, ProxyToxic, RegistryLie
from .base import Backend, RegistryLiar, RegistryProxy


class RegistryFaults:
    """Mixed into :class:`~.kube_environment.KubeEnvironment`."""

    backend: Backend
    backend_name: str

    def _registry_proxy(self) -> RegistryProxy:
        if not isinstance(self.backend, RegistryProxy):
            raise BackendError(f"the {self.backend_name} backend has no fault proxy in front of the registry "
                               "(only the docker backend has one so far)")
        return self.backend

    def registry_proxy(self) -> ProxyState:
        return self._registry_proxy().registry_proxy()

    def add_registry_toxic(self, toxic: ProxyToxic) -> ProxyToxic:
        return self._registry_proxy().add_registry_toxic(toxic)

    def remove_registry_toxic(self, name: str) -> None:
        self._registry_proxy().remove_registry_toxic(name)

    def registry_proxy_probe(self, timeout: float = 30.0) -> float:
        return self._registry_proxy().registry_proxy_probe(timeout)

    def _registry_liar(self) -> RegistryLiar:
        if not isinstance(self.backend, RegistryLiar):
            raise BackendError(f"the {self.backend_name} backend has no registry liar in front of the registry "
                               "(only the docker backend has one so far)")
        return self.backend

    def registry_liar(self) -> LiarState:
        return self._registry_liar().registry_liar()

    def set_registry_lie(self, lie: RegistryLie) -> RegistryLie:
        return self._registry_liar().set_registry_lie(lie)

    def clear_registry_lie(self, lie_id: str) -> None:
        self._registry_liar().clear_registry_lie(lie_id)

    def registry_lie_log(self, since: int = 0, lie: str | None = None) -> LieLog:
        return self._registry_liar().registry_lie_log(since, lie)
