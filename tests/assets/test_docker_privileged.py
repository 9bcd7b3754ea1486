"""`docker run --privileged` and `docker exec` work on this host (kind's nodes need both).

On hosts whose capability bounding set lacks a capability Docker grants to privileged
containers, scripts/ensure-docker.sh installs a runc wrapper as the engine's default
runtime; this test is the proof that it does its job (and a no-op check elsewhere).
"""

from __future__ import annotations

import shutil
import subprocess
import uuid

import pytest

pytestmark = pytest.mark.docker

IMAGE = "fluxchaos/debian:bookworm"


def _docker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=timeout, text=True)


@pytest.fixture(scope="module")
def image() -> str:
    if not shutil.which("docker") or _docker("info", timeout=20).returncode != 0:
        pytest.skip("Docker engine not reachable (run scripts/ensure-docker.sh)")
    if _docker("image", "inspect", IMAGE).returncode != 0:
        pytest.skip(f"{IMAGE} is not built (run `python -m pytest_fluxchaos.assets build`)")
    return IMAGE


def test_privileged_container_starts_and_exec_works(image: str) -> None:
    name = f"fluxchaos-priv-{uuid.uuid4().hex[:8]}"
    try:
        run = _docker("run", "-d", "--privileged", "--name", name, image, "sleep", "120")
        assert run.returncode == 0, run.stdout
        ex = _docker("exec", name, "sh", "-c", "grep CapEff /proc/self/status && echo exec-ok")
        assert ex.returncode == 0 and "exec-ok" in ex.stdout, ex.stdout
        ex = _docker("exec", "--privileged", name, "mount", "-t", "tmpfs", "none", "/mnt")
        assert ex.returncode == 0, ex.stdout  # privileged: CAP_SYS_ADMIN is really there
    finally:
        _docker("rm", "-f", name)


def test_capfilter_only_where_needed() -> None:
    """The wrapper is the default runtime exactly when the bounding set lacks capabilities."""
    if not shutil.which("docker") or _docker("info", timeout=20).returncode != 0:
        pytest.skip("Docker engine not reachable (run scripts/ensure-docker.sh)")
    bnd = int(next(ln.split()[1] for ln in open("/proc/self/status") if ln.startswith("CapBnd:")), 16)
    last = int(open("/proc/sys/kernel/cap_last_cap").read())
    lacking = [i for i in range(last + 1) if not bnd >> i & 1]
    default = _docker("info", "--format", "{{.DefaultRuntime}}").stdout.strip()
    if lacking:
        assert default == "runc-capfilter", "run scripts/ensure-docker.sh to install the runc wrapper"
    else:
        assert default != "runc-capfilter"
