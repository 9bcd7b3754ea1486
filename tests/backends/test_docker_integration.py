"""The docker backend end to end: real etcd, kube-apiserver, registry and IRC images.

Skipped when Docker is unreachable (conftest) or when the images are not built yet
(``python -m pytest_fluxchaos.assets build``; set ``FLUXCHAOS_TEST_BUILD_ASSETS=1`` to
let the tests build them). Timings are printed (``-s``) and kept in
``backend.timings``.
"""

from __future__ import annotations

import copy
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml
from realenv import FLUX_VERSION, require_assets, run_leftovers

from pytest_fluxchaos.backends.base import Backend
from pytest_fluxchaos.domain import BackendError, InstallRequest
from pytest_fluxchaos.backends.docker import BackoffPolicy, DockerBackend, gc
from pytest_fluxchaos.backends.docker.supervisor import LABEL_MANAGED, LABEL_RUN

pytestmark = pytest.mark.docker

FAST_ELECTION = [
    "--leader-election-lease-duration=8s",
    "--leader-election-renew-deadline=5s",
    "--leader-election-retry-period=1s",
]


def _docker() -> docker.DockerClient:
    return docker.from_env()


def _deployment(assets: Any, replicas: int, *, shared_data: bool = False, memory: str | None = None) -> dict:
    dep = yaml.safe_load((Path(assets.manifests_dir) / "deployment.yaml").read_text())
    dep = copy.deepcopy(dep)
    dep["spec"]["replicas"] = replicas
    spec = dep["spec"]["template"]["spec"]
    spec["serviceAccountName"] = "image-reflector-controller"
    c = spec["containers"][0]
    c["image"] = assets.irc_image
    args = [a for a in c.get("args", []) if not a.startswith("--watch-all-namespaces")]
    c["args"] = args + ["--watch-all-namespaces=false"] + FAST_ELECTION
    if memory:
        c.setdefault("resources", {}).setdefault("limits", {})["memory"] = memory
    if shared_data:
        spec["volumes"] = [v for v in spec.get("volumes", []) if v["name"] != "data"] + [
            {"name": "data", "persistentVolumeClaim": {"claimName": "irc-data"}}
        ]
    return dep


def _report(label: str, value: float) -> None:
    print(f"\n[measure] {label}: {value:.2f}s")


@pytest.fixture(scope="module")
def assets() -> Any:
    return require_assets(FLUX_VERSION)


@pytest.fixture(scope="module")
def backend(assets: Any):
    b = DockerBackend(assets, backoff=BackoffPolicy(initial=1.0, maximum=4.0))
    t0 = time.monotonic()
    try:
        b.provision(lambda m: print(m))
        b.timings["t0"] = t0
        yield b
    finally:
        run_id = b.run_id
        b.teardown()
        assert run_leftovers(run_id) == {"containers": [], "networks": [], "volumes": []}


@pytest.fixture(scope="module")
def ha(backend: DockerBackend, assets: Any) -> str:
    ns = "ha-emptydir"
    t0 = time.monotonic()
    backend.install_flux(
        InstallRequest(namespace=ns, deployment=_deployment(assets, 2), irc_version=assets.irc_version),
        lambda m: print(m),
    )
    _report("install_flux (2 replicas) -> ready + lease held", time.monotonic() - t0)
    _report("nothing -> IRC Ready (provision + install)", time.monotonic() - backend.timings["t0"])
    return ns


def _running(backend: DockerBackend, ns: str):
    return [p for p in backend.pods(ns) if p.state == "running"]


def _wait(pred, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


# --------------------------------------------------------------------------------------


def test_protocol(backend: DockerBackend) -> None:
    assert isinstance(backend, Backend)
    assert backend.name == "docker"


def test_control_plane(backend: DockerBackend) -> None:
    assert backend.kube.readyz()
    access = backend.cluster()
    cfg = yaml.safe_load(access.kubeconfig.read_text())
    server = cfg["clusters"][0]["cluster"]["server"]
    assert server.startswith("https://127.0.0.1:")
    _report("provision (network, etcd, apiserver /readyz, registry)", backend.timings["provision_s"])
    # Published ports only on loopback.
    client = _docker()
    for c in client.containers.list(filters={"label": f"{LABEL_RUN}={backend.run_id}"}):
        for bindings in (c.attrs["HostConfig"].get("PortBindings") or {}).values():
            for b in bindings or []:
                assert b["HostIp"] == "127.0.0.1", (c.name, b)
        assert c.labels[LABEL_MANAGED] == "true"
        assert c.name.startswith(f"fluxchaos-{backend.run_id}-")
    client.close()


def test_registry(backend: DockerBackend) -> None:
    reg = backend.registry()
    # Controllers reach the registry through its fault proxy; the plugin pushes directly.
    assert reg.insecure and reg.cluster_host == f"fluxchaos-{backend.run_id}-proxy:5000"
    assert backend.registry_direct().cluster_host == f"fluxchaos-{backend.run_id}-registry:5000"
    assert reg.host_url == backend.registry_direct().host_url
    with urllib.request.urlopen(reg.host_url + "/v2/", timeout=5) as resp:
        assert resp.status == 200


def test_install_ha_and_lease(backend: DockerBackend, ha: str) -> None:
    pods = backend.pods(ha)
    assert len(pods) == 2
    assert all(p.state == "running" and p.restart_count == 0 for p in pods)
    names = {p.name for p in pods}
    for p in pods:
        assert p.name.startswith("image-reflector-controller-")
        assert len(p.name.split("-")[-1]) == 5
    lease = backend.kube.wait_lease_holder(ha, timeout=30)
    assert lease.holder_pod in names
    # The container really is pod-like.
    client = _docker()
    c = client.containers.get(pods[0].container_id)
    hc = c.attrs["HostConfig"]
    assert c.attrs["Config"]["Hostname"] == pods[0].name
    assert hc["ReadonlyRootfs"] is True
    assert hc["Memory"] == 2**30 and hc["MemorySwap"] == 2**30
    assert hc["RestartPolicy"]["Name"] in ("", "no")
    assert c.attrs["Config"]["User"].startswith("65534")
    env = dict(e.split("=", 1) for e in c.attrs["Config"]["Env"])
    assert env["RUNTIME_NAMESPACE"] == ha
    client.close()


def _push_tag(host_url: str, repo: str, tag: str) -> str:
    """Push a tiny OCI image (config blob, no layers) with plain HTTP; returns its digest."""
    import hashlib

    def put_blob(data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        req = urllib.request.Request(f"{host_url}/v2/{repo}/blobs/uploads/", method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            location = resp.headers["Location"]
        if location.startswith("/"):
            location = host_url + location
        sep = "&" if "?" in location else "?"
        req = urllib.request.Request(f"{location}{sep}digest={digest}", data=data, method="PUT",
                                     headers={"Content-Type": "application/octet-stream"})
        urllib.request.urlopen(req, timeout=10).close()
        return digest

    config = json.dumps({"architecture": "amd64", "os": "linux", "tag": tag}).encode()
    cdigest = put_blob(config)
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdigest, "size": len(config)},
        "layers": [],
    }).encode()
    req = urllib.request.Request(f"{host_url}/v2/{repo}/manifests/{tag}", data=manifest, method="PUT",
                                 headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.headers.get("Docker-Content-Digest", "")


def test_controller_scans_the_registry(backend: DockerBackend, ha: str) -> None:
    reg = backend.registry()
    for tag in ("1.0.0", "1.1.0", "1.0.5"):
        _push_tag(reg.host_url, "app", tag)
    kube = backend.kube
    assert kube.image_api_version() == "v1"
    t0 = time.monotonic()
    kube.create_image_repository(ha, "app", f"{reg.cluster_host}/app", interval="1m", insecure=reg.insecure)
    kube.create_image_policy(ha, "app", "app", {"semver": {"range": ">=1.0.0"}})
    repo = kube.wait_image_ready("ImageRepository", ha, "app", timeout=60)
    assert repo["status"]["lastScanResult"]["tagCount"] == 3
    pol = kube.wait_image_ready("ImagePolicy", ha, "app", timeout=60)
    assert kube.latest_tag(pol) == "1.1.0"
    _report("ImageRepository+ImagePolicy created -> policy Ready", time.monotonic() - t0)


def _new_lease_holder(backend: DockerBackend, ns: str, old_identity: str, timeout: float = 40):
    def check():
        lease = backend.kube.get_lease(ns)
        return lease if lease and lease.holder_identity and lease.holder_identity != old_identity else None

    return _wait(check, timeout, "a new Lease holder")


def test_kube_adapter(backend: DockerBackend, ha: str) -> None:
    kube = backend.kube
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "probe"}, "data": {"a": "1"}}
    kube.apply_manifest(cm, namespace=ha, dry_run=True)
    assert kube.delete("v1", "ConfigMap", "probe", ha) is False  # dry run created nothing
    out = kube.apply_manifest(cm, namespace=ha)
    assert out[0]["data"] == {"a": "1"}
    managers = {m["manager"] for m in out[0]["metadata"]["managedFields"]}
    assert "fluxchaos" in managers
    cm["data"] = {"a": "2"}
    assert kube.apply_manifest(cm, namespace=ha, server_side=False)[0]["data"] == {"a": "2"}
    assert kube.delete("v1", "ConfigMap", "probe", ha) is True
    # lease-delete: the Lease comes back, held by one of the pods.
    old = kube.wait_lease_holder(ha, timeout=30)
    assert kube.delete_lease(ha) is True
    back = kube.wait_lease_holder(ha, timeout=30)
    assert back.holder_pod in {p.name for p in backend.pods(ha)}
    assert back.resource_version != old.resource_version
    assert kube.delete_lease("no-such-namespace") is False


def test_kill_leader_is_not_oom(backend: DockerBackend, ha: str) -> None:
    lease = backend.kube.wait_lease_holder(ha, timeout=30)
    leader = lease.holder_pod
    before = {p.name: p for p in backend.pods(ha)}[leader]
    killed = backend.signal_container(ha, leader, "KILL")
    assert killed == before.container_id
    after = _wait(
        lambda: next((p for p in backend.pods(ha) if p.name == leader and p.container_id != killed
                      and p.state == "running"), None),
        30, "the killed pod to restart",
    )
    assert after.restart_count == before.restart_count + 1
    assert (after.reason, after.exit_code, after.oom_killed) == ("Error", 137, False)
    # SIGKILL does not release the Lease: someone takes it over after it expires.
    t0 = time.monotonic()
    new = _new_lease_holder(backend, ha, lease.holder_identity)
    assert new.holder_pod in {p.name for p in backend.pods(ha)}
    _report(f"SIGKILL of the leader -> new Lease holder ({new.holder_pod == leader and 'same pod' or 'other pod'})",
            time.monotonic() - t0)


def test_oom_kill(backend: DockerBackend, ha: str, assets: Any) -> None:
    """The oom-kill fault module on the docker backend's primitives: a real kernel OOM kill."""
    from pytest_fluxchaos.backends.kube_environment import KubeEnvironment
    from pytest_fluxchaos.faults import FaultContext, get
    from pytest_fluxchaos.history import History
    from pytest_fluxchaos.scenario import FaultAction

    lease = backend.kube.wait_lease_holder(ha, timeout=30)
    env = KubeEnvironment(backend, irc_version=assets.irc_version, flux_version=assets.flux_version,
                          manifests_dir=assets.manifests_dir)
    ctx = FaultContext(env, ha, History(), FaultAction(kind="oom-kill", confirm_timeout=60), lease.holder_pod)
    oom = get("oom-kill")
    t0 = time.monotonic()
    before = oom.before(ctx)
    evidence = oom.inject(ctx, before)
    after = oom.after(ctx, before, evidence)
    verdict = oom.confirm(before, after, evidence)
    elapsed = time.monotonic() - t0
    print("\n[evidence]", evidence, "\n[verdict]", verdict)
    assert verdict.outcome == "ok", verdict
    assert verdict.facts["oom_confirmed_by"] in ("runtime", "cgroup-counter")
    assert (after.reason, after.exit_code, after.oom_killed, after.state) == ("OOMKilled", 137, True, "running")
    assert after.container_id != before.container_id
    assert after.restart_count == before.restart_count + 1
    report = evidence.report
    assert report.victim == "controller" and (report.kernel_oom_kills or 0) >= 1
    assert report.cgroup and before.container_id in report.cgroup
    new = _new_lease_holder(backend, ha, lease.holder_identity)
    assert new.holder_pod in {p.name for p in backend.pods(ha)}
    # The helper is gone.
    assert not [c for c in run_leftovers(backend.run_id)["containers"] if "-helper-" in c]
    _report("oom_kill: inject -> exit observed (OOMKilled)", evidence.exit_detected_s or 0.0)
    _report("oom_kill: inject -> restart confirmed", elapsed)


def test_delete_pod_gets_fresh_data(backend: DockerBackend, ha: str) -> None:
    client = _docker()
    old = backend.pods(ha)[1]
    rec = backend.pod_record(ha, old.name)
    old_data = rec.volumes["data"]
    # Leave a marker in the old pod's /data.
    client.containers.run(backend.assets.stress_image, ["sh", "-c", "touch /d/marker"], remove=True,
                          volumes={old_data: {"bind": "/d", "mode": "rw"}}, network_mode="none")
    new_name = backend.delete_pod(ha, old.name)
    assert new_name != old.name and new_name.startswith("image-reflector-controller-")
    names = [p.name for p in backend.pods(ha)]
    assert old.name not in names and new_name in names and len(names) == 2
    new = next(p for p in backend.pods(ha) if p.name == new_name)
    assert new.restart_count == 0 and new.state == "running"
    new_data = backend.pod_record(ha, new_name).volumes["data"]
    assert new_data != old_data
    assert old_data not in [v.name for v in client.volumes.list()]
    out = client.containers.run(backend.assets.stress_image, ["sh", "-c", "ls -A /d"], remove=True,
                                volumes={new_data: {"bind": "/d", "mode": "ro"}}, network_mode="none")
    assert b"marker" not in out
    client.close()


def test_registry_outage_keeps_data_and_port(backend: DockerBackend) -> None:
    reg = backend.registry()
    backend.stop_registry()
    with pytest.raises(urllib.error.URLError) as down:  # stopped: the published port is gone
        urllib.request.urlopen(reg.host_url + "/v2/", timeout=2)
    assert isinstance(down.value.reason, ConnectionRefusedError), down.value
    backend.start_registry()
    assert backend.registry() == reg
    with urllib.request.urlopen(reg.host_url + "/v2/", timeout=5) as resp:
        assert resp.status == 200


def test_ha_shared_volume_crash_loops(backend: DockerBackend, assets: Any) -> None:
    ns = "ha-shared"
    backend.install_flux(
        InstallRequest(namespace=ns, deployment=_deployment(assets, 2, shared_data=True),
                       irc_version=assets.irc_version),
        lambda m: None,
    )
    recs = [backend.pod_record(ns, p.name) for p in backend.pods(ns)]
    assert recs[0].volumes["data"] == recs[1].volumes["data"]  # one volume for the claim

    def looping():
        pods = backend.pods(ns)
        bad = [p for p in pods if p.restart_count >= 2]
        return bad if bad and any(p.state == "running" and p.restart_count == 0 for p in pods) else None

    bad = _wait(looping, 60, "the second replica to crash-loop on the Badger lock")
    assert bad[0].exit_code not in (None, 0, 137) and bad[0].reason in ("Error", "CrashLoopBackOff")
    logs = backend.logs(ns, bad[0].name, previous=True) + backend.logs(ns, bad[0].name)
    assert "lock" in logs.lower() or "badger" in logs.lower(), logs[-2000:]


def test_uninstall_and_reinstall(backend: DockerBackend, assets: Any, ha: str) -> None:
    ns = "ha-shared"
    others = {p.name: p.container_id for p in backend.pods(ha)}
    backend.uninstall(ns)
    assert backend.pods(ns) == []
    client = _docker()
    sel = [f"{LABEL_RUN}={backend.run_id}", f"io.fluxchaos.namespace={ns}"]
    assert client.containers.list(all=True, filters={"label": sel}) == []
    assert client.volumes.list(filters={"label": sel}) == []
    client.close()
    assert {p.name: p.container_id for p in backend.pods(ha)} == others  # untouched
    backend.uninstall(ns)  # idempotent
    t0 = time.monotonic()
    backend.install_flux(
        InstallRequest(namespace=ns, deployment=_deployment(assets, 1, shared_data=True),
                       irc_version=assets.irc_version),
        lambda m: None,
    )
    pods = backend.pods(ns)
    assert len(pods) == 1 and pods[0].state == "running" and pods[0].restart_count == 0
    _report("re-install into the same namespace -> ready + lease held", time.monotonic() - t0)


def test_teardown_after_exception(assets: Any) -> None:
    b = DockerBackend(assets)
    run_id = b.run_id
    with pytest.raises(RuntimeError, match="boom"):
        try:
            b.provision(lambda m: None)
            b.install_flux(
                InstallRequest(namespace="single", deployment=_deployment(assets, 1), irc_version=assets.irc_version),
                lambda m: None,
            )
            assert any(run_leftovers(run_id).values())
            raise RuntimeError("boom")
        finally:
            b.teardown()
    assert run_leftovers(run_id) == {"containers": [], "networks": [], "volumes": []}
    b.teardown()  # idempotent


def test_gc_removes_crashed_run(assets: Any) -> None:
    b = DockerBackend(assets, install_signal_handlers=False)
    b.provision(lambda m: None)
    run_id = b.run_id
    b._sup.stop()  # simulate a crashed process: nothing torn down
    removed = gc(all_runs=False, run_id=run_id)
    assert removed["containers"] and removed["networks"] and removed["volumes"]
    assert run_leftovers(run_id) == {"containers": [], "networks": [], "volumes": []}
    b.teardown()


def test_missing_image_is_actionable(assets: Any) -> None:
    import dataclasses

    broken = dataclasses.replace(assets, etcd_image="fluxchaos/etcd:does-not-exist")
    b = DockerBackend(broken)
    try:
        with pytest.raises(BackendError, match=r"python -m pytest_fluxchaos.assets build"):
            b.provision(lambda m: None)
    finally:
        b.teardown()


def test_port_in_use_is_actionable(assets: Any) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        b = DockerBackend(assets, apiserver_port=port)
        try:
            with pytest.raises(BackendError, match=rf"port 127.0.0.1:{port} is in use") as exc:
                b.provision(lambda m: None)
            assert "\n" not in str(exc.value)
        finally:
            b.teardown()
    assert run_leftovers(b.run_id) == {"containers": [], "networks": [], "volumes": []}


def test_apiserver_not_ready_shows_logs(assets: Any) -> None:
    b = DockerBackend(assets, apiserver_timeout=0.3)
    try:
        with pytest.raises(BackendError, match=r"kube-apiserver not ready within 0.3s .*last log lines: ") as exc:
            b.provision(lambda m: None)
        assert "\n" not in str(exc.value)
    finally:
        b.teardown()
    assert run_leftovers(b.run_id) == {"containers": [], "networks": [], "volumes": []}
