"""cgroup path resolution and container PID lookup for the kind OOM helper."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from pytest_fluxchaos.domain import BackendError
from pytest_fluxchaos.faults.oom_helper import SCRIPT as HELPER_SCRIPT
from pytest_fluxchaos.backends.kind.cgroups import (MemoryCgroup, parse_proc_cgroup,
                                                    pid_from_crictl_inspect, strip_runtime_scheme)

POD = "kubelet-kubepods-burstable-pod0f1e2d3c_4b5a_6978_8a9b_0c1d2e3f4a5b.slice"
CID = "3f4e5d6c7b8a99887766554433221100ffeeddccbbaa00998877665544332211"
SCOPE = f"/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/{POD}/cri-containerd-{CID}.scope"

# A container in a kind node on a cgroup v1 host (hybrid: the unified line is "0::/").
V1_KIND = f"""12:misc:/
11:hugetlb:{SCOPE}
10:perf_event:{SCOPE}
9:name=systemd:{SCOPE}
8:pids:{SCOPE}
7:blkio:{SCOPE}
6:freezer:{SCOPE}
5:devices:{SCOPE}
4:memory:{SCOPE}
3:cpuset:{SCOPE}
2:cpu,cpuacct:{SCOPE}
1:net_cls,net_prio:{SCOPE}
0::/
"""

# The same container on a cgroup v2 host (pure unified hierarchy).
V2_KIND = f"0::{SCOPE}\n"

# cgroupfs driver on v1, memory co-mounted with another controller.
V1_COMOUNTED = "5:devices:/kubepods/pod1/abc\n4:memory,hugetlb:/kubepods/burstable/pod1/abc\n0::/\n"

# This project's CI host (a process in a Docker container, cgroup v1).
V1_HOST = """9:name=systemd:/
8:pids:/
4:memory:/process_api/fa0685d319770f214c8458fe6f153f12
1:cpu:/
0::/
"""


@pytest.mark.parametrize("text,version,path", [
    (V1_KIND, 1, SCOPE),
    (V2_KIND, 2, SCOPE),
    (V1_COMOUNTED, 1, "/kubepods/burstable/pod1/abc"),
    (V1_HOST, 1, "/process_api/fa0685d319770f214c8458fe6f153f12"),
    ("0::/\n", 2, "/"),
    # A named hierarchy called "memoryish" is not the memory controller.
    ("3:name=memoryish:/x\n0::/y\n", 2, "/y"),
])
def test_parse_proc_cgroup(text: str, version: int, path: str) -> None:
    assert parse_proc_cgroup(text) == MemoryCgroup(version, path)


def test_no_memory_cgroup_is_an_error() -> None:
    with pytest.raises(BackendError, match="no memory cgroup"):
        parse_proc_cgroup("1:cpu:/a\n2:pids:/a\n")
    with pytest.raises(BackendError):
        parse_proc_cgroup("")


def test_directories_and_files() -> None:
    v1, v2 = parse_proc_cgroup(V1_KIND), parse_proc_cgroup(V2_KIND)
    assert v1.directory() == "/sys/fs/cgroup/memory" + SCOPE
    assert v2.directory() == "/sys/fs/cgroup" + SCOPE
    assert v2.directory("/host/cgroup/") == "/host/cgroup" + SCOPE
    assert MemoryCgroup(2, "/").directory() == "/sys/fs/cgroup"
    assert (v1.limit_file, v1.events_file) == ("memory.limit_in_bytes", "memory.oom_control")
    assert (v2.limit_file, v2.events_file) == ("memory.max", "memory.events")


def _script_awk(pattern: str) -> str:
    m = re.search(pattern, HELPER_SCRIPT)
    assert m, f"the helper script changed: {pattern}"
    return m.group(1)


@pytest.mark.skipif(shutil.which("awk") is None, reason="awk not installed")
@pytest.mark.parametrize("text", [V1_KIND, V2_KIND, V1_COMOUNTED, V1_HOST, "0::/\n"])
def test_the_shell_helper_resolves_the_same_cgroup(tmp_path, text: str) -> None:
    """The helper script (run on the node) and the Python evidence agree."""
    v1_prog = _script_awk(r"v1=\$\(awk -F: '([^']+)'")
    v2_prog = _script_awk(r"rel=\$\(awk -F: '([^']+)'")
    f = tmp_path / "cgroup"
    f.write_text(text)
    v1 = subprocess.run(["awk", "-F:", v1_prog, str(f)], capture_output=True, text=True, check=True).stdout.strip()
    expected = parse_proc_cgroup(text)
    if v1:
        assert (1, v1) == (expected.version, expected.path)
    else:
        v2 = subprocess.run(["awk", "-F:", v2_prog, str(f)], capture_output=True, text=True,
                            check=True).stdout.strip()
        assert (2, v2) == (expected.version, expected.path)


def test_pid_from_crictl_inspect() -> None:
    containerd = {"status": {"id": CID, "state": "CONTAINER_RUNNING"}, "info": {"pid": 4242, "sandboxID": "x"}}
    assert pid_from_crictl_inspect(json.dumps(containerd)) == 4242
    assert pid_from_crictl_inspect(json.dumps({"pid": 77, "status": {}})) == 77  # CRI-O
    stopped = {"status": {"state": "CONTAINER_EXITED"}, "info": {"pid": 0}}
    with pytest.raises(BackendError, match="no running process .*CONTAINER_EXITED"):
        pid_from_crictl_inspect(json.dumps(stopped))
    with pytest.raises(BackendError, match="no JSON"):
        pid_from_crictl_inspect("FATA[0000] no such container")


def test_strip_runtime_scheme() -> None:
    assert strip_runtime_scheme(f"containerd://{CID}") == CID
    assert strip_runtime_scheme("cri-o://abc") == "abc"
    assert strip_runtime_scheme("abc") == "abc"
    assert strip_runtime_scheme(None) is None and strip_runtime_scheme("") is None
