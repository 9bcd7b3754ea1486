"""Fixtures for the kind tests."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def private_cluster_locks(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The unit tests fake kind clusters named like real ones ('dev'): their cluster locks
    live in a private folder, so a real session (or another test run) holding 'dev' on
    this machine cannot make them fail, and they never block it. Tests on a real cluster
    (marked ``kind``) keep the machine-wide locks."""
    if request.node.get_closest_marker("kind") is None:
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
