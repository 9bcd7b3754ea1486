"""The run's OCI registry container (distribution), published on 127.0.0.1 only.

Reached in-cluster as ``<prefix>-registry:5000`` on the private network; its data lives
in a labelled named volume so a stop/start outage keeps every tag.
"""

from __future__ import annotations

import secrets

from ...domain import RegistryEndpoint
from ..registry_wait import wait_registry
from .client import Containers
from .labels import LABEL_ROLE

REGISTRY_PORT = 5000


class RegistryContainer:
    def __init__(self, containers: Containers, prefix: str, network: str, *, outage_mode: str = "stop") -> None:
        self.c = containers
        self.network = network
        self.name = f"{prefix}-registry"
        self.volume = f"{prefix}-registry-data"
        self.outage_mode = outage_mode
        self.port: int | None = None

    def start(self, image: str, requested_port: int | None) -> None:
        from docker.errors import NotFound

        try:
            self.c.client.volumes.get(self.volume)
        except NotFound:
            self.c.client.volumes.create(self.volume, labels=self.c.label(**{LABEL_ROLE: "registry"}))
        env = {"REGISTRY_HTTP_ADDR": f"0.0.0.0:{REGISTRY_PORT}", "REGISTRY_STORAGE_DELETE_ENABLED": "true",
               "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": "/var/lib/registry", "REGISTRY_LOG_LEVEL": "warn",
               "REGISTRY_HTTP_SECRET": secrets.token_hex(16), "OTEL_TRACES_EXPORTER": "none"}
        _, self.port = self.c.run_published(
            self.name, image, REGISTRY_PORT, requested_port, network=self.network,
            labels=self.c.label(**{LABEL_ROLE: "registry"}), environment=env,
            volumes={self.volume: {"bind": "/var/lib/registry", "mode": "rw"}})

    def wait(self, timeout: float = 30.0) -> None:
        def exited() -> str | None:
            state = self.c.state(self.name)
            if state.get("Running") or state.get("Paused"):
                return None
            return f"exit code {state.get('ExitCode')}"

        wait_registry(self.host_url, timeout, exited=exited, logs=lambda: self.c.logs_tail(self.name))

    @property
    def host_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def endpoint(self) -> RegistryEndpoint:
        return RegistryEndpoint(host_url=self.host_url, cluster_host=f"{self.name}:{REGISTRY_PORT}", insecure=True)

    def stop(self) -> None:
        if self.outage_mode == "pause":
            self.c.api.pause(self.name)
        else:
            self.c.api.stop(self.name, timeout=2)

    def start_again(self) -> None:
        state = self.c.state(self.name)
        if state.get("Paused"):
            self.c.api.unpause(self.name)
        elif not state.get("Running"):
            self.c.api.start(self.name)
        self.wait()
