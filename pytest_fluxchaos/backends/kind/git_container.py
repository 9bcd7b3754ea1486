"""The Git server of a kind cluster: a plain container pair on the nodes' Docker network.

As with the registry (:mod:`.registry_container`), a *holder* ``<cluster>-git`` owns the
IP on the kind network and the port published on ``127.0.0.1:<free port>``; lighttpd and
git-http-backend run in ``<cluster>-git-server`` inside the holder's network namespace.
An outage stops only the server, so the address pods use survives it. Pods reach the
holder by IP (kind's network refuses ``--ip``, and the holder is never stopped), which
needs neither CoreDNS nor the node's resolver. Repositories live in the server
container's filesystem, which a stop keeps.
"""

from __future__ import annotations

from collections.abc import Callable

from ...domain import BackendError, GitEndpoint, one_line
from ..git_http import PORT, STALE_LOCKS_SCRIPT, answers, create_repo_script, endpoint, wait_git
from ..ports import free_port
from . import commands as cmd
from .guard import container_is_ours
from .publish import run_publishing
from .registry import LABEL_CLUSTER, LABEL_MANAGED, LABEL_ROLE

Progress = Callable[[str], None]


def _labels(cluster: str, role: str) -> list[str]:
    return ["--label", f"{LABEL_MANAGED}=true", "--label", f"{LABEL_CLUSTER}={cluster}",
            "--label", f"{LABEL_ROLE}={role}"]


class GitContainer:
    """One cluster's Git server (holder + server) and its address."""

    def __init__(self, run: Callable[..., cmd.Result], cluster: str, wait_timeout: float = 30.0) -> None:
        self.run = run
        self.cluster = cluster
        self.name = f"{cluster}-git"
        self.server = f"{self.name}-server"
        self.wait_timeout = wait_timeout
        self.port: int | None = None
        self.ip: str | None = None
        self.created = False

    def endpoint(self) -> GitEndpoint:
        if self.port is None or self.ip is None:
            raise BackendError("the Git server of the kind cluster is not running (provision first)")
        return endpoint(self.port, self.ip)

    def ensure(self, image: str | None, network: str, progress: Progress) -> None:
        """Reuse this cluster's Git server (kept cluster), else run a new one; wait for it."""
        if container_is_ours(self.run, self.name, self.cluster, "Git server"):
            for container in (self.name, self.server):
                self.run(cmd.docker_start(container), timeout=60, what=f"docker start {container}")
            self.port = self._published_port()
        else:
            self.port = self._run_new(image, network)
            self.created = True
        self.ip = self._ip(network)
        progress(f"kind: Git server {self.name} on 127.0.0.1:{self.port}, {self.ip}:{PORT} for pods")
        self.wait()

    def _run_new(self, image: str | None, network: str) -> int:
        if not image:
            raise BackendError("no Git server image: run `python -m pytest_fluxchaos.assets build`")
        (port,) = run_publishing(self.run, self.name, "the Git server", lambda: (free_port(),),
                                 lambda ports: [cmd.DOCKER, "run", "-d", "--name", self.name, "--network", network,
                                                "-p", f"127.0.0.1:{ports[0]}:{PORT}",
                                                *_labels(self.cluster, "git-holder"),
                                                "--entrypoint", "sleep", image, "infinity"])
        server = self.run([cmd.DOCKER, "run", "-d", "--name", self.server, "--network", f"container:{self.name}",
                           *_labels(self.cluster, "git"), image], timeout=120, check=False)
        if server.returncode == 0:
            return port
        self.remove()
        raise BackendError(f"cannot start the Git server {self.server} ({image}): {one_line(server.stderr, 200)}")

    def _published_port(self) -> int:
        out = self.run([cmd.DOCKER, "port", self.name, f"{PORT}/tcp"], timeout=30,
                       what=f"docker port {self.name}").stdout
        for line in out.splitlines():
            _host, _, port = line.strip().rpartition(":")
            if port.isdigit():
                return int(port)
        raise BackendError(f"the Git server {self.name} publishes no port for {PORT}/tcp")

    def _ip(self, network: str) -> str:
        ip = self.run(cmd.container_ip(self.name, network), timeout=30,
                      what=f"docker inspect {self.name}").stdout.strip()
        if not ip:
            raise BackendError(f"the Git server {self.name} has no address on network {network}")
        return ip

    def wait(self) -> None:
        def logs() -> str:
            out = self.run([cmd.DOCKER, "logs", "--tail", "5", self.server], timeout=30, check=False)
            return one_line(out.stderr + out.stdout, 300)

        wait_git(self.endpoint().host_url, self.wait_timeout, logs=logs)

    def reachable(self) -> bool:
        return answers(self.endpoint().host_url)

    def create_repo(self, name: str) -> None:
        self._exec(create_repo_script(name), f"create Git repository {name}")

    def _exec(self, script: str, what: str) -> None:
        res = self.run([cmd.DOCKER, "exec", "-u", "www-data", self.server, "sh", "-c", script],
                       timeout=60, check=False)
        if res.returncode != 0:
            raise BackendError(f"cannot {what} (exit {res.returncode}): {one_line(res.stderr or res.stdout, 200)}")

    def stop(self) -> None:
        """The outage: lighttpd stops; the holder keeps the IP and the published port."""
        self.run(cmd.docker_stop(self.server), timeout=60, what=f"docker stop {self.server}")

    def start(self) -> None:
        self.run(cmd.docker_start(self.server), timeout=60, what=f"docker start {self.server}")
        self._exec(STALE_LOCKS_SCRIPT, "remove stale Git locks")
        self.wait()

    def remove(self) -> None:
        for container in (self.server, self.name):
            try:
                self.run([cmd.DOCKER, "rm", "-f", "-v", container], timeout=60, check=False)
            except BaseException:  # noqa: BLE001 - teardown: best effort
                pass
