"""The kind backend's provisioning against real Docker and a real kube-apiserver.

No kind node image can run on the project's machines, so ``kind`` itself is replaced
by a script that "creates a cluster" the way kind does from the outside: a node
container named ``<cluster>-control-plane`` and a kubeconfig. The kubeconfig points
at the docker backend's real kube-apiserver (the session environment, shared with the
other docker-marked tests), where the test registers a Ready Node and the CoreDNS and
local-path Deployments the backend waits for. Everything else is real:
pytest-kind's ``KindCluster.create``/``delete``, the ownership ConfigMap and the
foreign-cluster guard, the registry container on the node's network with containerd
``certs.d`` files written into the node by ``docker exec``, the KEP-1755 ConfigMap,
server-side apply of the CRDs, RBAC and the rendered Deployment + PVC, registry
stop/start, keep/reuse, and teardown leaving nothing behind. Only the kubelet is missing,
so the wait for a Ready controller pod ends in the backend's diagnosis.
"""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest
from realenv import FLUX_VERSION, require_assets

from pytest_fluxchaos.domain import BackendError, InstallRequest
from pytest_fluxchaos.backends.kind import ForeignClusterError, KindBackend, KindOptions
from pytest_fluxchaos.backends.kind.guard import OWNER_CONFIGMAP
from pytest_fluxchaos.variants import render, resolve

pytestmark = pytest.mark.docker

NODE_BASE = "fluxchaos/debian:bookworm"

FAKE_KIND = r"""#!/bin/sh
# A stand-in for kind: node containers + a kubeconfig of an existing API server.
state="$FAKE_KIND_STATE"; mkdir -p "$state"
echo "kind $*" >> "$state/calls.log"
cmd="$1 ${2:-}"; if [ $# -ge 2 ]; then shift 2; else shift $#; fi
name=kind; kubeconfig=""; image=""
while [ $# -gt 0 ]; do
  case "$1" in
    --name=*) name="${1#--name=}" ;;
    --name|-n) name="$2"; shift ;;
    --kubeconfig=*) kubeconfig="${1#--kubeconfig=}" ;;
    --image=*) image="${1#--image=}" ;;
    --config) shift ;;
    *) last="$1" ;;
  esac
  shift
done
case "$cmd" in
  "version "*|"version") echo "kind v0.30.0 go1.26.8 linux/amd64" ;;
  "get clusters") ls "$state/clusters" 2>/dev/null || echo "No kind clusters found." >&2 ;;
  "get kubeconfig") [ -f "$state/clusters/$name" ] || { echo "ERROR: no cluster $name" >&2; exit 1; }
                    cat "$FAKE_KIND_KUBECONFIG" ;;
  "get nodes") [ -f "$state/clusters/$name" ] && echo "$name-control-plane" ;;
  "create cluster")
    docker run -d --name "$name-control-plane" --label io.fluxchaos.fake-kind=true \
      "$FAKE_KIND_NODE_IMAGE" sleep infinity >/dev/null || exit 1
    mkdir -p "$state/clusters"; echo "$image" > "$state/clusters/$name"
    [ -n "$kubeconfig" ] && cat "$FAKE_KIND_KUBECONFIG" > "$kubeconfig"
    echo "Creating cluster \"$name\" ..." >&2 ;;
  "delete cluster") docker rm -f "$name-control-plane" >/dev/null 2>&1; rm -f "$state/clusters/$name" ;;
  "load docker-image") echo "loaded $last into $name" >> "$state/loaded.log" ;;
  *) echo "fake kind: unsupported $cmd" >&2; exit 2 ;;
esac
"""


def _docker(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def env(fluxchaos_session: Any) -> Any:
    require_assets(FLUX_VERSION)  # the set includes the node base image (built with it)
    inspect = _docker("image", "inspect", NODE_BASE)
    assert inspect.returncode == 0, f"{NODE_BASE} missing from a built asset set: {inspect.stderr}"
    return fluxchaos_session.environment(FLUX_VERSION, backend="docker")


@pytest.fixture(scope="module")
def cluster_objects(env: Any) -> None:
    """What a kind cluster has and the backend waits for: a Ready node, CoreDNS, local-path."""
    from kubernetes import client as k8s
    from kubernetes.client.exceptions import ApiException

    api = env.kube.api_client
    core, apps = k8s.CoreV1Api(api), k8s.AppsV1Api(api)
    node = "fluxchaos-fake-node"
    try:
        core.create_node({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}})
    except ApiException as exc:
        if exc.status != 409:
            raise
    core.patch_node_status(node, {"status": {"conditions": [
        {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "fake"}]}})
    env.kube.ensure_namespace("local-path-storage")
    for ns, name in (("kube-system", "coredns"), ("local-path-storage", "local-path-provisioner")):
        env.kube.apply_manifest({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": name, "image": "x"}]}}}})
        apps.patch_namespaced_deployment_status(name, ns, {"status": {
            "replicas": 1, "availableReplicas": 1, "readyReplicas": 1}})


@pytest.fixture
def fake_kind(env: Any, cluster_objects: None, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    kind = tmp_path / "bin" / "kind"
    kind.parent.mkdir()
    kind.write_text(FAKE_KIND)
    kind.chmod(0o755)
    state = tmp_path / "state"
    monkeypatch.setenv("FAKE_KIND_STATE", str(state))
    monkeypatch.setenv("FAKE_KIND_KUBECONFIG", str(env.backend.kubeconfig_path))
    monkeypatch.setenv("FAKE_KIND_NODE_IMAGE", NODE_BASE)
    monkeypatch.chdir(tmp_path)  # pytest-kind's .pytest-kind/<name> goes here
    return kind, state


def _backend(env: Any, kind: Path, name: str, **kw: Any) -> KindBackend:
    assets = env.backend.assets
    options = KindOptions(cluster_name=name, kind_bin=kind, node_image=NODE_BASE)
    return KindBackend(assets, options, offline=True, install_timeout=3, ready_timeout=30, **kw)


def _leftovers(name: str) -> list[str]:
    out = _docker("ps", "-a", "--format", "{{.Names}}").stdout.split()
    return [c for c in out if c.startswith(name)]


def test_provision_install_faults_and_teardown(env: Any, fake_kind: tuple[Path, Path]) -> None:
    kind, state = fake_kind
    name = f"fcfake-{secrets.token_hex(2)}"
    lines: list[str] = []
    b = _backend(env, kind, name)
    try:
        b.provision(lines.append)
        node = f"{name}-control-plane"
        assert b.plan.action == "create" and b.nodes == [node]
        assert any(line.startswith(f"kind: creating cluster {name}") for line in lines)
        # pytest-kind made the cluster with the pinned image and our kind-config.
        calls = (state / "calls.log").read_text()
        assert f"kind create cluster --name={name}" in calls and f"--image={NODE_BASE}" in calls
        assert "--config" in calls
        # Ownership marker.
        cm = b.kube.core.read_namespaced_config_map(OWNER_CONFIGMAP, "kube-system")
        assert cm.data["cluster"] == name and cm.data["createdBy"] == "pytest-fluxchaos"
        # Registry: running, answering, wired into the node's containerd config dir.
        reg = b.registry()
        assert reg.cluster_host == f"{name}-proxy:5000" and reg.insecure  # the controllers' way in
        assert b.registry_direct().cluster_host == f"{name}-registry:5000"
        # The fault proxy: both admin APIs answer, and GET /v2/ goes through Toxiproxy and the
        # liar to the registry by Docker's DNS on the cluster's network.
        assert b.registry_proxy().enabled and b.registry_liar().boot
        assert b.registry_proxy_probe(30.0) < 5.0
        from pytest_fluxchaos.registry import RegistryClient

        with RegistryClient(reg.host_url) as client:
            assert client.is_up()
        hosts = _docker("exec", node, "cat", f"/etc/containerd/certs.d/{name}-registry:5000/hosts.toml")
        assert hosts.returncode == 0 and f'[host."http://{name}-registry:5000"]' in hosts.stdout
        local = _docker("exec", node, "cat", f"/etc/containerd/certs.d/localhost:{b.registry_port}/hosts.toml")
        assert local.returncode == 0
        hosting = b.kube.core.read_namespaced_config_map("local-registry-hosting", "kube-public")
        assert f"localhost:{b.registry_port}" in hosting.data["localRegistryHosting.v1"]
        # The controller image went through `kind load docker-image`.
        assert f"loaded {env.backend.assets.irc_image} into {name}" in (state / "loaded.log").read_text()

        # Install a variant: RBAC, PVC and Deployment applied for real; no kubelet, so the
        # wait for a Ready pod ends in a one-line diagnosis.
        ns = f"fc-kindfake-{secrets.token_hex(2)}"
        upstream = env.upstream_deployment()
        deployment, pvc = render(upstream, resolve("single-pvc"), namespace=ns, image=b.irc_image)
        with pytest.raises(BackendError, match=rf"image-reflector-controller in {ns} not ready: timed out"):
            b.install_flux(InstallRequest(namespace=ns, deployment=deployment, irc_version="v1.2.4"),
                           lines.append, extra_objects=[pvc])
        from kubernetes import client as k8s

        stored = k8s.AppsV1Api(b.kube.api_client).read_namespaced_deployment("image-reflector-controller", ns)
        assert stored.spec.template.spec.containers[0].image == b.irc_image
        assert stored.spec.template.spec.service_account_name == "image-reflector-controller"
        assert b.kube.core.read_namespaced_persistent_volume_claim(pvc["metadata"]["name"], ns)
        assert b.kube.rbac.read_cluster_role_binding(f"image-reflector-manager-role-{ns}")
        assert b.pods(ns) == []

        # The registry primitives: really down, then really back (start waits for it).
        b.stop_registry()
        with RegistryClient(reg.host_url) as client:
            assert not client.is_up()
        # The fake node has no CoreDNS to resolve through: the in-cluster half of the heal
        # (start_registry's wait_in_cluster) runs on a real cluster in test_kind_real_faults.
        b.registry_container.start()
        with RegistryClient(reg.host_url) as client:
            assert client.is_up()
        b.uninstall(ns)
    finally:
        b.teardown()
    assert _leftovers(name) == []
    assert not (state / "clusters" / name).exists()
    assert "kind delete cluster" in (state / "calls.log").read_text()
    assert not Path(".pytest-kind").exists()  # pytest-kind's empty work dir removed


def test_keep_then_reuse_then_foreign_refusal(env: Any, fake_kind: tuple[Path, Path]) -> None:
    kind, state = fake_kind
    name = f"fcfake-{secrets.token_hex(2)}"
    first = _backend(env, kind, name, keep=True)
    second = third = None
    try:
        first.provision()
        port = first.registry_port
        first.teardown()
        assert (state / "clusters" / name).exists() and _leftovers(name)  # kept
        second = _backend(env, kind, name)
        second.provision()
        assert second.plan.action == "reuse" and second.registry_port == port
        second.teardown()  # a plugin-made cluster, not kept this time: deleted
        assert _leftovers(name) == [] and not (state / "clusters" / name).exists()

        # Someone else's cluster of that name (no ownership marker): refused, untouched.
        subprocess.run([str(kind), "create", "cluster", f"--name={name}"], check=True, capture_output=True)
        env.kube.core.delete_namespaced_config_map(OWNER_CONFIGMAP, "kube-system")
        third = _backend(env, kind, name)
        with pytest.raises(ForeignClusterError, match=f"kind cluster '{name}' already exists"):
            third.provision()
        assert (state / "clusters" / name).exists()  # not deleted by the refusal
        assert _leftovers(name) == [f"{name}-control-plane"]  # no registry was started
    finally:
        for b in (first, second, third):
            if b is not None:
                b.keep = False
        subprocess.run([str(kind), "delete", "cluster", f"--name={name}"], capture_output=True)
        _docker("rm", "-f", "-v", f"{name}-registry-server", f"{name}-registry")  # with its volume
