"""One pytest session per kind cluster at a time.

kind clusters are named globally per Docker engine, and a session reuses a cluster the
plugin created before; two concurrent sessions with the same ``--cluster-name`` would
share it, and the first to finish would delete it under the other (seen when two runs
with the default name overlapped). An advisory ``flock`` per (engine, cluster) makes the
second session fail at once with one line instead. Held until teardown or process exit.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
import threading
from pathlib import Path
from typing import IO

from ...domain import BackendError

_held: dict[Path, tuple[IO[str], int]] = {}
_guard = threading.Lock()


def lock_path(cluster: str, docker_host: str | None = None) -> Path:
    engine = docker_host if docker_host is not None else os.environ.get("DOCKER_HOST", "")
    digest = hashlib.sha1(engine.encode()).hexdigest()[:8]
    folder = Path(tempfile.gettempdir()) / "fluxchaos-kind-locks"  # one place, not /tmp at large
    folder.mkdir(exist_ok=True)
    return folder / f"{cluster}-{digest}.lock"


def acquire(cluster: str) -> Path:
    """Take the cluster's lock for this process (re-entrant); raise if another holds it."""
    path = lock_path(cluster)
    with _guard:
        if path in _held:
            fh, count = _held[path]
            _held[path] = (fh, count + 1)
            return path
        fh = path.open("a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            owner = fh.read().strip() or "another process"
            fh.close()
            raise BackendError(f"kind cluster {cluster!r} is in use by another pytest session "
                               f"({owner}); wait for it or pass --cluster-name=<another name>") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        _held[path] = (fh, 1)
        return path


def release(path: Path) -> None:
    with _guard:
        if path not in _held:
            return
        fh, count = _held[path]
        if count > 1:
            _held[path] = (fh, count - 1)
            return
        del _held[path]
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()
