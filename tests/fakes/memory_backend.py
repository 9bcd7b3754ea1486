"""Registers the in-memory ``memory`` backend (test-only) through the plugin's hook."""

from __future__ import annotations

import os

import pytest

from .simcluster import SimEnvironment

CREATED: list[SimEnvironment] = []


@pytest.hookimpl
def pytest_fluxchaos_register_backends(registry) -> None:  # type: ignore[no-untyped-def]
    def factory(settings, flux_version, progress):  # type: ignore[no-untyped-def]
        if os.environ.get("FLUXCHAOS_SIM_FAIL"):
            raise RuntimeError(os.environ["FLUXCHAOS_SIM_FAIL"])
        irc = "v0.32.0" if flux_version.startswith("2.3") else "v1.2.4"
        env = SimEnvironment(irc_version=irc, flux_version=flux_version)
        CREATED.append(env)
        return env

    registry.register("memory", factory)
