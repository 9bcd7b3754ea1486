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

from ...domain import BackendError
from .cgroups import NODE_CGROUP_ROOT

DOCKER = "docker"
DOCKER_HINT = "install Docker (kind runs its nodes as Docker containers) and start the engine"


def _last_lines(text: str, limit: int = 400) -> str:
    """A tool's last four non-empty lines joined by `` | `` (errors come last)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return " | ".join(lines[-4:])[-limit:]


class CommandTimeout(BackendError):
    """A command did not finish in time; ``output`` is what it printed until then."""

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


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
        except OSError as exc:  # ENOEXEC (another architecture, not a binary), EACCES, ...
            raise BackendError(f"`{args[0]}` cannot be run ({exc.strerror or exc}): a binary for another "
                               "architecture, or not a program?") from None
        except subprocess.TimeoutExpired as exc:
            raise CommandTimeout(f"`{label}` did not finish within {timeout:g}s",
                                 _text(exc.stdout)) from None
        result = Result(args, proc.returncode, proc.stdout or "", proc.stderr or "")
        if check and proc.returncode != 0:
            raise BackendError(f"`{label}` failed (exit {proc.returncode}): "
                               f"{_last_lines(result.stderr or result.stdout) or 'no output'}")
        return result


# -- docker ------------------------------------------------------------------------------


def docker_server_version() -> list[str]:
    return [DOCKER, "version", "--format", "{{.Server.Version}}"]


def docker_exec(node: str, *command: str, env: Mapping[str, str] | None = None,
                stdin: bool = False, user: str | None = None) -> list[str]:
    args = [DOCKER, "exec"]
    if stdin:
        args.append("-i")
    if user is not None:
        args += ["--user", user]
    for key, value in (env or {}).items():
        args += ["-e", f"{key}={value}"]
    return args + [node, *command]


def crictl_inspect(node: str, container_id: str) -> list[str]:
    return docker_exec(node, "crictl", "inspect", container_id)


def read_proc_cgroup(node: str, pid: int) -> list[str]:
    return docker_exec(node, "cat", f"/proc/{pid}/cgroup")


def kill_pid(node: str, pid: int, signal: str = "KILL") -> list[str]:
    return docker_exec(node, "kill", f"-{signal}", str(pid))


def host_helper(node: str, script: str, env: Mapping[str, str]) -> list[str]:
    """``sh -c script`` as root (uid 0) in the node container, with ``env`` and ``CG``.

    The node's ``/sys/fs/cgroup`` is the helper's ``CG`` (it overrides one in ``env``):
    paths read from ``/proc/<pid>/cgroup`` inside the node are relative to the node's
    cgroup namespace, which is exactly that mount.
    """
    return docker_exec(node, "sh", "-c", script, env={**env, "CG": NODE_CGROUP_ROOT}, user="0")


def curl_via_dns(node: str, dns_ip: str, url: str) -> list[str]:
    """``curl url`` on the node with the name resolved by ``dns_ip`` (CoreDNS), not the
    node's own resolver: a private mount namespace gets a resolv.conf naming it."""
    script = ('printf "nameserver %s\\noptions ndots:0\\n" "$1" > /tmp/fluxchaos-resolv.conf'
              ' && mount --bind /tmp/fluxchaos-resolv.conf /etc/resolv.conf'
              ' && exec curl -sS -o /dev/null -m 3 -f "$2"')
    return docker_exec(node, "unshare", "-m", "sh", "-c", script, "sh", dns_ip, url)


def ctr_task(node: str, verb: str, container_id: str) -> list[str]:
    """containerd's own task control (``pause`` uses the cgroup freezer, ``resume`` thaws)."""
    return docker_exec(node, "ctr", "--namespace", "k8s.io", "tasks", verb, container_id)


def write_node_file(node: str, path: str) -> list[str]:
    """Write stdin to ``path`` on the node (directories created)."""
    return docker_exec(node, "sh", "-c", 'mkdir -p "$(dirname "$1")" && cat > "$1"', "sh", path,
                       stdin=True)


def remove_node_paths(node: str, paths: Sequence[str]) -> list[str]:
    return docker_exec(node, "rm", "-rf", *paths)


def docker_stop(name: str, grace: int = 2) -> list[str]:
    return [DOCKER, "stop", "-t", str(grace), name]


def docker_start(name: str) -> list[str]:
    return [DOCKER, "start", name]


def inspect_container(name: str, template: str) -> list[str]:
    return [DOCKER, "inspect", "--type", "container", "-f", template, name]


def container_ip(name: str, network: str) -> list[str]:
    """The container's IPv4 address on ``network`` (empty output: not on it)."""
    return inspect_container(name, f'{{{{(index .NetworkSettings.Networks "{network}").IPAddress}}}}')


def inspect_network(name: str) -> list[str]:
    return [DOCKER, "network", "inspect", "-f", "{{.Id}}", name]


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


def docker_save(image: str, path: str, platform: str | None) -> list[str]:
    return [DOCKER, "save", *(["--platform", platform] if platform else []), "-o", path, image]


def ctr_import(node: str, archive: str) -> list[str]:
    """kind's own node import (``nodeutils.LoadImageArchive``) for the node's platform only."""
    return docker_exec(node, "ctr", "--namespace=k8s.io", "images", "import", "--digests",
                       "--snapshotter=overlayfs", archive)


def kind_export_logs(kind: str, cluster: str, directory: str) -> list[str]:
    return [kind, "export", "logs", directory, "--name", cluster]


def parse_cluster_list(stdout: str) -> list[str]:
    """``kind get clusters`` prints one name a line ("No kind clusters found." on stderr)."""
    return [ln.strip() for ln in stdout.splitlines() if ln.strip() and " " not in ln.strip()]
