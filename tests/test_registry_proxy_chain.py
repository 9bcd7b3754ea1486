"""The registry-proxy image's process model without Docker: its entrypoint script, as
shipped, runs the real ``toxiproxy-server`` and registry liar (built by the asset steps)
in front of a real registry, in a private network namespace (the entrypoint binds
0.0.0.0 and fixed ports, as in its container). Toxiproxy -> liar -> registry must carry
a listing, a lie and a latency toxic; the container must end when either server does."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from liar_stack import binaries

from pytest_fluxchaos.assets import program_images
from pytest_fluxchaos.assets.build import Builder, default_cache_dir

pytestmark = pytest.mark.go
ROOT = Path(__file__).resolve().parents[1]


def test_the_entrypoint_chains_toxiproxy_the_liar_and_the_registry(tmp_path: Path) -> None:
    if subprocess.run(["unshare", "--net", "--map-root-user", "true"], capture_output=True).returncode != 0:
        pytest.skip("cannot make a private network namespace here (unshare --net --map-root-user)")
    assert shutil.which("ip"), "iproute2's ip is needed to bring up the namespace's loopback"
    registry, liar = binaries()
    toxiproxy = program_images.toxiproxy_binary(Builder(default_cache_dir(), progress=print))
    child = f"ip link set lo up && exec {sys.executable} {Path(__file__).with_name('proxy_chain_child.py')} " \
            f"{tmp_path} {registry} {toxiproxy} {liar}"
    proc = subprocess.run(["unshare", "--net", "--map-root-user", "bash", "-c", child], capture_output=True,
                          text=True, timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/sbin:/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-2000:] + (tmp_path / "proxy.log").read_text()[-1500:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"\n[measure] the proxy chain on the host: {out}")
    assert out["upstream"] == "127.0.0.1:5001"
    assert out["through"] == out["direct"] == ["1.0.0", "1.1.0", "1.2.0"]
    assert out["through_truncated"] == ["1.0.0"] and out["lies_logged"] == [True]
    assert out["probe_latency_s"] - out["probe_s"] >= 0.4
    assert out["entrypoint_exit"] != 0 and out["toxiproxy_ended"] is True
