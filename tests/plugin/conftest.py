"""Shared fixtures: a pytester project with the in-memory backend and the sim suites."""

from __future__ import annotations

import pytest

from .sim_suites import FAILOVER, STEADY

CONFTEST = 'pytest_plugins = ["fakes.memory_backend"]\n'


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.mkdir("suites")
    (pytester.path / "suites" / "failover.yaml").write_text(FAILOVER)
    (pytester.path / "suites" / "steady.yaml").write_text(STEADY)
    return pytester
