"""Registry wiring, command construction, install manifests and pod status mapping."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kindfakes import pod
from realenv import not_built

from pytest_fluxchaos.assets import default_cache_dir
from pytest_fluxchaos.domain import BackendError, PodStatus
from pytest_fluxchaos.backends.kind import commands as cmd
from pytest_fluxchaos.backends.kind.manifests import (claim_names, crd_files, leader_election_enabled,
                                                      rbac_objects, selector_of)
from pytest_fluxchaos.backends.kind.pods import SlotTable, pod_status
from pytest_fluxchaos.backends.kind.registry import (CONTAINERD_PATCH, certs_d_entries, hosts_toml,
                                                     local_registry_hosting, registry_name,
                                                     run_holder_args, run_registry_args)
from pytest_fluxchaos.variants import render, resolve

# -- registry ---------------------------------------------------------------------------------


def test_registry_names_and_hosts_toml() -> None:
    assert registry_name("fluxchaos") == "fluxchaos-registry"
    assert hosts_toml("http://fluxchaos-registry:5000") == (
        'server = "http://fluxchaos-registry:5000"\n\n'
        '[host."http://fluxchaos-registry:5000"]\n'
        '  capabilities = ["pull", "resolve"]\n')


def test_certs_d_entries_cover_both_names() -> None:
    entries = certs_d_entries("fluxchaos-registry", 41234)
    assert sorted(entries) == [
        "/etc/containerd/certs.d/fluxchaos-registry:5000/hosts.toml",
        "/etc/containerd/certs.d/localhost:41234/hosts.toml",
    ]
    assert set(entries.values()) == {hosts_toml("http://fluxchaos-registry:5000")}
    assert all('[host."http://' in v for v in entries.values())  # plain HTTP: "insecure"


def test_local_registry_hosting_configmap() -> None:
    cm = local_registry_hosting("fluxchaos-registry", 41234)
    assert cm["metadata"] == {"name": "local-registry-hosting", "namespace": "kube-public"}
    value = yaml.safe_load(cm["data"]["localRegistryHosting.v1"])
    assert value == {"host": "localhost:41234", "hostFromContainerRuntime": "fluxchaos-registry:5000",
                     "hostFromClusterNetwork": "fluxchaos-registry:5000",
                     "help": "https://kind.sigs.k8s.io/docs/user/local-registry/"}


def test_registry_container_args() -> None:
    holder = run_holder_args("fc-registry", "fluxchaos/registry:v3.1.2", 41234, "fc", "kind")
    assert holder[:6] == ["run", "-d", "--name", "fc-registry", "--network", "kind"]
    assert ["-p", "127.0.0.1:41234:5000"] == holder[6:8]  # loopback only
    assert holder[-3:] == ["fluxchaos/registry:v3.1.2", "infinity"][:0] + holder[-3:]
    assert holder[-4:] == ["--entrypoint", "sleep", "fluxchaos/registry:v3.1.2", "infinity"]
    args = run_registry_args("fc-registry", "fluxchaos/registry:v3.1.2", "fc", "s3cret")
    # The server lives in the holder's network namespace: the name and the IP survive an outage.
    assert args[:6] == ["run", "-d", "--name", "fc-registry-server", "--network", "container:fc-registry"]
    assert "--restart" not in args and "-p" not in args  # an outage must stay down until healed
    assert "io.fluxchaos.kind-cluster=fc" in args and "REGISTRY_STORAGE_DELETE_ENABLED=true" in args
    assert args[-1] == "fluxchaos/registry:v3.1.2"


def test_containerd_patch_is_kinds_documented_one() -> None:
    assert CONTAINERD_PATCH == ('[plugins."io.containerd.grpc.v1.cri".registry]\n'
                                '  config_path = "/etc/containerd/certs.d"')


# -- commands ------------------------------------------------------------------------------------


def test_node_commands() -> None:
    assert cmd.crictl_inspect("fc-control-plane", "abc") == [
        "docker", "exec", "fc-control-plane", "crictl", "inspect", "abc"]
    assert cmd.read_proc_cgroup("n", 42) == ["docker", "exec", "n", "cat", "/proc/42/cgroup"]
    assert cmd.kill_pid("n", 42) == ["docker", "exec", "n", "kill", "-KILL", "42"]
    assert cmd.host_helper("n", "SCRIPT", {"TARGET_PID": "42", "TIMEOUT": "60"}) == [
        "docker", "exec", "--user", "0", "-e", "TARGET_PID=42", "-e", "TIMEOUT=60", "-e", "CG=/sys/fs/cgroup",
        "n", "sh", "-c", "SCRIPT"]
    assert cmd.host_helper("n", "S", {"CG": "/elsewhere"}) == [
        "docker", "exec", "--user", "0", "-e", "CG=/sys/fs/cgroup", "n", "sh", "-c", "S"]  # the node's root wins
    assert cmd.ctr_task("n", "pause", "c1") == ["docker", "exec", "n", "ctr", "--namespace", "k8s.io", "tasks",
                                                "pause", "c1"]
    assert cmd.docker_stop("fc-registry") == ["docker", "stop", "-t", "2", "fc-registry"]
    assert cmd.docker_start("fc-registry") == ["docker", "start", "fc-registry"]
    w = cmd.write_node_file("n", "/etc/containerd/certs.d/x/hosts.toml")
    assert w[:4] == ["docker", "exec", "-i", "n"] and w[-1] == "/etc/containerd/certs.d/x/hosts.toml"
    assert cmd.kind_load_image("/k", "fc", "img:1") == ["/k", "load", "docker-image", "--name", "fc", "img:1"]
    assert cmd.kind_get_kubeconfig("/k", "fc") == ["/k", "get", "kubeconfig", "--name", "fc"]


def test_write_node_file_script_really_writes(tmp_path: Path) -> None:
    """The same sh snippet, run locally instead of in a node."""
    target = tmp_path / "certs.d" / "localhost:5001" / "hosts.toml"
    script = cmd.write_node_file("n", str(target))[4:]  # after `docker exec -i n`
    subprocess.run(script, input="[host]\n", text=True, check=True)
    assert target.read_text() == "[host]\n"


def test_parse_cluster_list() -> None:
    assert cmd.parse_cluster_list("fluxchaos\nkind\n\n") == ["fluxchaos", "kind"]
    assert cmd.parse_cluster_list("No kind clusters found.\n") == []


def test_runner_errors_are_one_line() -> None:
    run = cmd.Runner()
    with pytest.raises(BackendError, match="`fluxchaos-no-such-binary` not found; install it"):
        run(["fluxchaos-no-such-binary"], timeout=5)
    with pytest.raises(BackendError, match=r"^`thing` failed \(exit 3\): line one \| line two \| boom$"):
        run([sys.executable, "-c", "import sys; sys.stderr.write('line one\\n\\nline two\\nboom\\n'); sys.exit(3)"],
            timeout=30, what="thing")
    with pytest.raises(cmd.CommandTimeout, match="did not finish within 1s") as info:
        run([sys.executable, "-u", "-c", "import time; print('so far', flush=True); time.sleep(5)"], timeout=1)
    assert info.value.output == "so far\n" and isinstance(info.value, BackendError)
    res = run([sys.executable, "-c", "print('hi')"], timeout=30)
    assert (res.returncode, res.stdout) == (0, "hi\n")
    assert run([sys.executable, "-c", "raise SystemExit(2)"], timeout=30, check=False).returncode == 2


# -- install manifests ------------------------------------------------------------------------------


RBAC = {
    "role.yaml": {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                  "metadata": {"name": "manager-role"},
                  "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]},
    "role_binding.yaml": {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                          "metadata": {"name": "manager-rolebinding"},
                          "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                      "name": "manager-role"},
                          "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "system"}]},
    "imagepolicy_editor_role.yaml": {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                                     "metadata": {"name": "imagepolicy-editor-role"}, "rules": []},
}


@pytest.fixture
def manifests_dir(tmp_path: Path) -> Path:
    (tmp_path / "rbac").mkdir()
    (tmp_path / "crds").mkdir()
    for name, doc in RBAC.items():
        (tmp_path / "rbac" / name).write_text(yaml.safe_dump(doc))
    (tmp_path / "crds" / "a.yaml").write_text("kind: CustomResourceDefinition\n")
    return tmp_path


def test_rbac_objects(manifests_dir: Path) -> None:
    objs = rbac_objects(manifests_dir, "fc-ns", "image-reflector-controller", {"a": "b"})
    kinds = [(o["kind"], o["metadata"]["name"]) for o in objs]
    assert kinds == [
        ("Namespace", "fc-ns"),
        ("ServiceAccount", "image-reflector-controller"),
        ("ClusterRole", "image-reflector-manager-role"),
        ("ClusterRoleBinding", "image-reflector-manager-role-fc-ns"),
        ("Role", "image-reflector-leader-election-role"),
        ("RoleBinding", "image-reflector-leader-election-role-binding"),
    ]
    assert objs[0]["metadata"]["labels"] == {"a": "b"}
    subject = [{"kind": "ServiceAccount", "name": "image-reflector-controller", "namespace": "fc-ns"}]
    assert objs[3]["subjects"] == subject and objs[5]["subjects"] == subject
    assert objs[4]["metadata"]["namespace"] == "fc-ns"
    assert any("leases" in r["resources"] for r in objs[4]["rules"])


def test_rbac_needs_a_cluster_role(tmp_path: Path) -> None:
    (tmp_path / "rbac").mkdir()
    with pytest.raises(BackendError, match="no ClusterRole"):
        rbac_objects(tmp_path, "ns", "sa")
    with pytest.raises(BackendError, match="no CRDs"):
        crd_files(tmp_path)


RELEASE_MANIFESTS = default_cache_dir() / "irc" / "v1.2.4"  # written by the asset build (Flux 2.9.4)


@pytest.mark.skipif(not (RELEASE_MANIFESTS / "rbac").is_dir(), reason=not_built("2.9.4"))
def test_rbac_objects_from_the_real_release_manifests() -> None:
    objs = rbac_objects(RELEASE_MANIFESTS, "ns", "image-reflector-controller")
    names = {(o["kind"], o["metadata"]["name"]) for o in objs}
    assert ("ClusterRole", "image-reflector-manager-role") in names
    assert ("Role", "image-reflector-leader-election-role") in names
    assert not any("editor" in n or "viewer" in n for _k, n in names)


UPSTREAM = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "image-reflector-controller"},
            "spec": {"selector": {"matchLabels": {"app": "image-reflector-controller"}},
                     "template": {"metadata": {"labels": {"app": "image-reflector-controller"}},
                                  "spec": {"containers": [{"name": "manager", "image": "irc",
                                                           "args": ["--enable-leader-election"]}],
                                           "volumes": [{"name": "data", "emptyDir": {}}]}}}}


def test_deployment_helpers_on_rendered_variants() -> None:
    single = render(UPSTREAM, resolve("single"), namespace="n")[0]
    pvc_dep, pvc = render(UPSTREAM, resolve("single-pvc"), namespace="n")
    assert claim_names(single) == [] and claim_names(pvc_dep) == [pvc["metadata"]["name"]]
    assert selector_of(single) == "app=image-reflector-controller"
    assert leader_election_enabled(single)
    no_le = render(UPSTREAM, resolve("x", {"x": resolve("single").model_copy(update={
        "name": "x", "patches": [{"spec": {"template": {"spec": {"containers": [
            {"name": "manager", "args": ["--log-level=info"]}]}}}}]})}), namespace="n")[0]
    assert not leader_election_enabled(no_le)
    with pytest.raises(BackendError, match="matchLabels"):
        selector_of({"spec": {}})


# -- pod status ----------------------------------------------------------------------------------------


OOM = {"exitCode": 137, "reason": "OOMKilled", "startedAt": "t0", "finishedAt": "t1",
       "containerID": "containerd://old"}


def test_running_after_an_oom_kill() -> None:
    st = pod_status(pod("irc-a", cid="new", restarts=1, last=OOM))
    assert st == PodStatus(namespace="ns", name="irc-a", container_id="new", state="running",
                           reason="OOMKilled", exit_code=137, restart_count=1, oom_killed=True,
                           started_at="2026-01-01T00:00:05Z")


def test_running_after_sigkill_is_not_an_oom() -> None:
    st = pod_status(pod("irc-a", cid="new", restarts=1, last={"exitCode": 137, "reason": "Error"}))
    assert (st.reason, st.exit_code, st.oom_killed) == ("Error", 137, False)


def test_waiting_and_terminated_and_pending() -> None:
    st = pod_status(pod("irc-b", running=False, restarts=3, last={"exitCode": 1, "reason": "Error"}))
    assert (st.state, st.reason, st.exit_code, st.restart_count) == ("waiting", "CrashLoopBackOff", 1, 3)
    p = pod("irc-c")
    p["status"]["containerStatuses"][0]["state"] = {"terminated": dict(OOM)}
    st = pod_status(p)
    assert (st.state, st.reason, st.exit_code, st.oom_killed) == ("terminated", "OOMKilled", 137, True)
    p = pod("irc-d")
    p["status"] = {"phase": "Pending"}
    st = pod_status(p)
    assert (st.state, st.reason, st.container_id, st.restart_count) == ("waiting", "Pending", None, 0)


def test_the_manager_container_is_chosen() -> None:
    p = pod("irc-a", cid="mgr")
    p["status"]["containerStatuses"].insert(0, {"name": "sidecar", "containerID": "containerd://side",
                                                "restartCount": 9, "state": {"running": {}}})
    assert pod_status(p).container_id == "mgr"


def test_slots_are_stable_and_replacements_take_the_freed_slot() -> None:
    slots = SlotTable()
    a = pod("irc-zzz", created="2026-01-01T00:00:00Z")
    b = pod("irc-aaa", created="2026-01-01T00:00:01Z")
    names = lambda pods: [p["metadata"]["name"] for p in pods]  # noqa: E731
    assert names(slots.order("ns", [b, a])) == ["irc-zzz", "irc-aaa"]  # oldest first
    c = pod("irc-ccc", created="2026-01-01T00:05:00Z")
    assert names(slots.order("ns", [b, c])) == ["irc-ccc", "irc-aaa"]  # c took a's slot 0
    slots.replace("ns", "irc-aaa", "irc-new")
    d = pod("irc-new", created="2026-01-01T00:06:00Z")
    assert names(slots.order("ns", [c, d])) == ["irc-ccc", "irc-new"]
    assert names(slots.order("other", [d])) == ["irc-new"]  # per namespace
    slots.forget("ns")
    assert names(slots.order("ns", [d, c])) == ["irc-ccc", "irc-new"]
