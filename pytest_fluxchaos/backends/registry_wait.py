"""Waiting for a freshly started registry container, shared by the backends."""

from __future__ import annotations

from collections.abc import Callable

from ..registry import RegistryClient
from ..waiting import poll
from .base import BackendError


def wait_registry(host_url: str, timeout: float, *, logs: Callable[[], str],
                  exited: Callable[[], str | None] = lambda: None) -> None:
    """Until ``GET /v2/`` answers; fail at once if ``exited`` says the container stopped."""
    client = RegistryClient(host_url)
    seen: dict[str, str | None] = {"exited": None}

    def settled() -> bool:
        seen["exited"] = exited()
        return seen["exited"] is not None or client.is_up()

    try:
        answered = poll(settled, timeout, interval=0.2)
    finally:
        client.close()
    if seen["exited"] is not None:
        raise BackendError(f"the registry stopped ({seen['exited']}); last log lines: {logs()}")
    if not answered:
        raise BackendError(f"the registry did not answer {host_url}/v2/ within {timeout:g}s; "
                           f"last log lines: {logs()}")
