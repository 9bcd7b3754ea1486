"""image-automation-controller (IAC) beside IRC on a real kind cluster (kubelet, containerd).

The same checks as the docker tier (``tests/automation_checks.py``): IAC's pod Running with
its own Lease, a real reconcile of an ImageUpdateAutomation (Ready=False: no Git server),
and lease-delete/kill aimed at ``controller: automation`` leaving IRC untouched.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from automation_checks import assert_faults_hit_iac_only, assert_iac_runs_with_its_own_lease, iac_reconciles
from realenv import warm_assets

from pytest_fluxchaos.assets import cached_kind

pytestmark = [pytest.mark.docker, pytest.mark.kind]
FLUX_VERSION = "2.9.4"


@pytest.fixture(scope="module")
def world() -> Iterator[Any]:
    from pytest_fluxchaos.backends.kind import KindOptions
    from pytest_fluxchaos.backends.kind_environment import create_kind_environment
    from pytest_fluxchaos.settings import Settings
    from pytest_fluxchaos.variants import resolve

    if cached_kind() is None:
        pytest.fail("the kind assets are not built: run `python -m pytest_fluxchaos.assets build --kind`",
                    pytrace=False)
    if warm_assets(FLUX_VERSION) is None:
        pytest.fail("the controller images are not built: run `python -m pytest_fluxchaos.assets build`",
                    pytrace=False)
    settings = Settings(backend="kind", variants=None, flux_versions=[FLUX_VERSION], artifacts=None, keep=False,
                        seed=None, timeout=None, converge=None, assets="auto", allow_cluster=None)
    cluster = f"fc-iac-{secrets.token_hex(2)}"
    env = create_kind_environment(settings, FLUX_VERSION, print, options=KindOptions(cluster_name=cluster))
    try:
        ns = f"fc-iac-{secrets.token_hex(2)}"
        env.deploy(ns, resolve("single"), print, automation=True)
        yield type("World", (), {"env": env, "ns": ns})
    finally:
        env.close()


def test_iac_pod_runs_and_holds_its_own_lease(world: Any) -> None:
    assert_iac_runs_with_its_own_lease(world.env, world.ns)


def test_iac_reconciles_an_image_update_automation(world: Any) -> None:
    ready, seen = iac_reconciles(world.env, world.ns)
    print(f"\n[observed] Ready conditions in order: {', '.join(seen)}; last: {ready.get('reason')}")
    assert ready["reason"] == "GitOperationFailed"


def test_faults_on_the_automation_controller(world: Any) -> None:
    assert_faults_hit_iac_only(world.env, world.ns)
