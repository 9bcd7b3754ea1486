"""pytest-kind's options reused, pinned versions, kind binary resolution, kind-config."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from pytest_fluxchaos.domain import BackendError
from pytest_fluxchaos.backends.kind import options as opts
from pytest_fluxchaos.backends.kind.options import (
    KIND_VERSION,
    NODE_IMAGE,
    NODE_IMAGE_DIGEST,
    PACKAGED_KIND_CONFIG,
    KindOptions,
    check_kind_version,
    find_kind_config,
    parse_kind_version,
    pytest_kind_binary,
    resolve_kind_binary,
)
from pytest_fluxchaos.backends.kind.registry import CERTS_DIR, CONTAINERD_PATCH

REPO = Path(__file__).resolve().parents[2]


def fake_config(values: dict[str, Any], args: list[str] = (), rootpath: Path | None = None) -> Any:
    def getoption(name: str) -> Any:
        if name not in values:
            raise ValueError(f"no option named {name!r}")
        return values[name]

    return SimpleNamespace(getoption=getoption, invocation_params=SimpleNamespace(args=tuple(args)),
                           rootpath=rootpath or Path("/nonexistent"))


PYTEST_KIND_DEFAULTS = {"cluster_name": "pytest-kind", "keep_cluster": False, "kubeconfig": None,
                        "kind_image": None, "kind_bin": None, "kind_kubectl_bin": None}


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\necho kind v0.30.0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


# -- pins --------------------------------------------------------------------------------


def test_pins_are_current_and_match_kind_v0_30_0() -> None:
    # kind v0.30.0: pkg/apis/config/defaults/image.go
    # Image = "kindest/node:v1.34.0@sha256:7416a61b42b1662ca6ca89f02028ac133a309a2a30ba309614e8ec94d976dc5a"
    assert KIND_VERSION == "v0.30.0"
    # The default node image is pinned by digest (a moved tag cannot change what runs).
    assert NODE_IMAGE == f"kindest/node:v1.34.0@{NODE_IMAGE_DIGEST}"
    assert NODE_IMAGE_DIGEST == "sha256:7416a61b42b1662ca6ca89f02028ac133a309a2a30ba309614e8ec94d976dc5a"
    from pytest_fluxchaos.assets.versions import OFFICIAL_KIND_NODE_IMAGE

    assert NODE_IMAGE == OFFICIAL_KIND_NODE_IMAGE  # the backend's default is the asset builder's online pin
    import pytest_kind.cluster as pk

    assert opts.pinned_kind_version({}) != "v0.17.0"  # not pytest-kind's own default
    assert opts.pinned_kind_version({"KIND_VERSION": "v0.32.0"}) == "v0.32.0"  # env wins, as in pytest-kind
    assert opts.pinned_kubectl_version({}) == "v1.34.0"
    assert hasattr(pk, "KIND_VERSION") and hasattr(pk, "KUBECTL_VERSION")


@pytest.mark.parametrize("text,version", [
    ("kind v0.30.0 go1.26.8 linux/amd64", (0, 30, 0)),
    ("kind v0.17.0 go1.19.2 linux/amd64", (0, 17, 0)),
    ("kind version 0.8.1", None),
    ("", None),
])
def test_parse_kind_version(text: str, version: Any) -> None:
    assert parse_kind_version(text) == version


def test_too_old_kind_is_refused_with_the_pin() -> None:
    with pytest.raises(BackendError, match=r"kind v0\.17\.0 at /x/kind is too old .*pinned v0\.30\.0"
                                           r".*go install sigs\.k8s\.io/kind@v0\.30\.0"):
        check_kind_version("kind v0.17.0 go1.19.2 linux/amd64", Path("/x/kind"))
    assert check_kind_version("kind v0.30.0 go1.26.8 linux/amd64", Path("/x")) == (0, 30, 0)
    assert check_kind_version("something else", Path("/x")) is None  # unknown: let kind decide


# -- options from the pytest config -------------------------------------------------------------


def test_defaults_from_pytest_kind_options() -> None:
    o = KindOptions.from_pytest_config(fake_config(PYTEST_KIND_DEFAULTS))
    assert o.cluster_name == "fluxchaos"  # pytest-kind's default name is left to pytest-kind
    assert (o.keep_cluster, o.kubeconfig, o.node_image, o.kind_bin, o.kubectl_bin) == (
        False, None, NODE_IMAGE, None, None)
    assert o.config_file == PACKAGED_KIND_CONFIG


def test_pytest_kind_options_are_used(tmp_path: Path) -> None:
    values = dict(PYTEST_KIND_DEFAULTS, cluster_name="chaos", keep_cluster=True, kubeconfig="/k/cfg",
                  kind_image="kindest/node:v1.33.1", kind_bin="/opt/kind", kind_kubectl_bin="/opt/kubectl")
    o = KindOptions.from_pytest_config(fake_config(values, ["--cluster-name=chaos"]))
    assert o == KindOptions(cluster_name="chaos", keep_cluster=True, kubeconfig=Path("/k/cfg"),
                            node_image="kindest/node:v1.33.1", kind_bin=Path("/opt/kind"),
                            kubectl_bin=Path("/opt/kubectl"), kind_bin_source="--kind-bin",
                            node_image_source="--kind-image")


def test_home_is_expanded_and_fluxchaos_kind_bin_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLUXCHAOS_KIND_BIN", "~/bin/kind")
    values = dict(PYTEST_KIND_DEFAULTS, kubeconfig="~/.kube/fluxchaos", kind_kubectl_bin="~/bin/kubectl")
    o = KindOptions.from_pytest_config(fake_config(values))
    home = Path.home()
    assert (o.kubeconfig, o.kubectl_bin) == (home / ".kube/fluxchaos", home / "bin/kubectl")
    assert (o.kind_bin, o.kind_bin_source) == (home / "bin/kind", "FLUXCHAOS_KIND_BIN")
    o = KindOptions.from_pytest_config(fake_config(dict(values, kind_bin="~/k")))
    assert (o.kind_bin, o.kind_bin_source) == (home / "k", "--kind-bin")  # --kind-bin wins
    assert o.node_image_source == "default"


def test_a_kind_for_another_architecture_is_one_line(tmp_path: Path) -> None:
    from pytest_fluxchaos.backends.kind.commands import Runner

    alien = tmp_path / "kind"
    alien.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(200))  # an ELF the kernel will not exec
    alien.chmod(0o755)
    with pytest.raises(BackendError) as info:
        Runner()([str(alien), "version"], timeout=10)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith(f"`{alien}` cannot be run (Exec format error): a binary for another")


@pytest.mark.parametrize("args", [["--cluster-name", "pytest-kind"], ["--cluster-name=pytest-kind"]])
def test_explicit_pytest_kind_name_is_respected(args: list[str]) -> None:
    o = KindOptions.from_pytest_config(fake_config(PYTEST_KIND_DEFAULTS, args))
    assert o.cluster_name == "pytest-kind"


def test_without_pytest_kind_loaded() -> None:
    o = KindOptions.from_pytest_config(fake_config({}))
    assert o.cluster_name == "fluxchaos" and o.node_image == NODE_IMAGE


@pytest.mark.parametrize("name", ["Upper", "-lead", "with_underscore", "x" * 60, ""])
def test_invalid_cluster_names(name: str) -> None:
    with pytest.raises(BackendError, match="not a valid kind cluster name"):
        KindOptions(cluster_name=name)


# -- kind-config.yaml ---------------------------------------------------------------------------


def test_kind_config_lookup(tmp_path: Path) -> None:
    assert find_kind_config(None, {}) == PACKAGED_KIND_CONFIG
    assert find_kind_config(tmp_path, {}) == PACKAGED_KIND_CONFIG
    (tmp_path / "kind-config.yaml").write_text("kind: Cluster\n")
    assert find_kind_config(tmp_path, {}) == tmp_path / "kind-config.yaml"
    other = tmp_path / "other.yaml"
    other.write_text("kind: Cluster\n")
    assert find_kind_config(tmp_path, {"FLUXCHAOS_KIND_CONFIG": str(other)}) == other
    with pytest.raises(BackendError, match="FLUXCHAOS_KIND_CONFIG=.*does not exist"):
        find_kind_config(tmp_path, {"FLUXCHAOS_KIND_CONFIG": str(tmp_path / "missing.yaml")})


@pytest.mark.parametrize("path", [REPO / "kind-config.yaml", PACKAGED_KIND_CONFIG],
                         ids=["repo-root", "packaged"])
def test_kind_config_content(path: Path) -> None:
    cfg = yaml.safe_load(path.read_text())
    assert cfg["kind"] == "Cluster" and cfg["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert cfg["nodes"] == [{"role": "control-plane"}]
    assert cfg["containerdConfigPatches"] == [CONTAINERD_PATCH]
    assert f'config_path = "{CERTS_DIR}"' in cfg["containerdConfigPatches"][0]


def test_repo_root_kind_config_is_the_packaged_default() -> None:
    assert (REPO / "kind-config.yaml").read_text() == PACKAGED_KIND_CONFIG.read_text()


# -- the kind binary ----------------------------------------------------------------------------


def test_kind_bin_option_wins(tmp_path: Path) -> None:
    kind = executable(tmp_path / "bin" / "my-kind")
    o = KindOptions(kind_bin=kind)
    assert resolve_kind_binary(o, which=lambda _n: "/usr/bin/kind") == (kind, "--kind-bin")
    with pytest.raises(BackendError, match="--kind-bin .* is not an executable file; install kind v0.30.0"):
        resolve_kind_binary(KindOptions(kind_bin=tmp_path / "missing"))


def test_kind_from_path_then_caches(tmp_path: Path) -> None:
    o = KindOptions(workdir=tmp_path / ".pytest-kind")
    assert resolve_kind_binary(o, which=lambda _n: "/usr/local/bin/kind", home=tmp_path, environ={}) == (
        Path("/usr/local/bin/kind"), "PATH")
    none = lambda _n: None  # noqa: E731
    assert resolve_kind_binary(o, which=none, home=tmp_path, environ={}) == (None, "download")
    gokind = executable(tmp_path / "go" / "bin" / "kind")
    assert resolve_kind_binary(o, which=none, home=tmp_path, environ={}) == (gokind, "go install")
    cached = executable(pytest_kind_binary(o, {}))
    assert cached == tmp_path / ".pytest-kind" / "fluxchaos" / "kind-v0.30.0"
    assert resolve_kind_binary(o, which=none, home=tmp_path, environ={}) == (cached, "pytest-kind cache")


def test_gobin_and_gopath(tmp_path: Path) -> None:
    o = KindOptions(workdir=tmp_path / "w")
    kind = executable(tmp_path / "gobin" / "kind")
    assert resolve_kind_binary(o, which=lambda _n: None, home=tmp_path / "h",
                               environ={"GOBIN": str(tmp_path / "gobin")}) == (kind, "go install")
    kind2 = executable(tmp_path / "gp" / "bin" / "kind")
    assert resolve_kind_binary(o, which=lambda _n: None, home=tmp_path / "h",
                               environ={"GOPATH": str(tmp_path / "gp") + os.pathsep + "/other"}) == (
        kind2, "go install")


# -- pytest-kind's KindCluster, pinned ---------------------------------------------------------


def test_kind_cluster_is_pytest_kinds_with_pinned_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pytest_kind.cluster as pk

    from pytest_fluxchaos.backends.kind.cluster import make_cluster

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KIND_VERSION", raising=False)
    monkeypatch.delenv("KUBECTL_VERSION", raising=False)
    c = make_cluster(KindOptions(cluster_name="pinned", node_image="kindest/node:v1.34.0"), None,
                     allow_download=False)
    assert isinstance(c, pk.KindCluster)
    assert c.name == "pinned" and c.image == "kindest/node:v1.34.0"
    assert Path(c.kind_path) == Path(".pytest-kind/pinned/kind-v0.30.0")
    assert Path(c.kubectl_path) == Path(".pytest-kind/pinned/kubectl-v1.34.0")
    with pytest.raises(BackendError, match="kind not found \\(offline mode does not download it\\)"):
        c.ensure_kind()


def test_pinned_download_failure_is_one_line_and_restores_pytest_kind(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pytest_kind.cluster as pk

    from pytest_fluxchaos.backends.kind.cluster import make_cluster

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KIND_VERSION", raising=False)
    seen: list[str] = []

    def fake_get(url: str, **_kw: Any) -> Any:
        seen.append(url)
        raise OSError("Could not resolve host: github.com")

    monkeypatch.setattr(pk.requests, "get", fake_get)
    before = pk.KIND_VERSION
    c = make_cluster(KindOptions(cluster_name="dl"), None, allow_download=True)
    with pytest.raises(BackendError) as info:
        c.ensure_kind()
    assert seen == ["https://github.com/kubernetes-sigs/kind/releases/download/v0.30.0/kind-linux-amd64"]
    assert "could not download kind v0.30.0 (Could not resolve host: github.com)" in str(info.value)
    assert "\n" not in str(info.value)
    assert pk.KIND_VERSION == before  # the module pin is restored
    assert not (tmp_path / ".pytest-kind").exists()  # no empty work dir left behind
    monkeypatch.setattr(pk.requests, "get", lambda *a, **k: (_ for _ in ()).throw(OSError(
        "HTTPSConnectionPool(host='github.com', port=443): Max retries exceeded with url: /x (Caused by "
        "NameResolutionError(\"<urllib3.connection.HTTPSConnection object>: Failed to resolve 'github.com'\"))")))
    with pytest.raises(BackendError, match=r"could not download kind v0\.30\.0 \(name resolution failed: "
                                           r"no internet\?\); install kind"):
        make_cluster(KindOptions(cluster_name="dl"), None, allow_download=True).ensure_kind()


def test_pytest_kind_options_are_not_duplicated(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("-p", "fluxchaos", "--help")
    out = result.stdout.str()
    for flag in ("--cluster-name", "--keep-cluster", "--kind-image", "--kind-bin", "--kind-kubectl-bin",
                 "--fluxchaos-allow-cluster"):
        assert out.count(f"  {flag}") == 1, flag
