"""What both backends share about the Git server: repository names, the script that
creates a repository, and "does it answer" from the host (see assets/git_server.py)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable

import requests

from ..assets.git_server import PORT, REPO_ROOT, URL_PREFIX
from ..domain import BackendError, GitEndpoint, WaitTimeout
from ..waiting import wait_until

__all__ = ["PORT", "STALE_LOCKS_SCRIPT", "answers", "create_repo_script", "endpoint", "wait_git"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def endpoint(host_port: int, cluster_host: str) -> GitEndpoint:
    return GitEndpoint(host_url=f"http://127.0.0.1:{host_port}{URL_PREFIX}",
                       cluster_url=f"http://{cluster_host}:{PORT}{URL_PREFIX}")


STALE_LOCKS_SCRIPT = f"find {REPO_ROOT} -name '*.lock' -type f -delete"
"""Run by the outage's heal as the server starts again: a push cut by the outage leaves
``refs/heads/main.lock`` behind (git's own crash behaviour), and every later push then fails
"failed to update ref" until a Git host's housekeeping removes it. No git process runs
across a restart, so every lock found then is stale. (Seen on docker, both cores busy: the
outage began as image-automation-controller pushed, and its pushes never recovered.)"""


def create_repo_script(name: str) -> str:
    """``sh -c`` text that makes ``<name>.git`` bare, on ``main``, open to anonymous push;
    run as www-data (the CGI's user) so the server can write it. Idempotent."""
    if not _NAME.match(name) or name.endswith(".git") or ".." in name:
        raise BackendError(f"invalid Git repository name {name!r}: letters, digits, '.', '_', '-' "
                           "(without the .git suffix)")
    repo = shlex.quote(f"{REPO_ROOT}/{name}.git")
    return (f"set -e; [ -d {repo} ] || git init -q --bare --initial-branch=main {repo}; "
            f"git -C {repo} config http.receivepack true")


def answers(host_url: str, timeout: float = 2.0) -> bool:
    """Whether the server answers HTTP at all (any status): a stopped one refuses."""
    try:
        requests.get(f"{host_url}/", timeout=timeout)
    except requests.RequestException:
        return False
    return True


def wait_git(host_url: str, timeout: float, *, logs: Callable[[], str],
             exited: Callable[[], str | None] = lambda: None) -> None:
    """Until the server answers from the host; fail at once if its container stopped."""
    seen: dict[str, str | None] = {"exited": None}

    def settled() -> bool:
        seen["exited"] = exited()
        return seen["exited"] is not None or answers(host_url, timeout=1.0)

    try:
        wait_until(settled, timeout, what=f"the Git server at {host_url}", interval=0.1)
    except WaitTimeout:
        raise BackendError(f"the Git server did not answer {host_url}/ within {timeout:g}s; "
                           f"last log lines: {logs()}") from None
    if seen["exited"] is not None:
        raise BackendError(f"the Git server stopped ({seen['exited']}); last log lines: {logs()}")
