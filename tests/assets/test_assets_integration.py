"""ensure_assets() against the real Docker engine.

Runs whenever a Docker engine answers; a cold cache builds everything from the
Go module proxy first (tens of minutes on 2 cores), a warm one takes about a
second.  Set FLUXCHAOS_SKIP_ASSET_BUILD=1 to skip instead of building when the
cache is cold.  Registry traffic stays on 127.0.0.1.
"""

import json
import os
import subprocess
import time
import urllib.request

import pytest
from realenv import not_built, warm_assets

from pytest_fluxchaos.assets import Assets, AssetError, ensure_assets

pytestmark = pytest.mark.docker

FLUX = os.environ.get("FLUXCHAOS_TEST_FLUX_VERSION", "2.9.4")
# Flux release -> image-reflector-controller release (from Flux's release notes).
IRC_OF_FLUX = {"2.9.4": "v1.2.4", "2.9.3": "v1.2.3", "2.3.0": "v0.32.0"}


def _docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)


@pytest.fixture(scope="module")
def assets() -> Assets:
    if os.environ.get("FLUXCHAOS_SKIP_ASSET_BUILD") and warm_assets(FLUX) is None:
        pytest.skip(not_built(FLUX))
    try:
        return ensure_assets(FLUX)
    except AssetError as exc:
        pytest.fail(f"ensure_assets failed: {exc}")


def test_images_exist_and_are_labelled(assets):
    refs = [assets.irc_image, assets.etcd_image, assets.apiserver_image, assets.registry_image, assets.stress_image]
    out = _docker("image", "inspect", "--format", "{{json .Config.Labels}}", *refs)
    assert out.returncode == 0, out.stdout.decode()
    labels = [json.loads(line) or {} for line in out.stdout.decode().splitlines()]
    assert len(labels) == len(refs)
    if assets.source == "offline-build":
        assert all(lab.get("io.fluxchaos.asset") == "true" for lab in labels)
    # official images come from ghcr.io (online); everything else was built here
    assert assets.source == ("online" if assets.irc_image.startswith("ghcr.io/") else "offline-build")
    assert assets.irc_version == IRC_OF_FLUX[FLUX]


def test_irc_image_runs_help_as_65534(assets):
    out = _docker("run", "--rm", assets.irc_image, "--help")
    text = out.stdout.decode()
    assert "--storage-path" in text, text[-2000:]
    assert "--enable-leader-election" in text
    user = _docker("image", "inspect", "--format", "{{.Config.User}} {{json .Config.Entrypoint}}",
                   assets.irc_image).stdout.decode().strip()
    assert user == '65534:65534 ["image-reflector-controller"]'
    ident = _docker("run", "--rm", "--entrypoint", "id", assets.irc_image).stdout.decode()
    assert "uid=65534" in ident and "gid=65534" in ident


def test_control_plane_binaries_report_versions(assets):
    etcd = _docker("run", "--rm", assets.etcd_image, "etcd", "--version").stdout.decode()
    assert "etcd Version: 3.6." in etcd, etcd
    kas = _docker("run", "--rm", assets.apiserver_image, "kube-apiserver", "--version").stdout.decode()
    assert kas.strip().startswith("Kubernetes v1.34."), kas


def test_stress_image_has_tools(assets):
    out = _docker("run", "--rm", assets.stress_image, "sh", "-c",
                  "stress-ng --version && nsenter --version && ps --version").stdout.decode()
    assert "stress-ng" in out and "nsenter" in out and "procps" in out


def test_manifests(assets):
    d = assets.manifests_dir
    crds = sorted(p.name for p in (d / "crds").glob("*.yaml"))
    assert "image.toolkit.fluxcd.io_imagepolicies.yaml" in crds
    assert "image.toolkit.fluxcd.io_imagerepositories.yaml" in crds
    assert (d / "rbac" / "role.yaml").exists()
    assert (d / "rbac" / "leader_election_role.yaml").exists()
    dep = (d / "deployment.yaml").read_text()
    assert "image-reflector-controller" in dep and "--enable-leader-election" in dep


def test_registry_serves_on_loopback(assets):
    run = _docker("run", "-d", "--label", "io.fluxchaos.managed=true", "-p", "127.0.0.1::5000",
                  assets.registry_image)
    assert run.returncode == 0, run.stdout.decode()
    cid = run.stdout.decode().strip().splitlines()[-1]
    try:
        port = _docker("port", cid, "5000/tcp").stdout.decode().split(":")[-1].strip()
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2) as resp:
                    status = resp.status
                    break
            except OSError:
                time.sleep(0.5)
        assert status == 200
        cfg = _docker("exec", cid, "cat", "/etc/distribution/config.yml").stdout.decode()
        if assets.source == "offline-build":
            assert "delete:" in cfg and "enabled: true" in cfg and "/var/lib/registry" in cfg
    finally:
        _docker("rm", "-f", "-v", cid)  # with its anonymous /var/lib/registry volume


def test_warm_call_is_fast_and_identical(assets):
    lines: list[str] = []
    t0 = time.monotonic()
    again = ensure_assets(FLUX, progress=lines.append)
    dt = time.monotonic() - t0
    assert again == assets
    assert dt < 10, (dt, lines)
    assert any("cached" in line for line in lines)
