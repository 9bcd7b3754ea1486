"""Wrapper go.mod generation (the replace list is derived, never hard-coded)."""

from pathlib import Path

import pytest

from pytest_fluxchaos.assets import gomod

FIXTURE = (Path(__file__).parent / "data" / "kubernetes-like.go.mod").read_text()


def test_parse_fixture():
    m = gomod.parse_gomod(FIXTURE)
    assert m.module == "k8s.io/kubernetes"
    assert m.go == "1.24.0"
    assert m.godebug == ["default=go1.24"]
    assert m.require["github.com/example/alpha"] == "v1.2.3"
    assert m.require["github.com/example/beta"] == "v0.4.0"
    assert m.require["k8s.io/client-go"] == "v0.0.0"
    assert m.exclude == [("github.com/example/bad", "v1.0.0")]
    olds = [r.old_path for r in m.replace]
    assert olds == [
        "k8s.io/api", "k8s.io/apimachinery", "k8s.io/client-go", "k8s.io/externaljwt",
        "github.com/example/forked", "github.com/example/local",
    ]
    assert [r.is_local for r in m.replace] == [True, True, True, True, False, True]


def test_staging_version():
    assert gomod.staging_version("v1.34.3") == "v0.34.3"
    assert gomod.staging_version("v1.36.0-rc.1") == "v0.36.0-rc.1"
    with pytest.raises(ValueError):
        gomod.staging_version("1.34.3")


def test_staging_replaces_are_derived_from_the_gomod():
    reps = gomod.staging_replaces(FIXTURE, "v1.34.3")
    got = {(r.old_path, r.new_path, r.new_version) for r in reps}
    assert got == {
        ("k8s.io/api", "k8s.io/api", "v0.34.3"),
        ("k8s.io/apimachinery", "k8s.io/apimachinery", "v0.34.3"),
        ("k8s.io/client-go", "k8s.io/client-go", "v0.34.3"),
        # a staging module that is only in the replace block is carried too
        ("k8s.io/externaljwt", "k8s.io/externaljwt", "v0.34.3"),
        # a versioned (fork) replace is kept; a non-staging local one is dropped
        ("github.com/example/forked", "github.com/example/fork", "v0.9.1"),
    }


def test_render_wrapper_gomod_round_trips():
    reps = gomod.staging_replaces(FIXTURE, "v1.34.3")
    text = gomod.render_wrapper_gomod(
        "fluxchaos.local/build/kube-apiserver", "1.24.0", {"k8s.io/kubernetes": "v1.34.3"}, reps,
        ["default=go1.24"],
    )
    assert "\tk8s.io/api => k8s.io/api v0.34.3\n" in text
    assert "\tgithub.com/example/forked => github.com/example/fork v0.9.1\n" in text
    assert "./staging" not in text and "../local" not in text
    back = gomod.parse_gomod(text)
    assert back.module == "fluxchaos.local/build/kube-apiserver"
    assert back.go == "1.24.0"
    assert back.godebug == ["default=go1.24"]
    assert back.require == {"k8s.io/kubernetes": "v1.34.3"}
    assert len(back.replace) == len(reps)
    assert all(not r.is_local for r in back.replace)
    # deterministic
    assert text == gomod.render_wrapper_gomod(
        "fluxchaos.local/build/kube-apiserver", "1.24.0", {"k8s.io/kubernetes": "v1.34.3"},
        list(reversed(reps)), ["default=go1.24"],
    )


def test_carried_replaces_drop_local_paths():
    irc_like = "module x\n\ngo 1.26.0\n\nreplace github.com/fluxcd/image-reflector-controller/api => ./api\n"
    assert gomod.carried_replaces(irc_like) == []


def test_tools_go_and_etcd_main():
    t = gomod.render_tools_go(["k8s.io/kubernetes/cmd/kube-apiserver"])
    assert t.startswith("//go:build tools\n")
    assert '_ "k8s.io/kubernetes/cmd/kube-apiserver"' in t
    assert "etcdmain.Main(os.Args)" in gomod.ETCD_MAIN_GO


def test_kube_version_ldflags_cover_both_packages():
    flags = gomod.kube_version_ldflags("v1.34.3", "abc123", "2025-12-09T14:59:13Z")
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        for k, v in {"gitVersion": "v1.34.3", "gitMajor": "1", "gitMinor": "34", "gitCommit": "abc123",
                     "gitTreeState": "clean", "buildDate": "2025-12-09T14:59:13Z"}.items():
            assert f"-X '{pkg}.{k}={v}'" in flags
    assert len(flags) == 12


def test_max_go_version():
    assert gomod.max_go_version("1.24.0", "1.26.0", None) == "1.26.0"
    assert gomod.max_go_version("1.9", "1.10") == "1.10"
