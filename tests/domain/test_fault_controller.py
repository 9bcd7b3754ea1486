"""Faults can target image-automation-controller's pods or Lease (``controller: automation``)."""

from __future__ import annotations

import pytest

from pytest_fluxchaos.domain import PodStatus, controller_of, lease_name
from pytest_fluxchaos.faults import FaultContext, action_controller, get
from pytest_fluxchaos.history import History
from pytest_fluxchaos.nemesis import Nemesis
from pytest_fluxchaos.scenario import FaultAction


@pytest.mark.parametrize("kind", ["oom-kill", "kill", "pod-delete", "lease-delete"])
def test_controller_defaults_to_reflector_and_accepts_automation(kind):
    assert action_controller(FaultAction(kind=kind)) == "reflector"
    assert action_controller(FaultAction(kind=kind, controller="automation")) == "automation"


@pytest.mark.parametrize("kind", ["oom-kill", "kill", "pod-delete", "lease-delete"])
def test_unknown_controller_is_rejected_at_load_time(kind):
    with pytest.raises(ValueError, match="controller"):
        FaultAction(kind=kind, controller="source")


def test_registry_outage_has_no_controller():
    with pytest.raises(ValueError):
        FaultAction(kind="registry-outage", duration=5, controller="automation")


def test_lease_names_and_pod_owners():
    assert lease_name() == "image-reflector-controller-leader-election"
    assert lease_name("automation") == "image-automation-controller-leader-election"
    assert controller_of("image-automation-controller-5d8f7c9b4-x2x7q") == "automation"
    assert controller_of("image-reflector-controller-5d8f7c9b4-x2x7q") == "reflector"


class TwoControllers:
    """IRC with two replicas and IAC with one, each with its own Lease."""

    def __init__(self) -> None:
        self.pods_ = {"reflector": [PodStatus("ns", "irc-a", "c1", "running"),
                                    PodStatus("ns", "irc-b", "c2", "running")],
                      "automation": [PodStatus("ns", "iac-a", "c3", "running", controller="automation")]}
        self.leases = {"reflector": "irc-b", "automation": "iac-a"}
        self.deleted: list[str] = []

    def pods(self, namespace, controller="reflector"):
        return list(self.pods_[controller])

    def leader(self, namespace, controller="reflector"):
        return self.leases[controller]

    def delete_lease(self, namespace, controller="reflector"):
        self.deleted.append(controller)
        return self.leases[controller]


def test_nemesis_resolves_targets_per_controller():
    n = Nemesis(TwoControllers(), "ns", History())
    assert n.resolve_target("leader") == "irc-b"
    assert n.resolve_target("pod-0") == "irc-a"
    assert n.resolve_target("leader", "automation") == "iac-a"
    assert n.resolve_target("pod-0", "automation") == "iac-a"


def test_lease_delete_on_automation_deletes_iacs_lease_only():
    env = TwoControllers()
    action = FaultAction(kind="lease-delete", controller="automation")
    ctx = FaultContext(env, "ns", History(), action, "iac-a", action_controller(action))
    kind = get("lease-delete")
    evidence = kind.inject(ctx, kind.before(ctx))
    assert env.deleted == ["automation"] and evidence.holder_before == "iac-a"
    assert ctx.pod().name == "iac-a"
