"""Waiting for a freshly started registry container, shared by the backends."""

from __future__ import annotations

from collections.abc import Callable

from ..registry import RegistryClient
from ..domain import BackendError, WaitTimeout
from ..waiting import wait_until


def wait_registry(host_url: str, timeout: float, *, logs: Callable[[], str],
                  exited: Callable[[], str | None] = lambda: None) -> None:
    """Until ``GET /v2/`` answers; fail at once if ``exited`` says the container stopped."""
    client = RegistryClient(host_url)
    seen: dict[str, str | None] = {"exited": None}

    def settled() -> bool:
        seen["exited"] = exited()
        return seen["exited"] is not None or client.is_up()

    answered = True
    try:
        wait_until(settled, timeout, what=f"the registry at {host_url}", interval=0.2)
    except WaitTimeout:
        answered = False
    finally:
        client.close()
    if seen["exited"] is not None:
        raise BackendError(f"the registry stopped ({seen['exited']}); last log lines: {logs()}")
    if not answered:
        raise BackendError(f"the registry did not answer {host_url}/v2/ within {timeout:g}s; "
                           f"last log lines: {logs()}")
