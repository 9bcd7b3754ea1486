"""Starting a container that publishes ports on 127.0.0.1.

The port is picked free, but another process may bind it before Docker does; Docker then
refuses the run ("port is already allocated"). The registry, the Git server and the fault
proxy all start this way, so the retry lives here once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ...domain import BackendError, one_line
from . import commands as cmd

START_ATTEMPTS = 3
PORT_TAKEN = ("port is already allocated", "address already in use")


def run_publishing(run: Callable[..., Any], name: str, what: str, pick_ports: Callable[[], Sequence[int]],
                   docker_run: Callable[[Sequence[int]], list[str]]) -> tuple[int, ...]:
    """Run ``docker_run(ports)`` (container ``name``) on freshly picked ports until Docker binds
    them; the ports it got. Another failure, or a port taken ``START_ATTEMPTS`` times in a
    row, is one :class:`BackendError` naming ``what``."""
    last = ""
    for _attempt in range(START_ATTEMPTS):
        ports = tuple(pick_ports())
        started = run(docker_run(ports), timeout=120, check=False)
        if started.returncode == 0:
            return ports
        last = one_line(started.stderr, 200)
        run([cmd.DOCKER, "rm", "-f", "-v", name], timeout=60, check=False)
        if not any(w in started.stderr for w in PORT_TAKEN):
            raise BackendError(f"cannot start {what} {name}: {last}")
    raise BackendError(f"cannot publish ports for {what} {name} ({last}); free a port on 127.0.0.1 and retry")
