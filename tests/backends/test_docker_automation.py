"""image-automation-controller (IAC) beside IRC on the docker backend, with the real controllers.

IRC and IAC run in one namespace; IAC's pod runs, takes its own Lease, and reconciles an
ImageUpdateAutomation (with no Git server the clone fails: a not-ready condition still
proves the real IAC reconciled it). Faults aimed at ``controller: automation`` hit IAC.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from realenv import FLUX_VERSION, require_assets

from pytest_fluxchaos.backends.docker import DockerBackend
from pytest_fluxchaos.backends.kube_environment import KubeEnvironment
from pytest_fluxchaos.domain import lease_name
from pytest_fluxchaos.history import History
from pytest_fluxchaos.nemesis import Nemesis
from pytest_fluxchaos.scenario import FaultAction
from pytest_fluxchaos.variants import LeaderElection, Variant
from pytest_fluxchaos.waiting import wait_until

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
        variant = Variant(name="single", replicas=1, storage="emptyDir", memory="1Gi", leader_election=FAST)
        environment.deploy(NS, variant, print, automation=True)
        print(f"\n[measure] install IRC + IAC -> both leaders: {time.monotonic() - t0:.2f}s")
        yield environment
    finally:
        environment.close()


def test_iac_pod_runs_and_holds_its_own_lease(env: KubeEnvironment) -> None:
    iac = env.pods(NS, "automation")
    irc = env.pods(NS)
    assert [p.controller for p in iac] == ["automation"] and iac[0].state == "running"
    assert irc and all(p.controller == "reflector" for p in irc)
    assert iac[0].name.startswith("image-automation-controller-")
    assert env.leader(NS, "automation") == iac[0].name
    assert env.leader(NS) == irc[0].name  # leader() still means IRC's
    lease = env.kube.get_lease(NS, lease_name("automation"))
    assert lease is not None and lease.holder_pod == iac[0].name


def test_iac_reconciles_an_image_update_automation(env: KubeEnvironment) -> None:
    env.kube.apply_manifest({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "app", "namespace": NS},
        "spec": {"url": "http://git.invalid/app.git", "interval": "1m", "ref": {"branch": "main"}}})
    env.kube.apply_manifest({
        "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageUpdateAutomation",
        "metadata": {"name": "app", "namespace": NS},
        "spec": {"interval": "1m", "sourceRef": {"kind": "GitRepository", "name": "app"},
                 "git": {"checkout": {"ref": {"branch": "main"}},
                         "commit": {"author": {"name": "fluxchaos", "email": "fluxchaos@example.invalid"}},
                         "push": {"branch": "main"}},
                 "update": {"strategy": "Setters", "path": "./"}}})

    seen: list[str] = []

    def not_ready() -> dict[str, Any] | None:
        obj = env.kube.custom.get_namespaced_custom_object(
            "image.toolkit.fluxcd.io", "v1", NS, "imageupdateautomations", "app")
        ready = next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"),
                     None)
        if ready and f"{ready['status']}/{ready.get('reason')}" not in seen:
            seen.append(f"{ready['status']}/{ready.get('reason')}")
        return ready if ready and ready["status"] == "False" else None

    ready = wait_until(not_ready, 90, what="Ready=False on the ImageUpdateAutomation", interval=0.5)
    print(f"\n[observed] Ready conditions in order: {', '.join(seen)}")
    print(f"\n[observed] ImageUpdateAutomation Ready={ready['status']} reason={ready.get('reason')}: "
          f"{ready.get('message', '')[:160]}")
    assert ready["status"] == "False"  # no Git server: the clone fails, and IAC says so


def test_faults_on_the_automation_controller(env: KubeEnvironment) -> None:
    history = History()
    nemesis = Nemesis(env, NS, history)
    irc_before = env.pods(NS)[0]
    lease = nemesis.inject(FaultAction(kind="lease-delete", controller="automation", confirm_timeout=60))
    kill = nemesis.inject(FaultAction(kind="kill", controller="automation", confirm_timeout=60))
    for fault in (lease, kill):
        confirm = next(e for e in history.events if getattr(e, "fault_id", None) == fault.fault_id
                       and getattr(e, "phase", None) == "confirm")
        assert confirm.outcome == "ok", (fault.action.kind, confirm.detail)
    assert kill.resolved == env.pods(NS, "automation")[0].name
    assert env.pods(NS, "automation")[0].restart_count == 1
    irc_after = env.pods(NS)[0]
    assert (irc_after.name, irc_after.restart_count) == (irc_before.name, irc_before.restart_count)
