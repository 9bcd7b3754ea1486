"""image-automation-controller (IAC) beside IRC on the docker backend, with the real controllers.

IRC and IAC run in one namespace; IAC's pod runs, takes its own Lease, and reconciles an
ImageUpdateAutomation (with no Git server the clone fails: a not-ready condition still
proves the real IAC reconciled it). Faults aimed at ``controller: automation`` hit IAC.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from automation_checks import assert_faults_hit_iac_only, assert_iac_runs_with_its_own_lease, iac_reconciles
from realenv import FLUX_VERSION, require_assets

from pytest_fluxchaos.backends.docker import DockerBackend
from pytest_fluxchaos.backends.kube_environment import KubeEnvironment
from pytest_fluxchaos.variants import LeaderElection, Variant

pytestmark = pytest.mark.docker

NS = "fc-automation"
FAST = LeaderElection(lease_duration=8.0, renew_deadline=5.0, retry_period=1.0)


@pytest.fixture(scope="module")
def env() -> Any:
    assets = require_assets(FLUX_VERSION)
    backend = DockerBackend(assets, flux_version=assets.flux_version)
    backend.provision(print)
    environment = KubeEnvironment(backend, irc_version=assets.irc_version, flux_version=assets.flux_version,
                                  manifests_dir=assets.manifests_dir, assets=assets)
    try:
        t0 = time.monotonic()
        variant = Variant(name="single", replicas=1, storage="emptyDir", memory="1Gi", leader_election=FAST,
                          automation=True)  # what a suite's `automation: true` variant asks for
        environment.deploy(NS, variant, print)
        print(f"\n[measure] install IRC + IAC -> both leaders: {time.monotonic() - t0:.2f}s")
        yield environment
    finally:
        environment.close()


def test_iac_pod_runs_and_holds_its_own_lease(env: KubeEnvironment) -> None:
    assert_iac_runs_with_its_own_lease(env, NS)


def test_iac_reconciles_an_image_update_automation(env: KubeEnvironment) -> None:
    ready, seen = iac_reconciles(env, NS)
    print(f"\n[observed] Ready conditions in order: {', '.join(seen)}; last: {ready.get('reason')}: "
          f"{ready.get('message', '')[:160]}")
    assert ready["reason"] == "GitOperationFailed"  # no Git server: the clone fails, and IAC says so


def test_faults_on_the_automation_controller(env: KubeEnvironment) -> None:
    assert_faults_hit_iac_only(env, NS)
