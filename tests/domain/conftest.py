"""A deployed in-memory namespace with a history and a nemesis: no Docker needed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from pytest_fluxchaos.history import History
from pytest_fluxchaos.nemesis import Nemesis
from pytest_fluxchaos.variants import PRESETS
from pytest_fluxchaos.waiting import wait_until
from tests.fakes.simcluster import SimEnvironment


@dataclass
class Sim:
    env: SimEnvironment
    ns: str
    history: History
    nemesis: Nemesis


def deploy(variant: str = "ha-emptydir") -> Sim:
    env = SimEnvironment(lease_duration=0.3, restart_delay=0.05)
    history = History()
    env.deploy("ns", PRESETS[variant], lambda _m: None)
    env.observe("ns", history)
    wait_until(lambda: env.leader("ns"), 5, what="a leader in the simulation")
    return Sim(env, "ns", history, Nemesis(env, "ns", history))


@pytest.fixture
def sim() -> Iterator[Sim]:
    s = deploy()
    yield s
    s.env.close()


@pytest.fixture
def single() -> Iterator[Sim]:
    s = deploy("single")
    yield s
    s.env.close()
