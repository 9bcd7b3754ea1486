"""IAC on the kind backend against a fake API: its own slots, selector, CRDs, RBAC and Lease."""

from __future__ import annotations

import copy
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml
from kindfakes import pod

from pytest_fluxchaos.backends.automation import render_automation
from pytest_fluxchaos.backends.kind.install import Installer
from pytest_fluxchaos.backends.kind.pods import PodView
from pytest_fluxchaos.domain import InstallRequest

IRC_SEL, IAC_SEL = "app=image-reflector-controller", "app=image-automation-controller"


def iac_pod(name: str) -> dict[str, Any]:
    p = pod(name, namespace="v1")
    p["metadata"]["labels"] = {"app": "image-automation-controller"}
    return p


class SelectingKube:
    """Lists pods by their ``app`` label, records applies and Lease waits."""

    def __init__(self, pods: list[dict[str, Any]]) -> None:
        self.pods = pods
        self.applied: list[dict[str, Any]] = []
        self.lease_waits: list[tuple[str, dict[str, Any]]] = []
        self.api_client = SimpleNamespace(sanitize_for_serialization=lambda obj: copy.deepcopy(obj))
        self.core = SimpleNamespace(list_namespaced_pod=self._list)

    def _list(self, namespace: str, label_selector: str = "", **_kw: Any) -> Any:
        key, _, value = label_selector.partition("=")
        return {"items": [p for p in self.pods if p["metadata"]["labels"].get(key) == value]}

    def apply_manifest(self, obj: Any) -> list[dict[str, Any]]:
        docs = [d for d in yaml.safe_load_all(Path(obj).read_text()) if d] if isinstance(obj, Path) else [obj]
        self.applied += docs
        return docs

    def wait_crds_established(self, names: list[str], timeout: float) -> None:
        pass

    def wait_lease_holder(self, namespace: str, timeout: float, **kw: Any) -> None:
        self.lease_waits.append((namespace, kw))


def test_statuses_list_irc_then_iac_with_their_own_slots():
    kube = SelectingKube([pod("irc-a", namespace="v1"), pod("irc-b", namespace="v1"), iac_pod("iac-a")])
    view = PodView(lambda: kube)
    view.track("v1", IRC_SEL)
    assert [(p.name, p.controller) for p in view.statuses("v1")] == [("irc-a", "reflector"), ("irc-b", "reflector")]
    view.track("v1", IAC_SEL, "automation")
    assert [(p.name, p.controller) for p in view.statuses("v1")] == [
        ("irc-a", "reflector"), ("irc-b", "reflector"), ("iac-a", "automation")]
    view.forget("v1")
    assert view.selector("v1", "automation") is None


def test_install_automation_applies_crds_rbac_deployment_and_waits_for_iacs_lease(tmp_path):
    manifests = tmp_path / "iac"
    (manifests / "crds").mkdir(parents=True)
    (manifests / "rbac").mkdir()
    (manifests / "crds" / "gitrepositories.yaml").write_text(yaml.safe_dump(
        {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
         "metadata": {"name": "gitrepositories.source.toolkit.fluxcd.io"}}))
    (manifests / "rbac" / "role.yaml").write_text(yaml.safe_dump(
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "manager-role"},
         "rules": []}))
    upstream = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "image-automation-controller"},
                "spec": {"selector": {"matchLabels": {"app": "image-automation-controller"}},
                         "template": {"metadata": {"labels": {"app": "image-automation-controller"}},
                                      "spec": {"containers": [{"name": "manager", "image": "x",
                                                               "args": ["--enable-leader-election"]}]}}}}
    kube = SelectingKube([iac_pod("iac-a")])
    view = PodView(lambda: kube)
    installer = Installer(lambda: kube, view, timeout=5)
    request = InstallRequest(namespace="v1", deployment={}, irc_version="v1.2.4",
                             automation=render_automation(upstream, namespace="v1", image="iac:v1.1.2"),
                             automation_version="v1.1.2")
    installer.install_automation(request, manifests, lambda _m: None)
    kinds = [(o["kind"], o["metadata"]["name"]) for o in kube.applied]
    assert kinds[0] == ("CustomResourceDefinition", "gitrepositories.source.toolkit.fluxcd.io")
    assert ("ServiceAccount", "image-automation-controller") in kinds
    assert ("ClusterRoleBinding", "image-automation-manager-role-v1") in kinds
    assert kinds[-1] == ("Deployment", "image-automation-controller")
    assert kube.lease_waits == [("v1", {"name": "image-automation-controller-leader-election"})]
    assert [p.controller for p in view.statuses("v1")][-1] == "automation"
