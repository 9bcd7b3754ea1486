"""Nothing left behind on kind: a failing run and Ctrl-C (SIGINT to the pytest process).

Each test runs a tiny suite on a real kind cluster of its own name in a separate
pytest process, then asks kind and Docker what is left: the cluster, its node
container, the registry (holder and server) and, when the run created it, kind's
``kind`` network. The failing run must also have exported ``kind export logs`` into
its artifacts *before* the cluster was deleted (the nightly's "cluster state on
failure"). The interrupted run is stopped while its scenario runs (after "running N
steps"), the moment a Ctrl-C most often lands.

Missing kind assets are a failure (build them); without Docker the marker skips.
About 3 minutes on 2 cores.
"""

from __future__ import annotations

import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from realenv import warm_assets

from pytest_fluxchaos.assets import cached_kind
from pytest_fluxchaos.waiting import wait_until

pytestmark = [pytest.mark.docker, pytest.mark.kind]

SUITE = """\
suite: teardown
scenarios:
  - name: {name}
    variants: [single]
    images:
      - name: app
        tags: [1.0.0, 1.1.0]
    repositories:
      - {{name: app, image: app, interval: 10s}}
    policies:
      - {{name: app, repository: app, policy: {{semver: {{range: ">=1.0.0"}}}}}}
    steps:
      - push: {{image: app, tags: [1.0.0, 1.1.0]}}
      - after: {{policy: app, tag: 1.1.0, timeout: 60s}}
{extra}
    bounds: {{converge: 20s, settle: 2s, stuck: 60s, wait: 60s, timeout: 5m}}
"""
# No fault, so no-regression is true: expecting false makes the item FAIL.
FAILING = SUITE.format(name="fails", extra="    expect:\n      single: {no-regression: false}")
LONG = SUITE.format(name="long", extra="      - delay: 3m")


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def kind_bin() -> str:
    kit = cached_kind()
    if kit is None:
        pytest.fail("the kind assets are not built: run `python -m pytest_fluxchaos.assets build --kind`",
                    pytrace=False)
    if warm_assets("2.9.4") is None:
        pytest.fail("the controller images are not built: run `python -m pytest_fluxchaos.assets build`",
                    pytrace=False)
    return str(kit.kind_bin)


def start(tmp_path: Path, suite: str, cluster: str) -> subprocess.Popen:
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "x.yaml").write_text(suite)
    args = [sys.executable, "-m", "pytest", "-p", "fluxchaos", "-p", "no:cacheprovider", "suites/x.yaml",
            f"--rootdir={tmp_path}", "--fluxchaos-backend=kind", f"--cluster-name={cluster}",
            f"--fluxchaos-artifacts={tmp_path / 'artifacts'}"]
    return subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def left_behind(kind_bin: str, cluster: str, network_before: bool) -> list[str]:
    left = [f"cluster {cluster}"] if cluster in _run(kind_bin, "get", "clusters").stdout.split() else []
    left += [f"container {n}" for n in _run("docker", "ps", "-a", "--format", "{{.Names}}").stdout.split()
             if n.startswith(cluster)]
    if not network_before and _run("docker", "network", "inspect", "kind").returncode == 0:
        users = _run("docker", "network", "inspect", "-f", "{{range .Containers}}{{.Name}} {{end}}", "kind")
        if not users.stdout.strip():  # another cluster's nodes may use it by now
            left.append("network kind")
    return left


def clean(kind_bin: str, cluster: str) -> None:
    _run(kind_bin, "delete", "cluster", "--name", cluster, timeout=300)
    for name in _run("docker", "ps", "-a", "--format", "{{.Names}}").stdout.split():
        if name.startswith(cluster):
            _run("docker", "rm", "-f", "-v", name)


def test_a_failing_run_exports_kind_logs_and_leaves_nothing(tmp_path: Path, kind_bin: str) -> None:
    cluster = f"fc-td-{secrets.token_hex(2)}"
    network_before = _run("docker", "network", "inspect", "kind").returncode == 0
    proc = start(tmp_path, FAILING, cluster)
    try:
        out, _ = proc.communicate(timeout=900)
        assert proc.returncode == 1, out[-3000:]  # the item failed (expected no-regression false)
        assert "1 failed" in out, out[-3000:]
        logs = tmp_path / "artifacts" / f"kind-logs-{cluster}"
        assert (logs / f"{cluster}-control-plane" / "kubelet.log").is_file(), (
            sorted(p.name for p in logs.rglob("*"))[:20], out[-2000:])
    finally:
        if proc.poll() is None:
            proc.kill()
        left = left_behind(kind_bin, cluster, network_before)
        clean(kind_bin, cluster)
    assert left == []


def test_ctrl_c_while_the_scenario_runs_leaves_nothing(tmp_path: Path, kind_bin: str) -> None:
    cluster = f"fc-td-{secrets.token_hex(2)}"
    network_before = _run("docker", "network", "inspect", "kind").returncode == 0
    proc = start(tmp_path, LONG, cluster)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:
        wait_until(lambda: any("running" in ln and "steps" in ln for ln in lines) or proc.poll() is not None,
                   600, what="the scenario to start running", interval=0.5)
        assert proc.poll() is None, "".join(lines)[-3000:]
        assert cluster in _run(kind_bin, "get", "clusters").stdout.split()  # there was something to remove
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=300)
        took = time.monotonic() - t0
        reader.join(timeout=10)
        out = "".join(lines)
        assert proc.returncode == 2, out[-3000:]  # pytest's "interrupted"
        assert "KeyboardInterrupt" in out
    finally:
        if proc.poll() is None:
            proc.kill()
        left = left_behind(kind_bin, cluster, network_before)
        clean(kind_bin, cluster)
    assert left == [], "".join(lines)[-2000:]
    assert took < 120, f"teardown after Ctrl-C took {took:.0f}s"
