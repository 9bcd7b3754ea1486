"""Every failure is one AssetError line that says what to do.

Conditions are simulated through PATH (fake ``go``/``docker`` scripts or none
at all), DOCKER_HOST (an engine socket that does not exist) and GOPROXY (a
closed port on the loopback interface); nothing leaves the machine.
"""

import os
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_fluxchaos.assets import AssetError, ensure_assets
from pytest_fluxchaos.assets import tools
from pytest_fluxchaos.assets.build import Builder

REPO = Path(__file__).resolve().parents[2]


def _script(bindir: Path, name: str, body: str) -> None:
    p = bindir / name
    p.write_text("#!/bin/sh\n" + body)
    p.chmod(p.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def _one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert msg and "\n" not in msg
    return msg


@pytest.fixture
def bindir(tmp_path, monkeypatch):
    """An otherwise empty PATH (plus sh/coreutils so scripts can run)."""
    d = tmp_path / "bin"
    d.mkdir()
    for tool in ("sh", "cat", "echo", "tar"):
        real = shutil.which(tool)
        if real:
            os.symlink(real, d / tool)
    monkeypatch.setenv("PATH", str(d))
    return d


FAKE_DOCKER_UP = """\
case "$1" in
  info) echo 20.10.24 ;;
  image) exit 1 ;;
  *) echo "fake docker: $*" >&2; exit 1 ;;
esac
"""


def fake_go(error_text: str) -> str:
    return f"""\
case "$1 $2" in
  "env GOVERSION") echo go1.26.8 ;;
  "mod download") printf '%s\\n' '{{"Path": "x", "Version": "v1", "Error": "{error_text}"}}'; exit 1 ;;
  *) echo "{error_text}" >&2; exit 1 ;;
esac
"""


# --------------------------------------------------------------------------- Go


def test_no_go_on_path(bindir):
    with pytest.raises(AssetError) as ei:
        tools.require_go()
    msg = _one_line(ei)
    assert "Go toolchain not found" in msg and "install Go" in msg


def test_no_go_on_path_through_ensure_assets(bindir, tmp_path):
    _script(bindir, "docker", FAKE_DOCKER_UP)
    with pytest.raises(AssetError) as ei:
        ensure_assets("2.9.4", mode="offline", cache_dir=tmp_path / "cache", progress=lambda s: None)
    assert "Go toolchain not found" in _one_line(ei)


@pytest.mark.parametrize(
    "output, expected",
    [
        ("Get \\\\\"https://proxy.golang.org/x/@v/v1.info\\\\\": dial tcp: lookup proxy.golang.org: no such host",
         "cannot reach the Go module proxy"),
        ("write /root/go/pkg/mod/cache/download/x/@v/v1.zip: no space left on device", "disk full"),
        ("reading https://proxy.golang.org/x/@v/v1.mod: 403 Forbidden server response: This module version is not available.",
         "does not serve"),
    ],
)
def test_go_failures_are_classified(bindir, tmp_path, output, expected):
    _script(bindir, "go", fake_go(output))
    b = Builder(tmp_path / "cache", progress=lambda s: None)
    with pytest.raises(AssetError) as ei:
        b.module_info("github.com/example/x", "v1.0.0", "test")
    msg = _one_line(ei)
    assert expected in msg
    assert "github.com/example/x@v1.0.0" in msg
    assert str(tmp_path / "cache" / "logs") in msg  # points at the full log


def test_classify_go_too_old():
    err = tools.classify_go_failure("building x", "go: go.mod requires go >= 1.26.0 (running go 1.24.1; GOTOOLCHAIN=local)")
    assert "too old" in str(err) and "GOTOOLCHAIN" in str(err)


def _closed_loopback_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.skipif(shutil.which("go") is None, reason="needs the go command")
def test_proxy_unreachable_with_real_go(tmp_path, monkeypatch):
    port = _closed_loopback_port()
    monkeypatch.setenv("GOPROXY", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("GOSUMDB", "off")
    monkeypatch.setenv("GOMODCACHE", str(tmp_path / "modcache"))
    monkeypatch.setenv("GOFLAGS", "-mod=mod")
    b = Builder(tmp_path / "cache", progress=lambda s: None)
    with pytest.raises(AssetError) as ei:
        b.module_info("github.com/example/does-not-matter", "v1.0.0", "test")
    msg = _one_line(ei)
    assert "cannot reach the Go module proxy" in msg
    assert f"127.0.0.1:{port}" in msg


def test_disk_full_precheck(tmp_path, monkeypatch):
    monkeypatch.setenv("FLUXCHAOS_MIN_FREE_GB", "1000000000")
    b = Builder(tmp_path / "cache", progress=lambda s: None)
    with pytest.raises(AssetError) as ei:
        b.check_disk("building kube-apiserver v1.34.3")
    msg = _one_line(ei)
    assert "disk full" in msg and "GiB free" in msg and "FLUXCHAOS_CACHE" in msg


# ----------------------------------------------------------------------- Docker


def test_docker_missing(bindir, tmp_path):
    with pytest.raises(AssetError) as ei:
        ensure_assets("2.9.4", cache_dir=tmp_path / "cache", progress=lambda s: None)
    msg = _one_line(ei)
    assert "Docker CLI not found" in msg and "scripts/ensure-docker.sh" in msg


@pytest.mark.skipif(shutil.which("docker") is None, reason="needs the docker CLI")
def test_docker_not_running(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine-here.sock")
    with pytest.raises(AssetError) as ei:
        ensure_assets("2.9.4", cache_dir=tmp_path / "cache", progress=lambda s: None)
    msg = _one_line(ei)
    assert "Docker engine is not running" in msg and "scripts/ensure-docker.sh" in msg


def test_docker_build_disk_full_is_classified():
    err = tools.classify_docker_failure(
        "building image fluxchaos/etcd:v3.6.16",
        "Step 3/5 : COPY etcd /usr/local/bin/etcd\nfailed to copy files: write /var/lib/docker/x: no space left on device")
    assert "disk full" in str(err) and "docker system prune" in str(err)


def test_unknown_mode(tmp_path):
    with pytest.raises(AssetError) as ei:
        ensure_assets("2.9.4", mode="sideways", cache_dir=tmp_path)
    assert "auto, offline, online" in _one_line(ei)


def test_cli_reports_one_line_and_exit_2(bindir, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_fluxchaos.assets", "build", "--cache", str(tmp_path / "c")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path,
    )
    assert proc.returncode == 2
    err = proc.stderr.decode().strip()
    assert err.startswith("[assets] error: Docker CLI not found") and "\n" not in err
