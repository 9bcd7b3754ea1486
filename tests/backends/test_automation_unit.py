"""IAC's Deployment and RBAC as the backends install them beside IRC (no Docker)."""

from __future__ import annotations

import yaml

from pytest_fluxchaos.backends.automation import automation_rbac, render_automation
from pytest_fluxchaos.backends.install_manifests import rbac_objects
from pytest_fluxchaos.domain import PodStatus

# Shaped like IAC's config/manager/deployment.yaml (written for the test).
UPSTREAM = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "image-automation-controller"},
    "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "image-automation-controller"}},
             "template": {"metadata": {"labels": {"app": "image-automation-controller"}},
                          "spec": {"containers": [{"name": "manager", "image": "fluxcd/image-automation-controller",
                                                   "args": ["--watch-all-namespaces", "--log-level=info",
                                                            "--enable-leader-election"]}]}}},
}


def test_render_automation_single_replica_own_namespace_leader_election():
    dep = render_automation(UPSTREAM, namespace="fc-x", image="fluxchaos/image-automation-controller:v1.1.2",
                            leader_election={"--leader-election-lease-duration": "8s"})
    assert dep["metadata"]["namespace"] == "fc-x" and dep["spec"]["replicas"] == 1
    pod = dep["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "image-automation-controller"
    c = pod["containers"][0]
    assert c["image"] == "fluxchaos/image-automation-controller:v1.1.2"
    assert "--watch-all-namespaces=false" in c["args"] and "--watch-all-namespaces" not in c["args"]
    assert c["args"].count("--enable-leader-election") == 1
    assert "--leader-election-lease-duration=8s" in c["args"]
    assert UPSTREAM["spec"]["replicas"] == 3  # the upstream copy is untouched


def _manifests(tmp_path):
    (tmp_path / "rbac").mkdir()
    (tmp_path / "rbac" / "role.yaml").write_text(yaml.safe_dump(
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "manager-role"},
         "rules": [{"apiGroups": ["source.toolkit.fluxcd.io"], "resources": ["gitrepositories"],
                    "verbs": ["get"]}]}))
    return tmp_path


def test_automation_rbac_never_collides_with_irc(tmp_path):
    d = _manifests(tmp_path)
    iac = automation_rbac(d, "fc-x", {"a": "b"})
    irc = rbac_objects(d, "fc-x", "image-reflector-controller")
    names = lambda objs: {(o["kind"], o["metadata"]["name"]) for o in objs if o["kind"] != "Namespace"}  # noqa: E731
    assert not names(iac) & names(irc)
    assert ("ClusterRole", "image-automation-manager-role") in names(iac)
    assert ("ClusterRoleBinding", "image-automation-manager-role-fc-x") in names(iac)
    assert ("Role", "image-automation-leader-election-role") in names(iac)
    sa = [o for o in iac if o["kind"] == "ServiceAccount"]
    assert sa[0]["metadata"]["name"] == "image-automation-controller"


def test_pod_status_defaults_to_reflector():
    assert PodStatus("ns", "p", None, "running").controller == "reflector"
