"""The kind backend's primitives against a scripted node and a fake API.

The backend offers primitives only (signal, freeze, container_process,
run_host_helper, delete_pod, stop/start_registry); the fault logic is
:mod:`pytest_fluxchaos.faults`'. The last tests here drive the real OOM fault through
the kind primitives, to pin the exact ``docker exec`` the node sees.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kindfakes import FakeKube, FakeRunner, fail, fake_kind, ok, pod
from pytest_fluxchaos.backends.kind import KindBackend, KindOptions
from pytest_fluxchaos.backends.kind import registry_container
from pytest_fluxchaos.backends.kind.commands import CommandTimeout, Result
from pytest_fluxchaos.backends.kind.guard import ClusterPlan
from pytest_fluxchaos.domain import BackendError, ContainerProcess, HelperResult, PodStatus, WaitTimeout

NODE = "fluxchaos-control-plane"
SCOPE = "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/p/cri-containerd-c1.scope"
OOM = {"exitCode": 137, "reason": "OOMKilled", "containerID": "containerd://c1"}
CREATED = ClusterPlan("create", "fluxchaos", True)
EXEC_ROOT = ["docker", "exec", "--user", "0"]


def make(tmp_path: Path, pods: list[dict[str, Any]], runner: FakeRunner,
         plan: ClusterPlan = CREATED) -> tuple[KindBackend, FakeKube]:
    b = KindBackend(SimpleNamespace(irc_image="irc:1", registry_image="reg:1", manifests_dir=tmp_path),
                    KindOptions(kind_bin=fake_kind(tmp_path), workdir=tmp_path / "w"),
                    runner=runner, run_dir=tmp_path / "run")
    kube = FakeKube(pods)
    b._kube, b.plan, b._provisioned, b.kind_path = kube, plan, True, tmp_path / "bin" / "kind"
    b.registry_container.port = 41234
    return b, kube


def crictl(pid: int) -> Result:
    return ok(json.dumps({"status": {"state": "CONTAINER_RUNNING"}, "info": {"pid": pid}}))


def node_runner(helper: Result | Any = None, *, pid: int = 4242) -> FakeRunner:
    return FakeRunner([
        (["docker", "exec", NODE, "crictl", "inspect", "c1"], crictl(pid)),
        (EXEC_ROOT, helper if helper is not None else ok()),
        (["docker", "exec", NODE, "kill"], ok()),
    ])


def helper_calls(runner: FakeRunner) -> list[list[str]]:
    return [c for c in runner.calls if c[:4] == EXEC_ROOT]


# -- container_process ----------------------------------------------------------------------------


def test_container_process_is_the_node_pid_from_crictl(tmp_path: Path) -> None:
    runner = node_runner(pid=4242)
    b, _kube = make(tmp_path, [pod("irc-a", cid="c1")], runner)
    assert b.container_process("ns", "irc-a") == ContainerProcess(container_id="c1", pid=4242, where=NODE)
    assert runner.calls == [["docker", "exec", NODE, "crictl", "inspect", "c1"]]


def test_container_process_needs_a_running_container(tmp_path: Path) -> None:
    runner = node_runner()
    b, kube = make(tmp_path, [pod("irc-a", running=False)], runner)
    with pytest.raises(BackendError, match=r"^pod ns/irc-a has no running container \(waiting, CrashLoopBackOff\)$"):
        b.container_process("ns", "irc-a")
    with pytest.raises(BackendError, match="^no pod ns/ghost: "):
        b.container_process("ns", "ghost")
    assert runner.calls == []  # never asked the node
    kube.core.pods["irc-a"] = pod("irc-a", cid="c1")
    runner.add(["docker", "exec", NODE, "crictl"], ok(json.dumps({"status": {"state": "CONTAINER_EXITED"},
                                                                  "info": {"pid": 0}})))
    with pytest.raises(BackendError, match=r"no running process \(crictl state CONTAINER_EXITED\)"):
        b.container_process("ns", "irc-a")
    runner.add(["docker", "exec", NODE, "crictl"], fail("FATA container not found"))
    with pytest.raises(BackendError, match="crictl inspect c1 on fluxchaos-control-plane"):
        b.container_process("ns", "irc-a")


# -- run_host_helper -------------------------------------------------------------------------------


def test_host_helper_runs_sh_as_root_in_the_pods_node_with_the_node_cgroup_root(tmp_path: Path) -> None:
    runner = node_runner(ok("fluxchaos: target_gone=1\n"))
    b, _kube = make(tmp_path, [pod("irc-a", cid="c1", node="fc-worker")], runner)
    result = b.run_host_helper("ns", "irc-a", "echo the script", {"TARGET_PID": "4242", "TIMEOUT": "10"}, 40)
    assert result == HelperResult(exit_code=0, output="fluxchaos: target_gone=1\n", error=None)
    assert runner.calls == [["docker", "exec", "--user", "0", "-e", "TARGET_PID=4242", "-e", "TIMEOUT=10",
                             "-e", "CG=/sys/fs/cgroup", "fc-worker", "sh", "-c", "echo the script"]]
    assert runner.timeouts == [40]


def test_host_helper_sets_cg_itself(tmp_path: Path) -> None:
    runner = node_runner()
    b, _kube = make(tmp_path, [pod("irc-a")], runner)
    b.run_host_helper("ns", "irc-a", "true", {"CG": "/host/cgroup", "X": "1"}, 30)
    assert runner.calls == [EXEC_ROOT + ["-e", "CG=/sys/fs/cgroup", "-e", "X=1", NODE, "sh", "-c", "true"]]


def test_host_helper_returns_a_nonzero_exit_with_stdout_then_stderr(tmp_path: Path) -> None:
    runner = node_runner(Result([], 5, "fluxchaos: error=the hog died before the target\n", "sh: warn\n"))
    b, _kube = make(tmp_path, [pod("irc-a")], runner)
    assert b.run_host_helper("ns", "irc-a", "exit 5", {}, 30) == HelperResult(
        exit_code=5, output="fluxchaos: error=the hog died before the target\nsh: warn\n", error=None)


def test_host_helper_reports_a_failed_docker_exec_in_error(tmp_path: Path) -> None:
    gone = "Error response from daemon: container 9f3e is not running\n"
    runner = node_runner(Result([], 1, "", gone))
    b, _kube = make(tmp_path, [pod("irc-a")], runner)
    assert b.run_host_helper("ns", "irc-a", "true", {}, 30) == HelperResult(
        exit_code=1, output=gone,
        error=f"docker exec on {NODE} failed (exit 1): Error response from daemon: container 9f3e is not running")
    runner.add(EXEC_ROOT, Result([], 126, "", "OCI runtime exec failed: sh: permission denied\n"))
    res = b.run_host_helper("ns", "irc-a", "true", {}, 30)
    assert (res.exit_code, res.error) == (126, f"docker exec on {NODE} failed (exit 126): OCI runtime exec "
                                                "failed: sh: permission denied")


def test_host_helper_timeout_keeps_the_partial_output(tmp_path: Path) -> None:
    def too_slow(_args: list[str], _input: str | None) -> Result:
        raise CommandTimeout(f"`host helper on {NODE}` did not finish within 40s", "fluxchaos: hog_pid=5151\n")

    runner = node_runner(too_slow)
    b, _kube = make(tmp_path, [pod("irc-a")], runner)
    assert b.run_host_helper("ns", "irc-a", "sleep 99", {}, 40) == HelperResult(
        exit_code=None, output="fluxchaos: hog_pid=5151\n",
        error=f"`host helper on {NODE}` did not finish within 40s")
    runner.add(EXEC_ROOT, lambda _a, _i: (_ for _ in ()).throw(BackendError("`docker` not found; install Docker")))
    assert b.run_host_helper("ns", "irc-a", "true", {}, 40) == HelperResult(
        exit_code=None, output="", error="`docker` not found; install Docker")


def test_host_helper_runs_beside_a_pod_that_is_not_running(tmp_path: Path) -> None:
    """The OOM fault reaps a stray hog while the controller is restarting."""
    runner = node_runner()
    b, kube = make(tmp_path, [pod("irc-a", running=False)], runner)
    assert b.run_host_helper("ns", "irc-a", "kill", {"HOG_PID": "5151"}, 30).exit_code == 0
    assert runner.calls[0][-4:] == [NODE, "sh", "-c", "kill"]
    kube.core.pods["irc-a"]["spec"] = {}
    with pytest.raises(BackendError, match="^pod ns/irc-a is not scheduled on a node$"):
        b.run_host_helper("ns", "irc-a", "true", {}, 30)


# -- signal and freeze -------------------------------------------------------------------------------


def test_signal_kills_the_node_pid(tmp_path: Path) -> None:
    runner = node_runner(pid=4242)
    b, _kube = make(tmp_path, [pod("irc-a", cid="c1")], runner)
    assert b.signal_container("ns", "irc-a") == "c1"
    assert runner.calls[-1] == ["docker", "exec", NODE, "kill", "-KILL", "4242"]
    assert b.signal_container("ns", "irc-a", "TERM") == "c1"
    assert runner.calls[-1] == ["docker", "exec", NODE, "kill", "-TERM", "4242"]
    runner.add(["docker", "exec", NODE, "kill"], fail("kill: (4242) - No such process"))
    with pytest.raises(BackendError, match="kill -KILL 4242 on fluxchaos-control-plane"):
        b.signal_container("ns", "irc-a")


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
    # Seen on a real kubelet: the liveness probe failed while frozen, the kubelet restarted
    # the container, and the pod's current container is a new, running one.
    runner.add(["docker", "exec", NODE, "ctr"], fail("ctr: cannot resume a running process"))
    assert b.freeze("ns", "irc-a", False) == "c1"
    # Seen in CI under CPU load: the kubelet killed the frozen container and had not yet
    # started its replacement when the thaw came.
    runner.add(["docker", "exec", NODE, "ctr"], fail("ctr: cannot resume a stopped container"))
    assert b.freeze("ns", "irc-a", False) == "c1"
    runner.add(["docker", "exec", NODE, "ctr"], fail("ctr: task c1 not found: not found"))
    with pytest.raises(BackendError, match="^freezing ns/irc-a failed: ctr: task c1 not found: not found$"):
        b.freeze("ns", "irc-a", True)
    runner.add(["docker", "exec", NODE, "ctr"], fail("ctr: connection refused"))
    with pytest.raises(BackendError, match="^thawing ns/irc-a failed: ctr: connection refused$"):
        b.freeze("ns", "irc-a", False)


# -- delete_pod -------------------------------------------------------------------------------------------


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


def test_replacements_take_the_deleted_pods_slot_even_unobserved(tmp_path: Path) -> None:
    """Two deletions before anyone lists: creation order alone would swap the slots."""
    backend, kube = make(tmp_path, [pod("irc-a", created="2026-01-01T00:00:00Z"),
                                    pod("irc-b", created="2026-01-01T00:00:01Z")], FakeRunner())
    assert [p.name for p in backend.pods("ns")] == ["irc-a", "irc-b"]
    replacements = {"irc-b": ("irc-c", "2026-01-01T00:09:00Z"), "irc-a": ("irc-d", "2026-01-01T00:10:00Z")}
    kube.core.on_delete = lambda name: kube.core.pods.__setitem__(
        replacements[name][0], pod(replacements[name][0], created=replacements[name][1]))
    assert backend.delete_pod("ns", "irc-b") == "irc-c"
    assert backend.delete_pod("ns", "irc-a") == "irc-d"
    assert [p.name for p in backend.pods("ns")] == ["irc-d", "irc-c"]


def test_delete_pod_without_a_replacement_times_out(tmp_path: Path) -> None:
    backend, kube = make(tmp_path, [pod("irc-a")], FakeRunner())
    backend.primitives.replacement_timeout = 0.6
    with pytest.raises(WaitTimeout, match=r"^timed out after 0.6s waiting for a replacement for pod ns/irc-a"):
        backend.delete_pod("ns", "irc-a")
    assert kube.core.deleted == ["irc-a"]


def test_terminating_pods_are_not_listed(tmp_path: Path) -> None:
    backend, _kube = make(tmp_path, [pod("old", terminating=True), pod("new")], FakeRunner())
    assert [p.name for p in backend.pods("ns")] == ["new"]


# -- the registry ---------------------------------------------------------------------------------------


def test_stop_registry_stops_and_start_registry_starts_then_waits(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[tuple[str, float]] = []
    monkeypatch.setattr(registry_container, "wait_registry",
                        lambda url, timeout, **_kw: waits.append((url, timeout)))
    in_cluster: list[list[str]] = []
    monkeypatch.setattr(registry_container.RegistryContainer, "wait_in_cluster",
                        lambda self, nodes, kube: in_cluster.append(nodes))
    runner = FakeRunner([(["docker", "stop"], ok()), (["docker", "start"], ok())])
    backend, _kube = make(tmp_path, [], runner)
    backend.nodes = [NODE]
    backend.stop_registry()  # the server stops; the holder keeps the name and the IP
    assert (runner.calls, waits) == ([["docker", "stop", "-t", "2", "fluxchaos-registry-server"]], [])
    backend.start_registry()
    assert runner.calls[1:] == [["docker", "start", "fluxchaos-registry-server"]]
    assert waits == [("http://127.0.0.1:41234", 30.0)]
    assert in_cluster == [[NODE]]  # and then from inside the cluster


def test_start_registry_fails_when_it_does_not_answer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def never(url: str, timeout: float, **_kw: Any) -> None:
        raise BackendError(f"the registry did not answer {url}/v2/ within {timeout:g}s; last log lines: x")

    monkeypatch.setattr(registry_container, "wait_registry", never)
    runner = FakeRunner([(["docker", "start"], ok())])
    backend, _kube = make(tmp_path, [], runner)
    with pytest.raises(BackendError, match=r"^the registry did not answer http://127.0.0.1:41234/v2/ within 30s"):
        backend.start_registry()
    runner.add(["docker", "start"], fail("Error response from daemon: No such container: fluxchaos-registry-server"))
    with pytest.raises(BackendError, match="^`docker start fluxchaos-registry-server` failed"):
        backend.start_registry()


# -- the real faults, through the kind primitives ------------------------------------------------------


HELPER_OK = f"""fluxchaos: cgroup_version=1
fluxchaos: cgroup=/memory{SCOPE}
fluxchaos: limit=1073741824
fluxchaos: oom_kill_before=0
fluxchaos: hog_protected=1
fluxchaos: hog_pid=5151
fluxchaos: target_gone=1
fluxchaos: oom_kill_after=1
fluxchaos: hog_alive=1
"""


def fault_ctx(env: Any, target: str = "irc-a", timeout: float = 10) -> Any:
    from pytest_fluxchaos.faults.base import FaultContext

    return FaultContext(env=env, namespace="ns", history=None, action=SimpleNamespace(confirm_timeout=timeout),
                        target=target)


def test_the_oom_fault_runs_its_helper_in_the_node_and_confirms_from_pods(tmp_path: Path) -> None:
    from pytest_fluxchaos.faults.oom_helper import SCRIPT
    from pytest_fluxchaos.faults.oom_kill import FAULT

    runner = node_runner(ok(HELPER_OK), pid=4242)
    b, kube = make(tmp_path, [pod("irc-a", cid="c1")], runner)
    ctx = fault_ctx(b)
    before = ctx.pod()
    assert before == PodStatus(namespace="ns", name="irc-a", container_id="c1", state="running",
                               started_at="2026-01-01T00:00:05Z")
    evidence = FAULT.inject(ctx, before)
    assert helper_calls(runner) == [EXEC_ROOT + ["-e", "TARGET_PID=4242", "-e", "TIMEOUT=10", "-e", "CG=/sys/fs/cgroup",
                                                 NODE, "sh", "-c", SCRIPT]]
    assert runner.timeouts[-1] == 40  # the fault's confirm timeout + 30
    assert (evidence.container_id, evidence.pid, evidence.where, evidence.helper_exit_code) == ("c1", 4242, NODE, 0)
    assert (evidence.report.cgroup, evidence.report.victim, evidence.reaped_hog) == ("/memory" + SCOPE,
                                                                                      "controller", False)
    kube.core.pods["irc-a"] = pod("irc-a", cid="c2", restarts=1, last=OOM)  # the kubelet restarts it
    after = FAULT.after(ctx, before, evidence)
    assert (after.container_id, after.restart_count, after.exit_code, after.oom_killed) == ("c2", 1, 137, True)
    verdict = FAULT.confirm(before, after, evidence)
    assert (verdict.outcome, verdict.facts["oom_confirmed_by"], verdict.facts["kernel_oom_kills"]) == (
        "ok", "runtime", 1)


def test_the_oom_fault_reaps_a_stray_hog_through_the_node(tmp_path: Path) -> None:
    from pytest_fluxchaos.faults.oom_helper import REAP_SCRIPT
    from pytest_fluxchaos.faults.oom_kill import FAULT

    runner = node_runner(Result([], 137, "fluxchaos: cgroup_version=2\nfluxchaos: hog_pid=5151\n", ""))
    b, _kube = make(tmp_path, [pod("irc-a", cid="c1")], runner)
    ctx = fault_ctx(b)
    evidence = FAULT.inject(ctx, ctx.pod())
    assert evidence.reaped_hog and evidence.helper_exit_code == 137
    assert helper_calls(runner)[-1] == EXEC_ROOT + ["-e", "HOG_PID=5151", "-e", "CG=/sys/fs/cgroup", NODE,
                                                    "sh", "-c", REAP_SCRIPT]


def test_the_kill_fault_signals_through_the_node(tmp_path: Path) -> None:
    from pytest_fluxchaos.faults.kill import FAULT

    runner = node_runner(pid=777)
    b, _kube = make(tmp_path, [pod("irc-a", cid="c1")], runner)
    ctx = fault_ctx(b)
    assert FAULT.inject(ctx, ctx.pod()).container_id == "c1"
    assert runner.calls[-1] == ["docker", "exec", NODE, "kill", "-KILL", "777"]


# -- protocol, access, factory ---------------------------------------------------------------------------


def test_kind_backend_implements_the_backend_protocol(tmp_path: Path) -> None:
    from pytest_fluxchaos.backends.base import Backend

    b, _kube = make(tmp_path, [], FakeRunner())
    assert isinstance(b, Backend)
    missing = [m for m in dir(Backend) if not m.startswith("_") and not hasattr(b, m)]
    assert missing == []
    assert not hasattr(b, "oom_kill") and not hasattr(b, "kill_container") and not hasattr(b, "registry_outage")


def test_access_objects(tmp_path: Path) -> None:
    backend, _kube = make(tmp_path, [], FakeRunner())
    reg = backend.registry()
    # The controllers scan through the fault proxy; the plugin pushes to the registry itself.
    assert (reg.host_url, reg.cluster_host, reg.insecure) == ("http://127.0.0.1:41234", "fluxchaos-proxy:5000", True)
    assert backend.registry_direct().cluster_host == "fluxchaos-registry:5000"
    with pytest.raises(BackendError, match="fault proxy is not running"):
        backend.registry_liar()
    access = backend.cluster()
    assert access.kubeconfig == tmp_path / "run" / "kubeconfig" and access.context == "kind-fluxchaos"
    assert access.created_by_plugin
    backend.plan = ClusterPlan("foreign", "fluxchaos", False)
    assert not backend.cluster().created_by_plugin


def test_not_provisioned(tmp_path: Path) -> None:
    b = KindBackend(None, KindOptions(workdir=tmp_path))
    with pytest.raises(BackendError, match="not provisioned"):
        b.pods("ns")
    with pytest.raises(BackendError, match="not provisioned"):
        b.signal_container("ns", "irc-a")


def test_factory_refuses_before_resolving_assets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pytest_fluxchaos.assets as assets
    from pytest_fluxchaos.backends.kind import ForeignClusterError, commands
    from pytest_fluxchaos.backends.kind_environment import create_kind_environment
    from pytest_fluxchaos.settings import Settings

    from kindfakes import preflight_runner

    kind = fake_kind(tmp_path)
    monkeypatch.setattr(assets, "ensure_assets", lambda *a, **k: pytest.fail("assets resolved before the guard"))
    monkeypatch.setattr(commands, "Runner", lambda: preflight_runner(kind, ["theirs"], kubeconfig=None))
    settings = Settings(backend="kind", variants=None, flux_versions=["2.9.4"], artifacts=None, keep=False,
                        seed=None, timeout=None, converge=None, assets="offline", allow_cluster=None)
    lines: list[str] = []
    with pytest.raises(ForeignClusterError, match="kind cluster 'theirs' already exists"):
        create_kind_environment(settings, "2.9.4", lines.append,
                                options=KindOptions(cluster_name="theirs", kind_bin=kind, workdir=tmp_path,
                                                    kind_bin_source="--kind-bin", node_image="node:x",
                                                    node_image_source="--kind-image"))
    assert lines == [f"kind: node image node:x (--kind-image; path: given by the user), kind {kind} (--kind-bin)",
                     "kind: kind v0.30.0 go1.26.8 linux/amd64 (--kind-bin)"]
    from pytest_fluxchaos.backends.kind import cluster_lock
    assert cluster_lock.lock_path("theirs") not in cluster_lock._held  # refused: the lock is let go
