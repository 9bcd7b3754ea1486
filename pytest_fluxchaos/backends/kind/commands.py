"""The docker and kind command lines the kind backend runs, and a bounded runner.

kind itself drives the ``docker`` CLI, so the backend does too: every node-level action
is a ``docker exec`` into the kind node container (kind's node containers are named
after their Kubernetes nodes). Builders are pure (unit-tested); :class:`Runner` adds a
timeout and turns failures into one-line :class:`BackendError`\\ s.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..base import BackendError
from .cgroups import NODE_CGROUP_ROOT

DOCKER = "docker"
DOCKER_HINT = "install Docker (kind runs its nodes as Docker containers) and start the engine"


def _one_line(text: str, limit: int = 400) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return " | ".join(lines[-4:])[-limit:]


@dataclass
class Result:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str


class Runner:
    """Runs a command with a timeout; ``check`` failures raise a one-line BackendError."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.env = dict(env) if env is not None else None

    def __call__(self, args: Sequence[str], *, timeout: float, input: str | None = None,
                 check: bool = True, what: str | None = None) -> Result:
        args = [str(a) for a in args]
        label = what or shlex.join(args[:4])
        try:
            proc = subprocess.run(args, input=input, capture_output=True, text=True,
                                  timeout=timeout, env=self.env, check=False)
        except FileNotFoundError:
            hint = DOCKER_HINT if args[0] == DOCKER else "install it or pass its path"
            raise BackendError(f"`{args[0]}` not found; {hint}") from None
        except subprocess.TimeoutExpired:
            raise BackendError(f"`{label}` did not finish within {timeout:g}s") from None
        result = Result(args, proc.returncode, proc.stdout or "", proc.stderr or "")
        if check and proc.returncode != 0:
            raise BackendError(f"`{label}` failed (exit {proc.returncode}): "
                               f"{_one_line(result.stderr or result.stdout) or 'no output'}")
        return result


# -- docker ------------------------------------------------------------------------------


def docker_server_version() -> list[str]:
    return [DOCKER, "version", "--format", "{{.Server.Version}}"]


def docker_exec(node: str, *command: str, env: Mapping[str, str] | None = None,
                stdin: bool = False) -> list[str]:
    args = [DOCKER, "exec"]
    if stdin:
        args.append("-i")
    for key, value in (env or {}).items():
        args += ["-e", f"{key}={value}"]
    return args + [node, *command]


def crictl_inspect(node: str, container_id: str) -> list[str]:
    return docker_exec(node, "crictl", "inspect", container_id)


def read_proc_cgroup(node: str, pid: int) -> list[str]:
    return docker_exec(node, "cat", f"/proc/{pid}/cgroup")


def kill_pid(node: str, pid: int, signal: str = "KILL") -> list[str]:
    return docker_exec(node, "kill", f"-{signal}", str(pid))


def oom_helper(node: str, pid: int, timeout: float, script: str) -> list[str]:
    """The docker backend's OOM helper script, run as a root process on the node.

    The node's ``/sys/fs/cgroup`` is the helper's ``CG``: paths read from
    ``/proc/<pid>/cgroup`` inside the node are relative to the node's cgroup namespace,
    which is exactly that mount.
    """
    env = {"TARGET_PID": str(pid), "TIMEOUT": str(int(max(timeout, 5))), "CG": NODE_CGROUP_ROOT}
    return docker_exec(node, "sh", "-c", script, env=env)


def ctr_task(node: str, verb: str, container_id: str) -> list[str]:
    """containerd's own task control (``pause`` uses the cgroup freezer, ``resume`` thaws)."""
    return docker_exec(node, "ctr", "--namespace", "k8s.io", "tasks", verb, container_id)


def write_node_file(node: str, path: str) -> list[str]:
    """Write stdin to ``path`` on the node (directories created)."""
    return docker_exec(node, "sh", "-c", 'mkdir -p "$(dirname "$1")" && cat > "$1"', "sh", path,
                       stdin=True)


def remove_node_paths(node: str, paths: Sequence[str]) -> list[str]:
    return docker_exec(node, "rm", "-rf", *paths)


def inspect_container(name: str, template: str) -> list[str]:
    return [DOCKER, "inspect", "--type", "container", "-f", template, name]


def inspect_image(ref: str) -> list[str]:
    return [DOCKER, "image", "inspect", "-f", "{{.Id}}", ref]


# -- kind ---------------------------------------------------------------------------------


def kind_get_clusters(kind: str) -> list[str]:
    return [kind, "get", "clusters"]


def kind_get_nodes(kind: str, cluster: str) -> list[str]:
    return [kind, "get", "nodes", "--name", cluster]


def kind_get_kubeconfig(kind: str, cluster: str) -> list[str]:
    return [kind, "get", "kubeconfig", "--name", cluster]


def kind_load_image(kind: str, cluster: str, image: str) -> list[str]:
    """What pytest-kind's ``KindCluster.load_docker_image`` runs (here with a timeout)."""
    return [kind, "load", "docker-image", "--name", cluster, image]


def parse_cluster_list(stdout: str) -> list[str]:
    """``kind get clusters`` prints one name a line ("No kind clusters found." on stderr)."""
    return [ln.strip() for ln in stdout.splitlines() if ln.strip() and " " not in ln.strip()]
