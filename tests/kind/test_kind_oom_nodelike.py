"""The kind OOM path for real, in a container shaped like a kind node.

A kind node is a privileged Docker container with a private cgroup namespace; the
backend's ``run_host_helper`` runs the OOM helper in it with ``docker exec``. This test
builds exactly that situation without a node image: a privileged,
``--cgroupns=private`` container, a child memory cgroup with a 64 MiB limit holding a
victim process (standing in for the controller), then the backend's own primitive
(with a fake API placing the pod on that "node").
It checks that the helper resolves the cgroup from ``/proc/<pid>/cgroup`` the way
:func:`parse_proc_cgroup` does and that the kernel OOM-kills the victim, not the hog.
cgroup v1 and v2 hosts are both handled (v2 needs the nested ``subtree_control`` dance
that systemd performs in a real node).
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from realenv import require_assets

from kindfakes import FakeKube, pod
from pytest_fluxchaos.backends.kind import KindBackend, KindOptions
from pytest_fluxchaos.backends.kind import commands as cmd
from pytest_fluxchaos.backends.kind.cgroups import parse_proc_cgroup
from pytest_fluxchaos.backends.kind.guard import ClusterPlan
from pytest_fluxchaos.faults.oom_helper import SCRIPT, parse_report

pytestmark = pytest.mark.docker

LIMIT = 64 * 1024 * 1024

SETUP = r"""
set -eu
# Without --privileged (engines that lack CAP_SYS_RESOURCE cannot start privileged
# containers) the cgroup mounts are read-only: mount them rw, as a privileged node has.
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  touch /sys/fs/cgroup/.rw 2>/dev/null || { umount /sys/fs/cgroup; mount -t cgroup2 cgroup2 /sys/fs/cgroup; }
else
  mkdir /sys/fs/cgroup/memory/.rw 2>/dev/null && rmdir /sys/fs/cgroup/memory/.rw || {
    umount /sys/fs/cgroup/memory; mount -t cgroup -o memory cgroup /sys/fs/cgroup/memory; }
fi
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  # v2: no processes may live in a cgroup that delegates controllers
  mkdir -p /sys/fs/cgroup/init
  for p in $(cat /sys/fs/cgroup/cgroup.procs); do echo "$p" > /sys/fs/cgroup/init/cgroup.procs 2>/dev/null || true; done
  echo +memory > /sys/fs/cgroup/cgroup.subtree_control
  mkdir -p /sys/fs/cgroup/victim
  echo LIMIT > /sys/fs/cgroup/victim/memory.max
  dir=/sys/fs/cgroup/victim
else
  mkdir -p /sys/fs/cgroup/memory/victim
  echo LIMIT > /sys/fs/cgroup/memory/victim/memory.limit_in_bytes
  dir=/sys/fs/cgroup/memory/victim
fi
# The victim holds ~8 MB (like a controller's heap) so it out-scores an unprotected hog.
setsid sh -c 'echo $$ > "$1/cgroup.procs"; echo $$ > /tmp/victim.pid
  x=$(head -c 8000000 /dev/zero | tr "\0" a); sleep 600' victim "$dir" </dev/null >/dev/null 2>&1 &
for i in 1 2 3 4 5 6 7 8 9 10; do [ -s /tmp/victim.pid ] && break; sleep 0.2; done
sleep 1
cat /tmp/victim.pid
""".replace("LIMIT", str(LIMIT))


def _docker(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120, **kw)


CAP_SYS_RESOURCE = 24  # linux/capability.h


class Node(NamedTuple):
    name: str
    privileged: bool  # started --privileged (all the capabilities the engine holds)


def _has_cap_sys_resource(node: str) -> bool:
    """Whether a process in the node may lower oom_score_adj (from its effective capabilities)."""
    status = _docker("exec", node, "grep", "^CapEff:", "/proc/self/status")
    assert status.returncode == 0, status.stderr
    return bool(int(status.stdout.split()[1], 16) >> CAP_SYS_RESOURCE & 1)


@pytest.fixture
def nodelike() -> Iterator[Node]:
    image = require_assets().stress_image  # fluxchaos/stress:bookworm, built with the asset set
    name = f"fluxchaos-nodelike-{secrets.token_hex(3)}"
    common = ["run", "-d", "--cgroupns=private", "--name", name, "--label", "io.fluxchaos.managed=true"]
    run = _docker(*common, "--privileged", image, "sleep", "infinity")
    privileged = run.returncode == 0
    if not privileged:  # e.g. an engine without CAP_SYS_RESOURCE: the closest we can get
        _docker("rm", "-f", name)
        run = _docker(*common, "--cap-add", "SYS_ADMIN", "--security-opt", "apparmor=unconfined",
                      image, "sleep", "infinity")
    if run.returncode != 0:
        pytest.skip(f"cannot start a --cgroupns=private container with SYS_ADMIN: {run.stderr.strip()[:200]}")
    try:
        yield Node(name, privileged)
    finally:
        _docker("rm", "-f", name)


def test_oom_helper_kills_the_victim_inside_a_node_like_container(nodelike: Node, tmp_path: Path) -> None:
    node = nodelike.name
    setup = _docker("exec", node, "sh", "-c", SETUP)
    assert setup.returncode == 0, setup.stderr
    pid = int(setup.stdout.split()[-1])
    run = cmd.Runner()
    expected = parse_proc_cgroup(run(cmd.read_proc_cgroup(node, pid), timeout=30).stdout)
    assert expected.path == "/victim"
    assert expected.directory("") == ("/memory/victim" if expected.version == 1 else "/victim")

    backend = KindBackend(None, KindOptions(workdir=tmp_path / "w"), runner=run, run_dir=tmp_path / "run")
    backend._kube, backend.plan, backend._provisioned = (FakeKube([pod("irc-a", node=node)]),
                                                         ClusterPlan("create", "fluxchaos", True), True)
    result = backend.run_host_helper("ns", "irc-a", SCRIPT, {"TARGET_PID": str(pid), "TIMEOUT": "30"}, 90)
    report = parse_report(result.output)
    assert (result.exit_code, result.error) == (0, None), result.output
    assert report.cgroup == expected.directory("")  # the helper reports the path below CG
    assert report.cgroup_version == expected.version
    assert report.limit == LIMIT
    # A node holding CAP_SYS_RESOURCE sets the hog's oom_score_adj to -1000; without it
    # (--privileged grants only what the engine itself holds) the helper raises the
    # victim's to 1000 instead. Either way the victim must die.
    assert report.hog_protected is _has_cap_sys_resource(node), report
    assert report.victim == "controller", report  # the kernel chose the victim, not the hog
    assert (report.kernel_oom_kills or 0) >= 1
    gone = _docker("exec", node, "sh", "-c", f"test -d /proc/{pid} && awk '{{print $3}}' /proc/{pid}/stat")
    assert gone.stdout.strip() in ("", "Z")
