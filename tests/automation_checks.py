"""What every backend must show once IAC runs beside IRC in a namespace (shared by the
docker and kind tiers): IAC's pod and Lease, a real reconcile, faults aimed at IAC."""

from __future__ import annotations

from typing import Any

from pytest_fluxchaos.domain import lease_name
from pytest_fluxchaos.history import History
from pytest_fluxchaos.nemesis import Nemesis
from pytest_fluxchaos.scenario import FaultAction
from pytest_fluxchaos.waiting import wait_until


def assert_iac_runs_with_its_own_lease(env: Any, ns: str) -> None:
    iac = env.pods(ns, "automation")
    irc = env.pods(ns)
    assert [p.controller for p in iac] == ["automation"] and iac[0].state == "running", iac
    assert irc and all(p.controller == "reflector" for p in irc)
    assert iac[0].name.startswith("image-automation-controller-")
    assert env.leader(ns, "automation") == iac[0].name
    assert env.leader(ns) in {p.name for p in irc}  # leader() still means IRC's
    lease = env.kube.get_lease(ns, lease_name("automation"))
    assert lease is not None and lease.holder_pod == iac[0].name


def iac_reconciles(env: Any, ns: str, timeout: float = 90) -> tuple[dict[str, Any], list[str]]:
    """An ImageUpdateAutomation against a Git URL nobody serves: IAC must answer Ready=False."""
    env.kube.apply_manifest({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "app", "namespace": ns},
        "spec": {"url": "http://git.invalid/app.git", "interval": "1m", "ref": {"branch": "main"}}})
    env.kube.apply_manifest({
        "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageUpdateAutomation",
        "metadata": {"name": "app", "namespace": ns},
        "spec": {"interval": "1m", "sourceRef": {"kind": "GitRepository", "name": "app"},
                 "git": {"checkout": {"ref": {"branch": "main"}},
                         "commit": {"author": {"name": "fluxchaos", "email": "fluxchaos@example.invalid"}},
                         "push": {"branch": "main"}},
                 "update": {"strategy": "Setters", "path": "./"}}})
    seen: list[str] = []

    def not_ready() -> dict[str, Any] | None:
        obj = env.kube.custom.get_namespaced_custom_object(
            "image.toolkit.fluxcd.io", "v1", ns, "imageupdateautomations", "app")
        ready = next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"),
                     None)
        if ready and f"{ready['status']}/{ready.get('reason')}" not in seen:
            seen.append(f"{ready['status']}/{ready.get('reason')}")
        return ready if ready and ready["status"] == "False" else None

    return wait_until(not_ready, timeout, what="Ready=False on the ImageUpdateAutomation", interval=0.5), seen


def assert_faults_hit_iac_only(env: Any, ns: str) -> None:
    history = History()
    nemesis = Nemesis(env, ns, history)
    irc_before = {(p.name, p.restart_count) for p in env.pods(ns)}
    lease = nemesis.inject(FaultAction(kind="lease-delete", controller="automation", confirm_timeout=90))
    kill = nemesis.inject(FaultAction(kind="kill", controller="automation", confirm_timeout=90))
    for fault in (lease, kill):
        confirm = next(e for e in history.events if getattr(e, "fault_id", None) == fault.fault_id
                       and getattr(e, "phase", None) == "confirm")
        assert confirm.outcome == "ok", (fault.action.kind, confirm.detail)
    assert kill.resolved == env.pods(ns, "automation")[0].name
    assert env.pods(ns, "automation")[0].restart_count >= 1
    assert {(p.name, p.restart_count) for p in env.pods(ns)} == irc_before
