"""Provision -> install -> teardown of the kind backend, with a scripted docker/kind and a fake API.

The real-Docker version is test_kind_backend_docker.py (needs the built assets); this
one pins the order and the exact commands of each part: preflight and the guard,
pytest-kind's create, the ownership marker, the registry container and its wiring, the
image load, the install of a variant, and what teardown removes.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from kindfakes import FakeCore, fail, fake_kind, ok, pod, preflight_runner
from pytest_fluxchaos.backends.kind import KindBackend, KindOptions
from pytest_fluxchaos.backends.kind import cluster as cluster_module
from pytest_fluxchaos.backends.kind import git_container, proxy_container, registry_container
from pytest_fluxchaos.backends.kind.guard import OWNER_CONFIGMAP, ClusterPlan
from pytest_fluxchaos.backends.kind.options import NODE_IMAGE
from pytest_fluxchaos.domain import BackendError, InstallRequest

NODE = "fluxchaos-control-plane"
NETWORKS = "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}"
LABEL = '{{index .Config.Labels "io.fluxchaos.kind-cluster"}}'
GIT_IP = '{{(index .NetworkSettings.Networks "kind").IPAddress}}'


class FakeCluster:
    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig_path = kubeconfig
        self.created: list[Any] = []
        self.deleted = 0

    def create(self, config_file: Any = None) -> None:
        self.created.append(config_file)

    def delete(self) -> None:
        self.deleted += 1


class ProvisionKube:
    """What provisioning and install ask of the KubeClient."""

    def __init__(self) -> None:
        self.core = FakeCore([])
        self.core.list_node = lambda **_kw: SimpleNamespace(items=[SimpleNamespace(status=SimpleNamespace(
            conditions=[SimpleNamespace(type="Ready", status="True")]))])
        self.core.read_namespaced_config_map = self._absent
        self.core.read_namespaced_pod_log = lambda *a, **kw: "line one\nE0101 boom\n"
        self.core.list_namespaced_event = lambda *a, **kw: SimpleNamespace(items=[
            SimpleNamespace(type="Warning", message="Back-off pulling image")])
        self.api_client = SimpleNamespace(sanitize_for_serialization=lambda obj: obj)
        self.applied: list[dict[str, Any]] = []
        self.crds_waited: list[list[str]] = []
        self.lease_waits: list[str] = []
        self.closed = False

    @staticmethod
    def _absent(*_a: Any, **_kw: Any) -> Any:
        from kubernetes.client.exceptions import ApiException

        raise ApiException(status=404, reason="Not Found")

    def apply_manifest(self, obj: Any) -> list[dict[str, Any]]:
        docs = list(yaml.safe_load_all(Path(obj).read_text())) if isinstance(obj, Path) else [obj]
        self.applied += docs
        return docs

    def wait_crds_established(self, names: list[str], timeout: float) -> None:
        self.crds_waited.append(list(names))

    def wait_lease_holder(self, namespace: str, timeout: float) -> None:
        self.lease_waits.append(namespace)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    import kubernetes.client

    import pytest_fluxchaos.kube as kube_module

    kind = fake_kind(tmp_path)
    runner = preflight_runner(kind, [], images=[NODE_IMAGE])
    k = str(kind)
    for prefix, result in [
        ([k, "get", "nodes"], ok(f"{NODE}\n")),
        (["docker", "inspect", "--type", "container", "-f", NETWORKS, NODE], ok("kind \n")),
        (["docker", "inspect", "--type", "container", "-f", LABEL], fail("Error: No such object")),
        (["docker", "inspect", "--type", "container", "-f", GIT_IP, "fluxchaos-git"], ok("172.18.0.9\n")),
        (["docker", "inspect", "--type", "container", "-f", GIT_IP, "fluxchaos-registry"], ok("172.18.0.7\n")),
        (["docker", "run"], ok("0123abcd\n")),
        (["docker", "exec", "-i", NODE], ok()),
        ([k, "load", "docker-image"], ok()),
        (["docker", "rm"], ok()),
    ]:
        runner.add(prefix, result)
    kube = ProvisionKube()
    clusters: list[FakeCluster] = []
    waits: list[str] = []

    def new_cluster(options: KindOptions, kind_path: Any, *, allow_download: bool) -> FakeCluster:
        workdir = options.workdir / options.cluster_name  # as pytest-kind's KindCluster makes it
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "kubeconfig").write_text("kind's copy\n")
        clusters.append(FakeCluster(workdir / "kubeconfig"))
        return clusters[-1]

    monkeypatch.setattr(cluster_module, "make_cluster", new_cluster)
    monkeypatch.setattr(kube_module, "KubeClient", lambda *_a, **_kw: kube)
    monkeypatch.setattr(kubernetes.client, "AppsV1Api", lambda _api: SimpleNamespace(
        read_namespaced_deployment=lambda *_a, **_kw: SimpleNamespace(status=SimpleNamespace(available_replicas=1))))
    monkeypatch.setattr(registry_container, "free_port", lambda: 45678)
    monkeypatch.setattr(registry_container, "wait_registry", lambda url, timeout, **_kw: waits.append(url))
    monkeypatch.setattr(git_container, "free_port", lambda: 45679)
    monkeypatch.setattr(git_container, "wait_git", lambda url, timeout, **_kw: waits.append(url))
    proxy_ports = iter(range(45680, 45780))
    monkeypatch.setattr(proxy_container, "free_port", lambda: next(proxy_ports))
    monkeypatch.setattr(proxy_container.ProxyEndpoints, "wait",
                        lambda self, timeout, running, logs: waits.append(self.host_url))
    manifests = tmp_path / "manifests"
    (manifests / "crds").mkdir(parents=True)
    (manifests / "rbac").mkdir()
    (manifests / "crds" / "a.yaml").write_text(yaml.safe_dump({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "imagepolicies.image.toolkit.fluxcd.io"}}))
    (manifests / "rbac" / "role.yaml").write_text(yaml.safe_dump({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "manager-role"},
        "rules": []}))
    assets = SimpleNamespace(irc_image="fluxchaos/irc:v1.2.4", registry_image="fluxchaos/registry:v3",
                             git_image="fluxchaos/git-server:bookworm", proxy_image="fluxchaos/registry-proxy:t",
                             manifests_dir=manifests)
    backend = KindBackend(assets, KindOptions(kind_bin=kind, workdir=tmp_path / ".pytest-kind"), runner=runner,
                          offline=True, run_dir=tmp_path / "run", install_timeout=0.5)
    return SimpleNamespace(backend=backend, runner=runner, kube=kube, clusters=clusters, waits=waits, kind=k,
                           tmp_path=tmp_path)


DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "image-reflector-controller"},
              "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "image-reflector-controller"}},
                       "template": {"spec": {
                           "containers": [{"name": "manager", "args": ["--enable-leader-election"]}],
                           "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "irc-data"}}]}}}}


def test_provision_install_teardown(world: SimpleNamespace) -> None:
    b, runner, kube = world.backend, world.runner, world.kube
    lines: list[str] = []
    b.provision(lines.append)
    assert (b.plan.action, b.nodes, b.network, b.registry_port) == ("create", [NODE], "kind", 45678)
    assert world.clusters[0].created == [b.options.config_file]
    owner = next(o for o in kube.applied if o["metadata"]["name"] == OWNER_CONFIGMAP)
    assert owner["data"]["cluster"] == "fluxchaos" and owner["data"]["runId"] == b.run_id
    holder, server, git_holder, git_server, proxy = [c for c in runner.calls if c[:2] == ["docker", "run"]]
    assert holder[:10] == ["docker", "run", "-d", "--name", "fluxchaos-registry", "--network", "kind",
                           "-p", "127.0.0.1:45678:5000", "--label"]
    assert server[:7] == ["docker", "run", "-d", "--name", "fluxchaos-registry-server", "--network",
                          "container:fluxchaos-registry"]
    assert server[-1] == holder[-2] == "fluxchaos/registry:v3"
    assert git_holder[:10] == ["docker", "run", "-d", "--name", "fluxchaos-git", "--network", "kind",
                               "-p", "127.0.0.1:45679:8080", "--label"]
    assert git_server[:7] + git_server[-1:] == ["docker", "run", "-d", "--name", "fluxchaos-git-server",
                                                "--network", "container:fluxchaos-git",
                                                "fluxchaos/git-server:bookworm"]
    assert proxy[:7] + proxy[-1:] == ["docker", "run", "-d", "--name", "fluxchaos-proxy", "--network", "kind",
                                      "fluxchaos/registry-proxy:t"]
    assert "LIAR_UPSTREAM=http://172.18.0.7:5000" in proxy and "127.0.0.1:45682:5000" in proxy
    assert world.waits == ["http://127.0.0.1:45678", "http://127.0.0.1:45679/git", "http://127.0.0.1:45682"]
    # The controllers scan through the proxy; the plugin pushes to the registry itself.
    assert (b.registry().cluster_host, b.registry().host_url) == ("fluxchaos-proxy:5000", "http://127.0.0.1:45678")
    assert b.registry_direct().cluster_host == "fluxchaos-registry:5000"
    assert b.git_server().cluster_url == "http://172.18.0.9:8080/git"  # the holder's IP: no DNS for pods
    writes = [(c[-1], i) for c, i in zip(runner.calls, runner.inputs) if c[:4] == ["docker", "exec", "-i", NODE]]
    assert sorted(path for path, _ in writes) == [
        "/etc/containerd/certs.d/fluxchaos-registry:5000/hosts.toml",
        "/etc/containerd/certs.d/localhost:45678/hosts.toml"]
    assert all('server = "http://fluxchaos-registry:5000"' in text for _, text in writes)
    assert any(o["metadata"]["name"] == "local-registry-hosting" for o in kube.applied)
    assert [world.kind, "load", "docker-image", "--name", "fluxchaos", "fluxchaos/irc:v1.2.4"] in runner.calls
    assert (b.run_dir / "kubeconfig").read_text() == "apiVersion: v1\n"
    assert lines[0] == "kind: kind v0.30.0 go1.26.8 linux/amd64 (--kind-bin)"
    assert lines[-1].startswith("kind: cluster fluxchaos ready in ")
    assert set(b.timings) == {"cluster_s", "load_images_s", "provision_s"}

    # Install: CRDs, RBAC, the default claim, the Deployment; the wait sees a Ready pod.
    kube.core.pods["irc-a"] = pod("irc-a")
    kube.applied.clear()
    b.install_flux(InstallRequest(namespace="v1", deployment=DEPLOYMENT, irc_version="v1.2.4"), lines.append)
    assert [(o["kind"], o["metadata"]["name"]) for o in kube.applied] == [
        ("CustomResourceDefinition", "imagepolicies.image.toolkit.fluxcd.io"),
        ("Namespace", "v1"), ("ServiceAccount", "image-reflector-controller"),
        ("ClusterRole", "image-reflector-manager-role"), ("ClusterRoleBinding", "image-reflector-manager-role-v1"),
        ("Role", "image-reflector-leader-election-role"),
        ("RoleBinding", "image-reflector-leader-election-role-binding"),
        ("PersistentVolumeClaim", "irc-data"), ("Deployment", "image-reflector-controller")]
    assert kube.applied[-1]["metadata"]["namespace"] == "v1"
    assert (kube.crds_waited, kube.lease_waits) == ([["imagepolicies.image.toolkit.fluxcd.io"]], ["v1"])
    assert [p.name for p in b.pods("v1")] == ["irc-a"]
    assert lines[-1].startswith("kind: image-reflector-controller ready in v1 after ")

    b.teardown()
    b.teardown()
    assert world.clusters[0].deleted == 1
    assert ["docker", "rm", "-f", "-v", "fluxchaos-registry"] in runner.calls
    assert ["docker", "rm", "-f", "-v", "fluxchaos-git"] in runner.calls
    assert ["docker", "rm", "-f", "-v", "fluxchaos-git-server"] in runner.calls
    assert ["docker", "rm", "-f", "-v", "fluxchaos-proxy"] in runner.calls
    assert kube.closed and (world.tmp_path / "run").is_dir()  # a run_dir given by the caller stays
    assert not (world.tmp_path / ".pytest-kind").exists()  # pytest-kind's empty work dir does not


def test_install_timeout_explains_itself(world: SimpleNamespace) -> None:
    b, kube = world.backend, world.kube
    b.provision()
    kube.core.pods["irc-a"] = pod("irc-a", ready=False, running=False)
    with pytest.raises(BackendError) as info:
        b.install_flux(InstallRequest(namespace="v1", deployment=DEPLOYMENT, irc_version="v1.2.4"))
    assert str(info.value) == (
        "image-reflector-controller in v1 not ready: timed out after 0.5s waiting for a Ready "
        "image-reflector-controller pod in v1 (last: False); irc-a: waiting (CrashLoopBackOff), restarts 0; "
        "last log lines: line one E0101 boom; events: Back-off pulling image")
    b.teardown()


def test_a_failure_while_provisioning_tears_down_what_was_made(world: SimpleNamespace) -> None:
    b, runner = world.backend, world.runner
    runner.add([world.kind, "load", "docker-image"], fail("ERROR: image not present locally"))
    with pytest.raises(BackendError, match="^`kind load docker-image fluxchaos/irc:v1.2.4` failed"):
        b.provision()
    assert world.clusters[0].deleted == 1
    rms = [c for c in runner.calls if c[:2] == ["docker", "rm"]]
    assert rms == [["docker", "rm", "-f", "-v", "fluxchaos-proxy"],
                   ["docker", "rm", "-f", "-v", "fluxchaos-registry-server"],
                   ["docker", "rm", "-f", "-v", "fluxchaos-registry"],
                   ["docker", "rm", "-f", "-v", "fluxchaos-git-server"],
                   ["docker", "rm", "-f", "-v", "fluxchaos-git"]]
    assert not b._provisioned


def test_registry_port_taken_is_retried_and_a_stranger_is_refused(world: SimpleNamespace,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    b, runner = world.backend, world.runner
    ports = iter([40001, 40002])
    monkeypatch.setattr(registry_container, "free_port", lambda: next(ports))
    answers = iter([fail("Bind for 127.0.0.1:40001 failed: port is already allocated"), ok("id\n"), ok("id\n"),
                    ok("git\n"), ok("git\n"), ok("proxy\n")])
    runner.add(["docker", "run"], lambda _a, _i: next(answers))
    b.provision()
    assert b.registry_port == 40002
    runs = [c for c in runner.calls if c[:2] == ["docker", "run"] and "-p" in c]
    assert [r[r.index("-p") + 1] for r in runs] == ["127.0.0.1:40001:5000", "127.0.0.1:40002:5000",
                                                    "127.0.0.1:45679:8080", "127.0.0.1:45680:8474"]
    b.teardown()

    other = KindBackend(b.assets, b.options, runner=runner, offline=True, run_dir=world.tmp_path / "run2")
    runner.add(["docker", "inspect", "--type", "container", "-f", LABEL], ok("someone-else\n"))
    with pytest.raises(BackendError, match="^a container named fluxchaos-registry exists and is not this plugin's "
                                           "registry for cluster fluxchaos"):
        other.provision()
    assert world.clusters[-1].deleted == 1  # the new cluster went with the failure


def test_teardown_of_an_allowed_foreign_cluster_removes_only_our_additions(world: SimpleNamespace) -> None:
    b, runner, kube = world.backend, world.runner, world.kube
    deleted_cms: list[tuple[str, str]] = []
    kube.core.delete_namespaced_config_map = lambda name, ns, **_kw: deleted_cms.append((ns, name))
    deleted_ns: list[str] = []
    kube.core.delete_namespace = lambda name, **_kw: deleted_ns.append(name)
    kube.core.list_namespaced_pod = lambda *_a, **_kw: SimpleNamespace(items=[])
    kube.rbac = SimpleNamespace(list_cluster_role_binding=lambda **_kw: SimpleNamespace(items=[]))
    kube.image_api_version = lambda _p: "v1"
    kube.custom = SimpleNamespace(list_namespaced_custom_object=lambda *_a, **_kw: {"items": []})
    b.plan, b.kind_path = ClusterPlan("foreign", "fluxchaos", False), Path(world.kind)  # preflight's verdict
    b.allow_cluster = "fluxchaos"
    b.provision()
    b.pod_view.track("v1", "app=image-reflector-controller")
    b.teardown()
    assert world.clusters[0].deleted == 0  # never deleted
    assert (world.tmp_path / ".pytest-kind" / "fluxchaos" / "kubeconfig").exists()  # theirs: kept
    assert deleted_ns == ["v1"] and deleted_cms == [("kube-public", "local-registry-hosting")]
    assert ["docker", "exec", NODE, "rm", "-rf", "/etc/containerd/certs.d/fluxchaos-registry:5000",
            "/etc/containerd/certs.d/localhost:45678"] in runner.calls
    assert ["docker", "rm", "-f", "-v", "fluxchaos-registry"] in runner.calls  # we started it
    assert ["docker", "rm", "-f", "-v", "fluxchaos-registry-server"] in runner.calls
    assert ["docker", "rm", "-f", "-v", "fluxchaos-git"] in runner.calls  # we started it
    assert not any(o["metadata"]["name"] == OWNER_CONFIGMAP for o in kube.applied)  # no marker on theirs


def test_nodes_that_never_get_ready_fail_provisioning(world: SimpleNamespace) -> None:
    b, kube = world.backend, world.kube
    b.ready_timeout = 0.5
    kube.core.list_node = lambda **_kw: SimpleNamespace(items=[SimpleNamespace(status=SimpleNamespace(
        conditions=[SimpleNamespace(type="Ready", status="False")]))])
    with pytest.raises(BackendError, match=r"^timed out after 0.5s waiting for the nodes of fluxchaos to be Ready"):
        b.provision()
    assert world.clusters[0].deleted == 1
    assert not any(c[:2] == ["docker", "run"] for c in world.runner.calls)  # stopped before the registry


def test_a_stranger_named_like_the_proxy_is_refused_never_removed(world: SimpleNamespace) -> None:
    b, runner = world.backend, world.runner
    runner.add(["docker", "inspect", "--type", "container", "-f", LABEL, "fluxchaos-proxy"], ok("\n"))
    with pytest.raises(BackendError, match="^a container named fluxchaos-proxy exists and is not this plugin's "
                                           "fault proxy for cluster fluxchaos"):
        b.provision()
    assert not any(c[:2] == ["docker", "rm"] and c[-1] == "fluxchaos-proxy" for c in runner.calls)
    assert world.clusters[0].deleted == 1  # the new cluster went with the failure


def test_a_proxy_kept_by_an_earlier_session_of_this_cluster_is_replaced(world: SimpleNamespace) -> None:
    b, runner = world.backend, world.runner
    runner.add(["docker", "inspect", "--type", "container", "-f", LABEL, "fluxchaos-proxy"], ok("fluxchaos\n"))
    b.provision()
    removed = [i for i, c in enumerate(runner.calls) if c == ["docker", "rm", "-f", "-v", "fluxchaos-proxy"]]
    started = [i for i, c in enumerate(runner.calls) if c[:5] == ["docker", "run", "-d", "--name", "fluxchaos-proxy"]]
    assert removed and started and removed[0] < started[0]
    b.teardown()
