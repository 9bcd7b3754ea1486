"""The foreign-cluster guard: refuse clusters the plugin did not create, unless named."""

from __future__ import annotations

import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kindfakes import fake_kind, preflight_runner
from pytest_fluxchaos.domain import BackendError
from pytest_fluxchaos.backends.kind import ForeignClusterError, KindBackend, KindOptions, plan_cluster
from pytest_fluxchaos.backends.kind.options import NODE_IMAGE
from pytest_fluxchaos.backends.kind.guard import (OWNER_CONFIGMAP, ClusterPlan, is_owner_marker,
                                                  owner_marker)

ASSETS = SimpleNamespace(irc_image="fluxchaos/image-reflector-controller:v1.2.4",
                         registry_image="fluxchaos/registry:v3.1.2", manifests_dir=Path("/nonexistent"))


def marker(cluster: str) -> dict[str, Any]:
    return owner_marker(cluster, "abc123", "0.1.0")


# -- the decision ----------------------------------------------------------------------------


def test_absent_cluster_is_created() -> None:
    plan = plan_cluster("fc", exists=False, marker=None, marker_error=None, allow_cluster=None)
    assert plan == ClusterPlan("create", "fc", True, "created by this session")
    assert plan.may_delete


def test_own_cluster_is_reused() -> None:
    plan = plan_cluster("fc", exists=True, marker=marker("fc"), marker_error=None, allow_cluster=None)
    assert plan.action == "reuse" and plan.created_by_plugin and plan.may_delete
    assert plan.detail.startswith("created by pytest-fluxchaos at 20")


def test_foreign_cluster_is_refused_with_one_clear_line() -> None:
    with pytest.raises(ForeignClusterError) as info:
        plan_cluster("dev", exists=True, marker=None, marker_error=None, allow_cluster=None)
    assert str(info.value) == (
        "kind cluster 'dev' already exists and was not created by pytest-fluxchaos (no ConfigMap "
        "kube-system/fluxchaos-owner); refusing to inject faults into it. Pass "
        "--fluxchaos-allow-cluster=dev to run against it anyway, or choose another --cluster-name")
    assert isinstance(info.value, BackendError)


@pytest.mark.parametrize("found,error,why", [
    (marker("other"), None, "does not name this cluster"),
    ({"metadata": {"labels": {}}, "data": {"cluster": "dev", "createdBy": "pytest-fluxchaos"}}, None,
     "does not name this cluster"),
    (None, "HTTP 403 Forbidden", "its ownership marker could not be read: HTTP 403 Forbidden"),
])
def test_unverifiable_or_other_markers_are_foreign(found: Any, error: Any, why: str) -> None:
    with pytest.raises(ForeignClusterError, match=why):
        plan_cluster("dev", exists=True, marker=found, marker_error=error, allow_cluster=None)


def test_opt_in_must_name_the_cluster() -> None:
    plan = plan_cluster("dev", exists=True, marker=None, marker_error=None, allow_cluster="dev")
    assert plan.action == "foreign" and not plan.created_by_plugin and not plan.may_delete
    assert "allowed by --fluxchaos-allow-cluster=dev" in plan.detail
    with pytest.raises(ForeignClusterError, match="--fluxchaos-allow-cluster names 'prod', not 'dev'"):
        plan_cluster("dev", exists=True, marker=None, marker_error=None, allow_cluster="prod")


def test_marker_roundtrip() -> None:
    cm = marker("fc")
    assert cm["metadata"] == {"name": OWNER_CONFIGMAP, "namespace": "kube-system",
                              "labels": {"app.kubernetes.io/managed-by": "pytest-fluxchaos"}}
    assert is_owner_marker(cm, "fc") and not is_owner_marker(cm, "other")
    assert not is_owner_marker(None, "fc") and not is_owner_marker({}, "fc")


# -- the backend's preflight: reads only -------------------------------------------------------------


def backend(tmp_path: Path, runner: Any, *, allow: str | None = None, found: Any = None,
            error: Any = None, name: str = "dev", offline: bool = True) -> KindBackend:
    options = KindOptions(cluster_name=name, kind_bin=fake_kind(tmp_path), workdir=tmp_path / ".pytest-kind")
    return KindBackend(ASSETS, options, allow_cluster=allow, runner=runner, offline=offline,
                       marker_reader=lambda _kc: (found, error), run_dir=tmp_path / "run")


def test_preflight_refuses_a_foreign_cluster_before_touching_it(tmp_path: Path) -> None:
    runner = preflight_runner(tmp_path / "bin" / "kind", ["dev", "other"])
    b = backend(tmp_path, runner)
    with pytest.raises(ForeignClusterError, match="kind cluster 'dev' already exists"):
        b.provision()
    assert runner.mutations(str(tmp_path / "bin" / "kind")) == []
    b.teardown()  # nothing to delete: never `kind delete cluster`
    assert runner.mutations(str(tmp_path / "bin" / "kind")) == []


def test_preflight_refuses_when_the_api_cannot_be_read(tmp_path: Path) -> None:
    runner = preflight_runner(tmp_path / "bin" / "kind", ["dev"], kubeconfig=None)
    with pytest.raises(ForeignClusterError, match="could not be read: `kind get kubeconfig` failed: ERROR"):
        backend(tmp_path, runner).preflight()


def test_preflight_allows_the_named_cluster(tmp_path: Path) -> None:
    runner = preflight_runner(tmp_path / "bin" / "kind", ["dev"])
    plan = backend(tmp_path, runner, allow="dev").preflight()
    assert plan.action == "foreign" and not plan.may_delete


def test_preflight_reuses_its_own_cluster(tmp_path: Path) -> None:
    runner = preflight_runner(tmp_path / "bin" / "kind", ["dev"])
    plan = backend(tmp_path, runner, found=marker("dev")).preflight()
    assert plan.action == "reuse" and plan.may_delete


def test_preflight_checks_the_node_image_only_for_a_new_cluster(tmp_path: Path) -> None:
    runner = preflight_runner(tmp_path / "bin" / "kind", [])
    with pytest.raises(BackendError, match=r"kind node image kindest/node:v1.34.0@sha256:7416a61b\w+ is not present "
                                           r"and could not be pulled \(offline mode does not pull it\); on a "
                                           r"machine with internet: `docker pull kindest/node:v1.34.0@sha256:"):
        backend(tmp_path, runner, name="fresh").preflight()
    runner = preflight_runner(tmp_path / "bin" / "kind", [], images=[NODE_IMAGE])
    assert backend(tmp_path, runner, name="fresh").preflight().action == "create"


def test_preflight_reports_missing_docker_and_kind(tmp_path: Path) -> None:
    runner = preflight_runner(tmp_path / "bin" / "kind", [])
    runner.add(["docker", "version"], lambda a, i: SimpleNamespace(returncode=1, stdout="", stderr=(
        "Cannot connect to the Docker daemon at unix:///var/run/docker.sock")))
    with pytest.raises(BackendError,
                       match="Docker is not usable .*Cannot connect to the Docker daemon.*install Docker"):
        backend(tmp_path, runner).preflight()
    options = KindOptions(cluster_name="x", workdir=tmp_path / "none")
    b = KindBackend(ASSETS, options, offline=True, runner=runner)
    import shutil

    if shutil.which("kind") is None and not (Path.home() / "go" / "bin" / "kind").exists():
        with pytest.raises(BackendError, match="kind not found on PATH .*go install sigs.k8s.io/kind@v0.30.0"):
            b.preflight()


PRIMITIVES = [
    ("signal_container", ("ns", "irc-a")),
    ("signal_container", ("ns", "irc-a", "TERM")),
    ("freeze", ("ns", "irc-a", True)),
    ("freeze", ("ns", "irc-a", False)),
    ("container_process", ("ns", "irc-a")),
    ("run_host_helper", ("ns", "irc-a", "true", {"TARGET_PID": "1"}, 30)),
    ("delete_pod", ("ns", "irc-a")),
    ("stop_registry", ()),
    ("start_registry", ()),
]


def provisioned_on(tmp_path: Path, plan: ClusterPlan, allow: str | None) -> tuple[KindBackend, Any, Any]:
    from kindfakes import FakeKube, FakeRunner, ok, pod

    runner = FakeRunner([(["docker"], ok())])
    b = backend(tmp_path, runner, allow=allow)
    kube = FakeKube([pod("irc-a", cid="c1", node="dev-control-plane")])
    b.plan, b._kube, b._provisioned = plan, kube, True
    return b, runner, kube


@pytest.mark.parametrize("method,args", PRIMITIVES, ids=[f"{m}{len(a)}" for m, a in PRIMITIVES])
@pytest.mark.parametrize("allow", [None, "prod"])
def test_every_primitive_refuses_a_foreign_cluster_without_opt_in(tmp_path: Path, method: str, args: tuple,
                                                                  allow: str | None) -> None:
    b, runner, kube = provisioned_on(tmp_path, ClusterPlan("foreign", "dev", False), allow)
    with pytest.raises(BackendError) as info:
        getattr(b, method)(*args)
    assert str(info.value) == ("refusing to inject faults into kind cluster 'dev': it was not created by "
                               "pytest-fluxchaos and --fluxchaos-allow-cluster does not name it")
    assert runner.calls == [] and kube.core.deleted == []  # refused before touching anything


def test_primitives_run_on_a_foreign_cluster_the_opt_in_names(tmp_path: Path) -> None:
    import json

    from kindfakes import ok

    b, runner, _kube = provisioned_on(tmp_path, ClusterPlan("foreign", "dev", False), "dev")
    runner.add(["docker", "exec", "dev-control-plane", "crictl"],
               ok(json.dumps({"info": {"pid": 99}})))
    b.allow_cluster = "dev"
    proc = b.container_process("ns", "irc-a")
    assert (proc.pid, proc.container_id) == (99, "c1")
    b.stop_registry()
    assert runner.calls[-1] == ["docker", "stop", "-t", "2", "dev-registry-server"]


def test_allowed_cluster_changed_after_provisioning_is_refused(tmp_path: Path) -> None:
    b, runner, _kube = provisioned_on(tmp_path, ClusterPlan("foreign", "dev", False), "dev")
    b.allow_cluster = None  # e.g. a programmatic user changed it after provisioning
    with pytest.raises(BackendError, match="refusing to inject faults into kind cluster 'dev'"):
        b.signal_container("ns", "irc-a")
    assert runner.calls == []


# -- teardown never deletes a cluster it does not own ------------------------------------------------


class FakeCluster:
    def __init__(self) -> None:
        self.deleted = 0

    def delete(self) -> None:
        self.deleted += 1


@pytest.mark.parametrize("plan,keep,deleted", [
    (ClusterPlan("create", "dev", True), False, 1),
    (ClusterPlan("reuse", "dev", True), False, 1),
    (ClusterPlan("create", "dev", True), True, 0),
    (ClusterPlan("foreign", "dev", False), False, 0),
])
def test_teardown_deletes_only_own_clusters(tmp_path: Path, plan: ClusterPlan, keep: bool, deleted: int) -> None:
    runner = preflight_runner(tmp_path / "bin" / "kind", ["dev"])
    runner.add(["docker", "rm"], SimpleNamespace(returncode=0, stdout="", stderr=""))
    b = backend(tmp_path, runner, allow="dev")
    b.keep = keep
    b.plan, b._cluster = plan, FakeCluster()
    b.teardown()
    b.teardown()  # twice is fine
    assert b._cluster.deleted == deleted
    removed_registry = any(c[:3] == ["docker", "rm", "-f"] for c in runner.calls)
    assert removed_registry == (deleted == 1)


# -- through pytest: the plugin refuses with one line --------------------------------------------------

FAKE_DOCKER = """#!/bin/sh
echo "docker $*" >> "{log}"
case "$1" in
  version) echo 20.10.24 ;;
  *) echo "fake docker: $1 not supported" >&2; exit 1 ;;
esac
"""

FAKE_KIND = """#!/bin/sh
echo "kind $*" >> "{log}"
case "$1 $2" in
  "version "*) echo "kind v0.30.0 go1.26.8 linux/amd64" ;;
  "get clusters") echo theirs ;;
  "get kubeconfig") echo "ERROR: could not locate any control plane nodes for cluster named 'theirs'" >&2; exit 1 ;;
  *) echo "fake kind: $* not supported" >&2; exit 1 ;;
esac
"""

SUITE = textwrap.dedent("""\
    suite: guard
    scenarios:
      - name: one
        images: [{name: app, tags: [1.0.0]}]
        repositories: [{name: app, image: app, interval: 30s}]
        policies: [{name: p, repository: app, policy: {semver: {range: ">=1.0.0"}}}]
        steps:
          - push: {image: app, tags: [1.0.0]}
    """)


@pytest.fixture
def guarded(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> tuple[pytest.Pytester, Path]:
    bindir = pytester.path / "fakebin"
    bindir.mkdir()
    log = pytester.path / "calls.log"
    for name, body in (("docker", FAKE_DOCKER), ("kind", FAKE_KIND)):
        f = bindir / name
        f.write_text(body.format(log=log))
        f.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{__import__('os').environ['PATH']}")
    pytester.mkdir("suites")
    (pytester.path / "suites" / "guard.yaml").write_text(SUITE)
    return pytester, log


def test_plugin_refuses_a_foreign_cluster(guarded: tuple[pytest.Pytester, Path]) -> None:
    pytester, log = guarded
    result = pytester.runpytest_inprocess("-p", "fluxchaos", "suites/guard.yaml", "--fluxchaos-backend=kind",
                                          "--cluster-name=theirs", "-p", "no:cacheprovider",
                                          f"--kind-bin={pytester.path / 'fakebin' / 'kind'}",
                                          "--kind-image=kindest/node:v1.34.0")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert ("fluxchaos: kind backend (Flux 2.9.4) unavailable: kind cluster 'theirs' already exists and was "
            "not created by pytest-fluxchaos") in out
    assert "Pass --fluxchaos-allow-cluster=theirs to run against it anyway" in out
    calls = log.read_text().splitlines()
    assert [c for c in calls if c.split()[1] in ("create", "delete", "load")] == []
    assert not any(c.startswith("docker ") and c.split()[1] != "version" for c in calls)


def test_plugin_passes_the_guard_with_the_opt_in(guarded: tuple[pytest.Pytester, Path],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import pytest_fluxchaos.backends.kind.assets as kind_assets
    from pytest_fluxchaos.domain import BackendError

    def no_assets(*_a: Any, **_kw: Any) -> Any:
        raise BackendError("stub: the guard let the run through to asset resolution")

    monkeypatch.setattr(kind_assets, "controller_assets", no_assets)
    pytester, log = guarded
    result = pytester.runpytest_inprocess("-p", "fluxchaos", "suites/guard.yaml", "--fluxchaos-backend=kind",
                                          "--cluster-name=theirs", "--fluxchaos-allow-cluster=theirs",
                                          "-p", "no:cacheprovider", f"--kind-bin={pytester.path / 'fakebin' / 'kind'}",
                                          "--kind-image=kindest/node:v1.34.0")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "stub: the guard let the run through to asset resolution" in out
    assert "refusing" not in out
    assert not any(c.split()[1] == "delete" for c in log.read_text().splitlines())
