"""The run's Git server container (git-http-backend behind lighttpd), published on
127.0.0.1 only and reached in the environment as ``<prefix>-git:8080`` on the private
network (Docker's DNS: the name survives a stop/start outage). Repositories live in the
container's filesystem, which a stop keeps; no volume."""

from __future__ import annotations

from ...domain import BackendError, GitEndpoint, one_line
from ..git_http import PORT, STALE_LOCKS_SCRIPT, answers, create_repo_script, endpoint, wait_git
from .client import Containers
from .labels import LABEL_ROLE


class GitContainer:
    def __init__(self, containers: Containers, prefix: str, network: str) -> None:
        self.c = containers
        self.network = network
        self.name = f"{prefix}-git"
        self.port: int | None = None

    def start(self, image: str) -> None:
        _, self.port = self.c.run_published(self.name, image, PORT, None, network=self.network,
                                            labels=self.c.label(**{LABEL_ROLE: "git"}))

    def wait(self, timeout: float = 30.0) -> None:
        def exited() -> str | None:
            state = self.c.state(self.name)
            return None if state.get("Running") else f"exit code {state.get('ExitCode')}"

        wait_git(self.endpoint().host_url, timeout, exited=exited, logs=lambda: self.c.logs_tail(self.name))

    def endpoint(self) -> GitEndpoint:
        return endpoint(self.port or 0, self.name)

    def reachable(self) -> bool:
        return answers(self.endpoint().host_url)

    def create_repo(self, name: str) -> None:
        self._exec(create_repo_script(name), f"create Git repository {name}")

    def stop(self) -> None:
        self.c.api.stop(self.name, timeout=2)

    def start_again(self) -> None:
        if not self.c.state(self.name).get("Running"):
            self.c.api.start(self.name)
            self._exec(STALE_LOCKS_SCRIPT, "remove stale Git locks")
        self.wait()

    def _exec(self, script: str, what: str) -> None:
        api = self.c.api
        try:
            exec_id = api.exec_create(self.name, ["sh", "-c", script], user="www-data")["Id"]
            out = api.exec_start(exec_id).decode(errors="replace")
            code = api.exec_inspect(exec_id).get("ExitCode")
        except Exception as exc:  # noqa: BLE001 - stopped container, Docker error: one line
            raise BackendError(f"cannot {what} in {self.name}: {one_line(exc, 200)}") from None
        if code != 0:
            raise BackendError(f"cannot {what} in {self.name} (exit {code}): {one_line(out, 200)}")
