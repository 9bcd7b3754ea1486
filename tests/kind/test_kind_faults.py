"""Fault primitives of the kind backend against a scripted node and a fake API."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kindfakes import FakeKube, FakeRunner, fail, fake_kind, ok, pod
from pytest_fluxchaos.backends.base import BackendError
from pytest_fluxchaos.backends.kind import KindBackend, KindOptions
from pytest_fluxchaos.backends.kind.guard import ClusterPlan

NODE = "fluxchaos-control-plane"
SCOPE = "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/p/cri-containerd-c1.scope"
OOM = {"exitCode": 137, "reason": "OOMKilled", "containerID": "containerd://c1"}


CREATED = ClusterPlan("create", "fluxchaos", True)


def make(tmp_path: Path, pods: list[dict[str, Any]], runner: FakeRunner,
         plan: ClusterPlan = CREATED) -> tuple[KindBackend, FakeKube]:
    b = KindBackend(SimpleNamespace(irc_image="irc:1", registry_image="reg:1", manifests_dir=tmp_path),
                    KindOptions(kind_bin=fake_kind(tmp_path), workdir=tmp_path / "w"),
                    runner=runner, run_dir=tmp_path / "run")
    kube = FakeKube(pods)
    b._kube, b.plan, b._provisioned, b.kind_path = kube, plan, True, tmp_path / "bin" / "kind"
    b.registry_port = 41234
    return b, kube


def node_runner(helper_out: str, *, pid: int = 4242, helper_rc: int = 0) -> FakeRunner:
    return FakeRunner([
        (["docker", "exec", NODE, "crictl", "inspect", "c1"],
         ok(json.dumps({"status": {"state": "CONTAINER_RUNNING"}, "info": {"pid": pid}}))),
        (["docker", "exec", NODE, "cat", f"/proc/{pid}/cgroup"], ok(f"4:memory:{SCOPE}\n0::/\n")),
        (["docker", "exec", "-e", f"TARGET_PID={pid}"], SimpleNamespace(returncode=helper_rc, stdout=helper_out,
                                                                         stderr="")),
        (["docker", "exec", NODE, "kill"], ok()),
    ])


HELPER_OK = f"""fluxchaos: cgroup_version=1
fluxchaos: cgroup=/memory{SCOPE}
fluxchaos: limit=1073741824
fluxchaos: oom_kill_before=0
fluxchaos: hog_protected=1
fluxchaos: hog_pid=5151
fluxchaos: target_gone=1
fluxchaos: oom_kill_after=1
fluxchaos: hog_alive=1
fluxchaos: hog_killed_by_kernel=0
"""


def test_oom_kill_confirmed_from_pod_status(tmp_path: Path) -> None:
    runner = node_runner(HELPER_OK)
    b, kube = make(tmp_path, [pod("irc-a", cid="c1")], runner)

    def after_helper(_name: str) -> None:  # the kubelet restarts the container
        if any(c[:3] == ["docker", "exec", "-e"] for c in runner.calls):
            kube.core.pods["irc-a"] = pod("irc-a", cid="c2", restarts=1, last=OOM)

    kube.core.on_read = after_helper
    ev = b.oom_kill("ns", "irc-a", timeout=10)
    assert ev["confirmed"] is True, ev
    assert ev["victim"] == "controller" and ev["kernel_oom_kills"] == 1
    assert (ev["node"], ev["target_pid"], ev["container_id_before"]) == (NODE, 4242, "c1")
    assert ev["cgroup"] == ev["cgroup_expected"] == "/memory" + SCOPE
    assert ev["cgroup_dir"] == "/sys/fs/cgroup/memory" + SCOPE
    assert (ev["container_id_after"], ev["restart_count_after"], ev["reason"], ev["exit_code"]) == (
        "c2", 1, "OOMKilled", 137)
    helper = next(c for c in runner.calls if c[:3] == ["docker", "exec", "-e"])
    assert helper[:9] == ["docker", "exec", "-e", "TARGET_PID=4242", "-e", "TIMEOUT=10", "-e",
                          "CG=/sys/fs/cgroup", NODE]


def test_oom_kill_not_confirmed_when_the_hog_dies_first(tmp_path: Path) -> None:
    out = HELPER_OK.replace("target_gone=1", "target_gone=0") + "fluxchaos: error=the hog died before the target\n"
    b, _kube = make(tmp_path, [pod("irc-a", cid="c1")], node_runner(out, helper_rc=5))
    ev = b.oom_kill("ns", "irc-a", timeout=5)
    assert ev["confirmed"] is False and ev["victim"] == "hog"
    assert ev["error"] == "the hog died before the target"


def test_oom_kill_not_confirmed_without_oomkilled_reason(tmp_path: Path) -> None:
    runner = node_runner(HELPER_OK)
    b, kube = make(tmp_path, [pod("irc-a", cid="c1")], runner)
    kube.core.on_read = lambda _n: kube.core.pods.__setitem__(
        "irc-a", pod("irc-a", cid="c2", restarts=1, last={"exitCode": 137, "reason": "Error"})) if any(
        c[:3] == ["docker", "exec", "-e"] for c in runner.calls) else None
    ev = b.oom_kill("ns", "irc-a", timeout=5)
    assert ev["confirmed"] is False
    assert ev["error"] == "container ended with Error/137, not OOMKilled/137"


def test_oom_kill_reaps_a_stray_hog_when_the_helper_dies(tmp_path: Path) -> None:
    out = "fluxchaos: cgroup_version=2\nfluxchaos: hog_pid=5151\n"
    runner = node_runner(out, helper_rc=137)
    b, _kube = make(tmp_path, [pod("irc-a", cid="c1")], runner)
    ev = b.oom_kill("ns", "irc-a", timeout=5)
    assert ["docker", "exec", NODE, "kill", "-KILL", "5151"] in runner.calls
    assert ev["confirmed"] is False and ev["error"].startswith("helper exit 137")


def test_faults_need_a_running_container(tmp_path: Path) -> None:
    b, _kube = make(tmp_path, [pod("irc-a", running=False)], node_runner(""))
    with pytest.raises(BackendError, match=r"pod ns/irc-a has no running container \(waiting, CrashLoopBackOff\)"):
        b.oom_kill("ns", "irc-a", timeout=5)
    with pytest.raises(BackendError, match="no pod ns/ghost"):
        b.kill_container("ns", "ghost")


def test_kill_sends_sigkill_to_the_node_pid(tmp_path: Path) -> None:
    runner = node_runner("")
    b, _kube = make(tmp_path, [pod("irc-a", cid="c1")], runner)
    assert b.kill_container("ns", "irc-a") == "c1"
    assert runner.calls[-1] == ["docker", "exec", NODE, "kill", "-KILL", "4242"]
    runner.add(["docker", "exec", NODE, "crictl"], fail("FATA container not found"))
    with pytest.raises(BackendError, match="crictl inspect c1 on fluxchaos-control-plane"):
        b.kill_container("ns", "irc-a")


def test_freeze_and_thaw_use_containerds_task_pause(tmp_path: Path) -> None:
    runner = FakeRunner([(["docker", "exec", NODE, "ctr"], ok())])
    b, _kube = make(tmp_path, [pod("irc-a", cid="c1")], runner)
    assert b.freeze("ns", "irc-a", True) == "c1"
    assert b.freeze("ns", "irc-a", False) == "c1"
    assert runner.calls == [
        ["docker", "exec", NODE, "ctr", "--namespace", "k8s.io", "tasks", "pause", "c1"],
        ["docker", "exec", NODE, "ctr", "--namespace", "k8s.io", "tasks", "resume", "c1"],
    ]
    runner.add(["docker", "exec", NODE, "ctr"], fail("ctr: task c1 not found: not found"))
    assert b.freeze("ns", "irc-a", False) == "c1"  # thawing a gone container is fine
    with pytest.raises(BackendError, match="freezing ns/irc-a failed: ctr: task c1 not found"):
        b.freeze("ns", "irc-a", True)
    b.plan = ClusterPlan("foreign", "fluxchaos", False)
    with pytest.raises(BackendError, match="refusing"):
        b.freeze("ns", "irc-a", True)


def test_kind_backend_implements_the_backend_protocol(tmp_path: Path) -> None:
    from pytest_fluxchaos.backends.base import Backend

    b, _kube = make(tmp_path, [], FakeRunner())
    assert isinstance(b, Backend)
    missing = [m for m in dir(Backend) if not m.startswith("_") and not hasattr(b, m)]
    assert missing == []


def test_delete_pod_returns_the_replacement_in_the_same_slot(tmp_path: Path) -> None:
    a = pod("irc-a", created="2026-01-01T00:00:00Z")
    bb = pod("irc-b", created="2026-01-01T00:00:01Z")
    backend, kube = make(tmp_path, [a, bb], FakeRunner())
    assert [p.name for p in backend.pods("ns")] == ["irc-a", "irc-b"]
    kube.core.on_delete = lambda name: kube.core.pods.__setitem__(
        "irc-c", pod("irc-c", created="2026-01-01T00:09:00Z"))
    assert backend.delete_pod("ns", "irc-a") == "irc-c"
    assert kube.core.deleted == ["irc-a"]
    assert [p.name for p in backend.pods("ns")] == ["irc-c", "irc-b"]


def test_terminating_pods_are_not_listed(tmp_path: Path) -> None:
    backend, _kube = make(tmp_path, [pod("old", terminating=True), pod("new")], FakeRunner())
    assert [p.name for p in backend.pods("ns")] == ["new"]


def test_registry_outage_stops_and_starts_the_container(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = FakeRunner([(["docker", "stop"], ok()), (["docker", "start"], ok())])
    backend, _kube = make(tmp_path, [], runner)
    monkeypatch.setattr(backend, "_wait_registry", lambda: None)
    backend.registry_outage(True)
    backend.registry_outage(False)
    assert runner.calls == [["docker", "stop", "-t", "2", "fluxchaos-registry"],
                            ["docker", "start", "fluxchaos-registry"]]


def test_access_objects(tmp_path: Path) -> None:
    backend, _kube = make(tmp_path, [], FakeRunner())
    reg = backend.registry()
    assert (reg.host_url, reg.cluster_host, reg.insecure) == ("http://127.0.0.1:41234", "fluxchaos-registry:5000",
                                                              True)
    access = backend.cluster()
    assert access.kubeconfig == tmp_path / "run" / "kubeconfig" and access.context == "kind-fluxchaos"
    assert access.created_by_plugin
    backend.plan = ClusterPlan("foreign", "fluxchaos", False)
    assert not backend.cluster().created_by_plugin


def test_not_provisioned(tmp_path: Path) -> None:
    b = KindBackend(None, KindOptions(workdir=tmp_path))
    with pytest.raises(BackendError, match="not provisioned"):
        b.pods("ns")


# -- the environment factory: the guard runs before any asset work -------------------------------------


def test_factory_refuses_before_resolving_assets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pytest_fluxchaos.assets as assets
    from pytest_fluxchaos.backends.kind import ForeignClusterError, backend as backend_module
    from pytest_fluxchaos.backends.kind_environment import create_kind_environment
    from pytest_fluxchaos.settings import Settings

    from kindfakes import preflight_runner

    kind = fake_kind(tmp_path)
    monkeypatch.setattr(assets, "ensure_assets", lambda *a, **k: pytest.fail("assets resolved before the guard"))
    monkeypatch.setattr(backend_module.cmd, "Runner", lambda: preflight_runner(kind, ["theirs"], kubeconfig=None))
    settings = Settings(backend="kind", variants=None, flux_versions=["2.9.4"], artifacts=None, keep=False,
                        seed=None, timeout=None, converge=None, assets="offline", allow_cluster=None)
    lines: list[str] = []
    with pytest.raises(ForeignClusterError, match="kind cluster 'theirs' already exists"):
        create_kind_environment(settings, "2.9.4", lines.append,
                                options=KindOptions(cluster_name="theirs", kind_bin=kind, workdir=tmp_path))
    assert lines == ["kind: kind v0.30.0 go1.26.8 linux/amd64 (--kind-bin)"]


def test_factory_finds_the_pytest_config_through_the_session_progress() -> None:
    from pytest_fluxchaos.backends.kind_environment import pytest_config_of

    class Session:
        config = "the-config"

        def progress(self, message: str) -> None: ...

    assert pytest_config_of(Session().progress) == "the-config"
    assert pytest_config_of(print) is None
    assert pytest_config_of(lambda m: None) is None
