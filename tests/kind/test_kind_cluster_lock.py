"""Two sessions never share a kind cluster: the second fails at once, with one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pytest_fluxchaos.backends.kind import cluster_lock
from pytest_fluxchaos.domain import BackendError

HOLD = """
import sys, time
from pytest_fluxchaos.backends.kind import cluster_lock
cluster_lock.acquire(sys.argv[1]); print("held", flush=True); time.sleep(60)
"""


def test_a_second_process_is_refused_and_the_lock_is_reentrant_here(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(cluster_lock.tempfile, "tempdir", str(tmp_path))
    holder = subprocess.Popen([sys.executable, "-c", HOLD, "fc-lock-test"], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(BackendError, match=r"kind cluster 'fc-lock-test' is in use by another "
                                                r"pytest session \(pid \d+\); wait for it or pass "
                                                r"--cluster-name="):
            cluster_lock.acquire("fc-lock-test")
    finally:
        holder.kill()
        holder.wait()
    path = cluster_lock.acquire("fc-lock-test")
    assert cluster_lock.acquire("fc-lock-test") == path  # the same process may nest
    cluster_lock.release(path)
    cluster_lock.release(path)
    assert path not in cluster_lock._held


def test_the_lock_is_per_engine():
    assert cluster_lock.lock_path("c", "unix:///a.sock") != cluster_lock.lock_path("c", "unix:///b.sock")
