"""The review defects of the kind backend, each pinned by a test that fails without its fix.

(1) ``kind load`` under Docker's containerd image store; (2) one cluster per Flux
version; (3) ``kind export logs`` before the cluster is deleted after a failure;
(4) the registry's heal waits through CoreDNS (the real thing: test_kind_real_faults);
(5) the digest pin (test_kind_options); (6) online assets pull only what kind uses;
(7) a wrong-arch kind and ``~`` (test_kind_options). Also: which kind and node image a
run takes, and that it lands in ``verdict.json``.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kindfakes import FakeRunner, fail, fake_kind, ok
from pytest_fluxchaos.assets import AssetError
from pytest_fluxchaos.backends.kind import KindBackend, KindOptions, lifecycle
from pytest_fluxchaos.backends.kind import assets as kind_assets
from pytest_fluxchaos.backends.kind import provision
from pytest_fluxchaos.backends.kind.guard import ClusterPlan
from pytest_fluxchaos.backends.kind.options import NODE_IMAGE
from pytest_fluxchaos.backends.kind_environment import FailedItems, cluster_name_for
from pytest_fluxchaos.domain import BackendError

NODE = "fluxchaos-control-plane"
MULTIARCH = ("ERROR: failed to load image: command \"docker exec --privileged -i fluxchaos-control-plane ctr "
             "--namespace=k8s.io images import --all-platforms --digests --snapshotter=overlayfs -\" failed "
             "with error: exit status 1 Command Output: ctr: content digest sha256:0a1b: not found")


# -- which kind and node image --------------------------------------------------------------------------


def kit(tmp_path: Path, source: str = "offline-build") -> Any:
    return SimpleNamespace(kind_bin=tmp_path / "kind-v0.30.0", node_image="fluxchaos/kind-node:v1.34.3",
                           source=source, kubernetes_version="v1.34.3")


def test_the_asset_set_fills_what_the_user_did_not_give(tmp_path: Path) -> None:
    modes: list[str] = []

    def ensure(mode: str, progress: Any) -> Any:
        modes.append(mode)
        return kit(tmp_path)

    options, choice = kind_assets.choose_kind(KindOptions(), "auto", print, ensure=ensure)
    assert modes == ["auto"]
    assert (options.kind_bin, options.node_image) == (tmp_path / "kind-v0.30.0", "fluxchaos/kind-node:v1.34.3")
    assert choice.as_dict()["asset_path"] == "offline-build"
    assert "path: offline build" in choice.describe()
    # --kind-image wins over the set; the set still gives the binary.
    given = KindOptions(node_image="my/node:1", node_image_source="--kind-image")
    options, choice = kind_assets.choose_kind(given, "auto", print, ensure=ensure)
    assert (options.kind_bin, options.node_image, choice.node_image_source) == (
        tmp_path / "kind-v0.30.0", "my/node:1", "--kind-image")
    # Both given: the asset set is not even asked.
    both = KindOptions(kind_bin=tmp_path / "k", kind_bin_source="FLUXCHAOS_KIND_BIN", node_image="my/node:1",
                       node_image_source="--kind-image")
    options, choice = kind_assets.choose_kind(both, "auto", print, ensure=lambda **_k: pytest.fail("asked"))
    assert options == both and choice.kind_bin_source == "FLUXCHAOS_KIND_BIN" and choice.asset_source is None


def test_online_path_is_reported_as_the_digest_pin(tmp_path: Path) -> None:
    online = SimpleNamespace(kind_bin=tmp_path / "kind", node_image=NODE_IMAGE, source="online",
                             kubernetes_version="v1.34.0")
    _options, choice = kind_assets.choose_kind(KindOptions(), "online", print, ensure=lambda **_k: online)
    assert "official kindest/node@sha256 pin" in choice.describe() and "@sha256:" in choice.node_image


def test_no_asset_set_falls_back_to_kind_on_path_with_the_pinned_image(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(**_kw: Any) -> Any:
        raise AssetError("go not found")

    lines: list[str] = []
    monkeypatch.setattr(kind_assets, "resolve_kind_binary", lambda _o: (tmp_path / "kind", "PATH"))
    options, choice = kind_assets.choose_kind(KindOptions(), "auto", lines.append, ensure=broken)
    assert (options.kind_bin, options.node_image) == (tmp_path / "kind", NODE_IMAGE)
    assert lines == [f"kind: no kind asset set (go not found); using kind from PATH and the pinned node "
                     f"image {NODE_IMAGE}"]
    monkeypatch.setattr(kind_assets, "resolve_kind_binary", lambda _o: (None, "download"))
    with pytest.raises(BackendError, match=r"^no kind binary and no kind asset set \(go not found\); run "):
        kind_assets.choose_kind(KindOptions(), "auto", print, ensure=broken)


# -- (6) online assets: only what kind uses ---------------------------------------------------------------


def test_online_controller_assets_pull_nothing_kind_never_runs(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import pytest_fluxchaos.assets.build as build

    asked: list[str] = []

    class FakeBuilder:
        def __init__(self, cache: Path, progress: Any) -> None:
            pass

        def warm(self, *_a: Any) -> None:
            return None

        def official(self, ref: str) -> bool:
            asked.append(ref)
            return True

        def manifests(self, irc_version: str) -> Path:
            return tmp_path / irc_version

        def git_server(self) -> str:  # built locally (debootstrap), never pulled
            return "fluxchaos/git-server:bookworm"

        def fault_proxy(self) -> str:  # built locally (Go module proxy), never pulled
            return "fluxchaos/registry-proxy:2.5.0"

        def iac_manifests(self, iac_version: str) -> Path:
            return tmp_path / "iac" / iac_version

        def controller_set(self, flux: Any, irc: Any, iac: Any) -> dict[str, Any]:
            return {"flux_version": flux, "controllers": {}}

    monkeypatch.setattr(build, "Builder", FakeBuilder)
    monkeypatch.setenv("FLUXCHAOS_CACHE", str(tmp_path))
    got = kind_assets.controller_assets("2.9.4", "online", print)
    assert asked == ["ghcr.io/fluxcd/image-reflector-controller:v1.2.4", "registry:3",
                     "ghcr.io/fluxcd/image-automation-controller:v1.2.4"]  # no etcd/apiserver/stress
    assert (got.irc_image, got.registry_image, got.manifests_dir, got.source) == (
        "ghcr.io/fluxcd/image-reflector-controller:v1.2.4", "registry:3", tmp_path / "v1.2.4", "online")
    assert got.proxy_image == "fluxchaos/registry-proxy:2.5.0"
    assert (got.iac_image, got.iac_manifests_dir) == ("ghcr.io/fluxcd/image-automation-controller:v1.2.4",
                                                      tmp_path / "iac" / "v1.2.4")
    assert got.git_image == "fluxchaos/git-server:bookworm"


# -- (1) kind load under Docker's containerd image store ----------------------------------------------------


def load_runner(tmp_path: Path, *, import_result: Any = None) -> tuple[FakeRunner, str]:
    kind = str(fake_kind(tmp_path))
    return FakeRunner([
        ([kind, "load", "docker-image"], fail(MULTIARCH)),
        (["docker", "version"], ok("linux/amd64\n")),
        (["docker", "save"], ok()),
        (["docker", "cp"], ok()),
        (["docker", "exec", NODE, "ctr"], import_result or ok()),
        (["docker", "exec", NODE, "rm"], ok()),
    ]), kind


def test_a_multi_arch_load_failure_falls_back_to_ctr_import(tmp_path: Path) -> None:
    runner, kind = load_runner(tmp_path)
    lines: list[str] = []
    provision.load_image(runner, Path(kind), "fluxchaos", "ghcr.io/x:v1", 60, lines.append, nodes=[NODE])
    save = next(c for c in runner.calls if c[:2] == ["docker", "save"])
    assert save[:4] == ["docker", "save", "--platform", "linux/amd64"] and save[-1] == "ghcr.io/x:v1"
    assert ["docker", "exec", NODE, "ctr", "--namespace=k8s.io", "images", "import", "--digests",
            "--snapshotter=overlayfs", "/fluxchaos-image.tar"] in runner.calls
    assert "--all-platforms" not in " ".join(" ".join(c) for c in runner.calls if "ctr" in c)
    assert ["docker", "exec", NODE, "rm", "-rf", "/fluxchaos-image.tar"] in runner.calls
    assert "Docker's containerd image store?" in lines[-1]


def test_a_failing_fallback_and_an_unrelated_failure_are_one_line(tmp_path: Path) -> None:
    runner, kind = load_runner(tmp_path, import_result=fail("ctr: mismatched image rootfs"))
    with pytest.raises(BackendError) as info:
        provision.load_image(runner, Path(kind), "fluxchaos", "ghcr.io/x:v1", 60, print, nodes=[NODE])
    assert str(info.value).startswith(f"cannot load ghcr.io/x:v1 into {NODE}, not with kind load nor with ctr")
    assert "docker pull --platform linux/amd64 ghcr.io/x:v1" in str(info.value) and "\n" not in str(info.value)
    runner.add([kind, "load"], fail("ERROR: image: \"ghcr.io/x:v1\" not present locally"))
    with pytest.raises(BackendError, match=r"^`kind load docker-image ghcr.io/x:v1` failed \(exit 1\): ERROR"):
        provision.load_image(runner, Path(kind), "fluxchaos", "ghcr.io/x:v1", 60, print, nodes=[NODE])


# -- (2) one cluster per Flux version ------------------------------------------------------------------------


def test_each_flux_version_gets_its_own_cluster() -> None:
    assert cluster_name_for("fluxchaos", "2.9.4", {}) == "fluxchaos"
    assert cluster_name_for("fluxchaos", "2.9.4", {"fluxchaos": "2.9.4"}) == "fluxchaos"  # same version: shared
    assert cluster_name_for("fluxchaos", "2.3.0", {"fluxchaos": "2.9.4"}) == "fluxchaos-2.3.0"
    long = "x" * 50
    assert len(cluster_name_for(long, "v1.2.4", {long: "2.9.4"})) <= 50
    KindOptions(cluster_name=cluster_name_for(long, "v1.2.4", {long: "2.9.4"}))  # a valid kind name


def test_live_clusters_are_those_not_torn_down(tmp_path: Path) -> None:
    b = KindBackend(None, KindOptions(cluster_name="fc-live", workdir=tmp_path), runner=FakeRunner(),
                    run_dir=tmp_path / "run")
    b.flux_version = "2.9.4"
    lifecycle.track(b)
    assert lifecycle.live_clusters().get("fc-live") == "2.9.4"
    b.teardown()
    assert "fc-live" not in lifecycle.live_clusters()


# -- (3) kind export logs before deleting, when an item failed ------------------------------------------------


class Cluster:
    def __init__(self, runner: FakeRunner) -> None:
        self.runner = runner

    def delete(self) -> None:
        self.runner.calls.append(["<delete cluster>"])


@pytest.mark.parametrize("failed", [True, False])
def test_kind_logs_are_exported_before_the_cluster_goes_when_an_item_failed(tmp_path: Path, failed: bool) -> None:
    kind = fake_kind(tmp_path)
    runner = FakeRunner([([str(kind), "export", "logs"], ok()), (["docker", "rm"], ok())])
    b = KindBackend(None, KindOptions(workdir=tmp_path), runner=runner, run_dir=tmp_path / "run")
    b.plan, b._cluster, b.kind_path = ClusterPlan("create", "fluxchaos", True), Cluster(runner), kind
    plugin = FailedItems(b, lambda: tmp_path / "artifacts" / "kind-logs-fluxchaos")
    plugin.pytest_runtest_logreport(SimpleNamespace(failed=failed))
    b.teardown()
    exported = [str(kind), "export", "logs", str(tmp_path / "artifacts" / "kind-logs-fluxchaos"),
                "--name", "fluxchaos"]
    if failed:
        assert runner.calls.index(exported) < runner.calls.index(["<delete cluster>"])
    else:
        assert exported not in runner.calls and ["<delete cluster>"] in runner.calls


# -- verdict.json carries the backend's details ---------------------------------------------------------------


def test_backend_details_reach_verdict_json(tmp_path: Path) -> None:
    import json

    from pytest_fluxchaos.history import History
    from pytest_fluxchaos.runner import RunResult

    b = KindBackend(SimpleNamespace(source="offline-build"), KindOptions(workdir=tmp_path), runner=FakeRunner(),
                    run_dir=tmp_path / "run")
    b.choice = kind_assets.choose_kind(KindOptions(), "auto", print, ensure=lambda **_k: kit(tmp_path))[1]
    b.flux_version, b.kind_version = "2.9.4", (0, 30, 0)
    result = RunResult("s", "single", "ns", "kind", "v1.2.4", "2.9.4", 1, History(), backend_details=b.details())
    data = json.loads((result.write_artifacts(tmp_path / "a") / "verdict.json").read_text())["backend_details"]
    assert (data["asset_path"], data["node_image"], data["kind_version"], data["controller_assets"]) == (
        "offline-build", "fluxchaos/kind-node:v1.34.3", "v0.30.0", "offline-build")


# -- nothing left behind: kind's own network, if this run made it ---------------------------------------------


@pytest.mark.parametrize("preexisted,users,removed", [(False, "", True), (False, "other-node ", False),
                                                      (True, "", False)])
def test_the_kind_network_goes_if_this_run_made_it(tmp_path: Path, preexisted: bool, users: str,
                                                   removed: bool) -> None:
    runner = FakeRunner([(["docker", "network", "inspect"], ok(users)), (["docker"], ok())])
    b = KindBackend(None, KindOptions(workdir=tmp_path), runner=runner, run_dir=tmp_path / "run")
    b.plan, b._cluster, b.kind_path = ClusterPlan("create", "fluxchaos", True), Cluster(runner), None
    b.network_preexisted = preexisted
    b.teardown()
    assert (["docker", "network", "rm", "kind"] in runner.calls) == removed
