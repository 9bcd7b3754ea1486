"""A real single-node kind cluster from the offline node image, created and deleted.

Uses the kind binary and node image that ``python -m pytest_fluxchaos.assets build
--kind`` put in the asset cache (builds nothing itself) and the repository's
``kind-config.yaml`` unchanged.  Checks: the node is Ready; coredns, kube-proxy and
local-path-provisioner run; a PVC on the default StorageClass binds and a pod writes
and reads it; a pod over its 64Mi memory limit ends OOMKilled (137); ``kind delete
cluster`` leaves no container, volume or network behind.  The cluster is deleted in
the fixture's teardown whatever happens.  Prints the create and settle times.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_fixed

from pytest_fluxchaos.assets.errors import AssetError
from pytest_fluxchaos.assets.kind import KindAssets, cached_kind

pytestmark = [pytest.mark.docker, pytest.mark.kind]

REPO = Path(__file__).resolve().parents[2]
CLUSTER = "fluxchaos-smoke"
NODE = f"{CLUSTER}-control-plane"
POD_IMAGE = "docker.io/fluxchaos/debian:bookworm"  # preloaded in the node (local-path helper)


def _run(*args: str, timeout: float = 120, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), input=stdin, capture_output=True, text=True, timeout=timeout)


def kubectl(*args: str, stdin: str | None = None, timeout: float = 60) -> str:
    """kubectl inside the node (its admin kubeconfig): no host network or kubeconfig needed."""
    p = _run("docker", "exec", "-i", NODE, "kubectl", "--kubeconfig=/etc/kubernetes/admin.conf", *args,
             stdin=stdin, timeout=timeout)
    assert p.returncode == 0, f"kubectl {' '.join(args)}: {p.stdout}{p.stderr}"
    return p.stdout


def kjson(*args: str) -> dict:
    return json.loads(kubectl(*args, "-o", "json"))


def poll(seconds: float):
    """Retry an assertion every second for up to ``seconds`` (then raise its AssertionError)."""
    return retry(stop=stop_after_delay(seconds), wait=wait_fixed(1),
                 retry=retry_if_exception_type(AssertionError), reraise=True)


def _leftovers(kind: KindAssets) -> list[str]:
    out = []
    if CLUSTER in _run(str(kind.kind_bin), "get", "clusters").stdout.split():
        out.append(f"kind cluster {CLUSTER}")
    label = f"label=io.x-k8s.kind.cluster={CLUSTER}"
    out += [f"container {c}" for c in _run("docker", "ps", "-aq", "--filter", label).stdout.split()]
    out += [f"volume {v}" for v in _run("docker", "volume", "ls", "-q").stdout.split() if v in _node_volumes]
    return out


def _kind_network_exists() -> bool:
    return _run("docker", "network", "inspect", "kind").returncode == 0


_node_volumes: set[str] = set()
TIMES: dict[str, float] = {}


@pytest.fixture(scope="module")
def kind(tmp_path_factory: pytest.TempPathFactory):
    try:
        assets = cached_kind()
    except AssetError as exc:
        pytest.skip(f"kind node image not usable: {exc}")
    if assets is None:
        pytest.skip("kind binary / node image not built: run `python -m pytest_fluxchaos.assets build --kind`")
    kubeconfig = tmp_path_factory.mktemp("kind") / "kubeconfig"
    network_before = _kind_network_exists()  # kind keeps its "kind" network after delete
    _run(str(assets.kind_bin), "delete", "cluster", "--name", CLUSTER, timeout=300)  # a stale one
    t0 = time.monotonic()
    try:
        p = _run(str(assets.kind_bin), "create", "cluster", "--config", str(REPO / "kind-config.yaml"),
                 "--image", assets.node_image, "--name", CLUSTER, "--kubeconfig", str(kubeconfig),
                 "--retain", timeout=600)
        TIMES["kind create cluster"] = time.monotonic() - t0
        if p.returncode != 0:
            logs = _run("docker", "logs", "--tail", "40", NODE).stdout
            pytest.fail(f"kind create cluster failed ({p.returncode}): {p.stderr[-2000:]}\nnode log:\n{logs}")
        # Volumes belonging to the node container, to check they go with it.
        info = _run("docker", "inspect", NODE, "--format", "{{json .Mounts}}").stdout
        _node_volumes.update(m["Name"] for m in json.loads(info or "[]") if m.get("Type") == "volume")
        yield assets
    finally:
        _run(str(assets.kind_bin), "delete", "cluster", "--name", CLUSTER, "--kubeconfig", str(kubeconfig),
             timeout=300)
        if not network_before and _kind_network_exists():
            _run("docker", "network", "rm", "kind")
        print("\n[kind-node] " + ", ".join(f"{k}: {v:.1f}s" for k, v in TIMES.items()))


def test_node_ready_and_system_pods_running(kind: KindAssets) -> None:
    t0 = time.monotonic()

    @poll(180)
    def node_ready() -> None:
        node = kjson("get", "node", NODE)
        cond = {c["type"]: c["status"] for c in node["status"]["conditions"]}
        assert cond.get("Ready") == "True", cond

    node_ready()

    @poll(300)
    def all_running() -> list[dict]:
        pods = kjson("get", "pods", "-A")["items"]
        names = " ".join(p["metadata"]["name"] for p in pods)
        for want in ("coredns-", "kube-proxy-", "local-path-provisioner-", "etcd-", "kube-apiserver-",
                     "kube-controller-manager-", "kube-scheduler-"):
            assert want in names, f"no {want}* pod yet: {names}"
        bad = [f"{p['metadata']['namespace']}/{p['metadata']['name']}={p['status'].get('phase')}"
               for p in pods if p["status"].get("phase") != "Running"
               or not all(c.get("ready") for c in p["status"].get("containerStatuses", []))]
        assert not bad, f"not running/ready: {bad}"
        return pods

    pods = all_running()
    TIMES["create -> all pods Running"] = TIMES["kind create cluster"] + time.monotonic() - t0
    assert sum(p["metadata"]["name"].startswith("coredns-") for p in pods) == 2


def test_pvc_on_default_storage_class(kind: KindAssets) -> None:
    sc = kjson("get", "storageclass")["items"]
    default = [s["metadata"]["name"] for s in sc
               if s["metadata"].get("annotations", {}).get("storageclass.kubernetes.io/is-default-class") == "true"]
    assert default == ["standard"], sc
    kubectl("apply", "-f", "-", stdin=f"""
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: smoke-pvc, namespace: default}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: 16Mi}}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: smoke-writer, namespace: default}}
spec:
  restartPolicy: Never
  containers:
  - name: w
    image: {POD_IMAGE}
    imagePullPolicy: Never
    command: [sh, -c, "echo fluxchaos-pvc-ok > /data/probe && cat /data/probe"]
    volumeMounts: [{{name: d, mountPath: /data}}]
  volumes: [{{name: d, persistentVolumeClaim: {{claimName: smoke-pvc}}}}]
""")

    @poll(180)
    def done() -> None:
        pvc = kjson("get", "pvc", "smoke-pvc")
        assert pvc["status"].get("phase") == "Bound", pvc["status"]
        pod = kjson("get", "pod", "smoke-writer")
        assert pod["status"].get("phase") == "Succeeded", pod["status"]

    done()
    assert "fluxchaos-pvc-ok" in kubectl("logs", "smoke-writer")
    kubectl("delete", "pod", "smoke-writer", "--wait=true", timeout=120)
    kubectl("delete", "pvc", "smoke-pvc", "--wait=true", timeout=120)


def _kernel_oom_kills() -> int:
    """The kernel's own count of OOM kills (the node shares the host's kernel)."""
    for line in Path("/proc/vmstat").read_text().splitlines():
        if line.startswith("oom_kill "):
            return int(line.split()[1])
    raise AssertionError("/proc/vmstat has no oom_kill counter")


def test_memory_limit_oomkills(kind: KindAssets) -> None:
    kills_before = _kernel_oom_kills()
    kubectl("apply", "-f", "-", stdin=f"""
apiVersion: v1
kind: Pod
metadata: {{name: smoke-oom, namespace: default}}
spec:
  restartPolicy: Never
  containers:
  - name: hog
    image: {POD_IMAGE}
    imagePullPolicy: Never
    command: [tail, /dev/zero]
    resources: {{limits: {{memory: 64Mi}}, requests: {{memory: 64Mi}}}}
""")

    @poll(180)
    def oomkilled() -> dict:
        pod = kjson("get", "pod", "smoke-oom")
        st = (pod["status"].get("containerStatuses") or [{}])[0].get("state", {}).get("terminated")
        assert st and pod["status"].get("phase") in ("Failed", "Succeeded"), pod["status"]
        return {**st, "phase": pod["status"].get("phase")}

    st = oomkilled()
    assert st["exitCode"] == 137, st
    # containerd reports OOMKilled when its OOM event beats the exit event; under a loaded
    # CPU the exit can win and the reason reads "Error". The kernel's counter settles it.
    assert st["reason"] == "OOMKilled" or (st["reason"] == "Error"
                                           and _kernel_oom_kills() > kills_before), st
    assert st["phase"] == "Failed", st
    kubectl("delete", "pod", "smoke-oom", "--wait=true", timeout=120)


def test_kind_delete_removes_everything(kind: KindAssets) -> None:
    t0 = time.monotonic()
    p = _run(str(kind.kind_bin), "delete", "cluster", "--name", CLUSTER, timeout=300)
    TIMES["kind delete cluster"] = time.monotonic() - t0
    assert p.returncode == 0, p.stderr
    assert not _leftovers(kind)
