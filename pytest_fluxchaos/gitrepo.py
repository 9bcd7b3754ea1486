"""The plugin's Git client (dulwich, smart HTTP): seed a repository, watch its branch.

The Git server belongs to the environment; the plugin talks to it from the host the way
a cluster's GitOps agent would: it fetches the push branch and reads the setter markers
of every new commit. dulwich speaks the protocol, so no pack is parsed here, and no
``git`` binary is needed on the host.
"""

from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dulwich.client import get_transport_and_path
from dulwich.errors import GitProtocolError, HangupException
from dulwich.object_store import iter_tree_contents
from dulwich.objects import Blob, Commit, ObjectID, Tree
from dulwich.refs import Ref
from dulwich.repo import Repo
from dulwich.walk import ORDER_TOPO

from .history import GitCommit, History
from .setters import parse_markers

_ERRORS = (OSError, GitProtocolError, HangupException, ValueError)


class GitError(Exception):
    """The Git server refused or could not be reached; the message is one line."""


@dataclass(frozen=True)
class Author:
    name: str = "fluxchaos"
    email: str = "fluxchaos@localhost"

    @property
    def identity(self) -> bytes:
        return f"{self.name} <{self.email}>".encode()


class GitRemote:
    """One repository on the environment's Git server, mirrored into a local bare repo."""

    def __init__(self, url: str, branch: str, *, workdir: Path | None = None,
                 path_prefix: str = "") -> None:
        self.url = url
        self.branch = branch
        self.ref = Ref(f"refs/heads/{branch}".encode())
        self.path_prefix = path_prefix.strip("./")
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="fluxchaos-git-")
        root = workdir or Path(self._tmp.name)  # type: ignore[union-attr]
        root.mkdir(parents=True, exist_ok=True)
        self.local = Repo.init_bare(str(root)) if not (root / "HEAD").exists() else Repo(str(root))
        self.client, path = get_transport_and_path(url)
        self.path: Any = path  # dulwich's stubs say bytes; its clients take the str it returns
        self.seen: set[ObjectID] = set()

    def close(self) -> None:
        self.local.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    # -- seed -----------------------------------------------------------------------------
    def seed(self, files: dict[str, str], message: str = "fluxchaos: seed",
             author: Author = Author()) -> str:
        """Push a root commit holding ``files`` to the branch; returns its SHA."""
        store = self.local.object_store
        root = _build_tree(store, files)
        commit = Commit()
        commit.tree = root
        commit.author = commit.committer = author.identity
        commit.author_time = commit.commit_time = int(time.time())
        commit.author_timezone = commit.commit_timezone = 0
        commit.encoding = b"UTF-8"
        commit.message = message.encode() + b"\n"
        store.add_object(commit)
        self.local.refs[self.ref] = commit.id
        try:
            result = self.client.send_pack(
                self.path, lambda refs: {**refs, self.ref: commit.id},
                generate_pack_data=self.local.generate_pack_data)  # type: ignore[arg-type]  # stub too narrow
        except _ERRORS as exc:
            raise GitError(f"pushing the seed commit to {self.url} failed: {exc}") from None
        status = (result.ref_status or {}).get(self.ref)
        if status:
            raise GitError(f"the Git server refused the seed commit on {self.branch}: {status}")
        return commit.id.decode()

    # -- watch ----------------------------------------------------------------------------
    def fetch_new(self) -> list[tuple[Commit, list[dict[str, Any]]]]:
        """Commits on the branch not seen before, oldest first, with their markers."""
        try:
            result = self.client.fetch(self.path, self.local)
        except _ERRORS as exc:
            raise GitError(f"fetching {self.url} failed: {exc}") from None
        head = result.refs.get(self.ref)
        if head is None:
            return []
        walker = self.local.get_walker(include=[head], exclude=list(self.seen), order=ORDER_TOPO)
        fresh = [entry.commit for entry in walker]
        fresh.reverse()
        out = []
        for c in fresh:
            self.seen.add(c.id)
            out.append((c, self.markers(c)))
        return out

    def markers(self, commit: Commit) -> list[dict[str, Any]]:
        store = self.local.object_store
        found: list[dict[str, Any]] = []
        for entry in iter_tree_contents(store, commit.tree):
            path = entry.path.decode()
            if not path.endswith((".yaml", ".yml")) or not path.startswith(self.path_prefix):
                continue
            blob = store[entry.sha]
            text = blob.as_raw_string().decode("utf-8", "replace")
            found.extend({"path": m.path, "line": m.line, "policy": m.policy, "form": m.form,
                          "value": m.value, "tag": m.tag, "text": m.text}
                         for m in parse_markers(path, text))
        return found


def _build_tree(store: Any, files: dict[str, str]) -> ObjectID:
    """Nested trees for ``{"a/b.yaml": text}``; returns the root tree id."""
    nested: dict[str, Any] = {}
    for path, text in files.items():
        node = nested
        *dirs, name = path.split("/")
        for d in dirs:
            node = node.setdefault(d, {})
        node[name] = text

    def write(node: dict[str, Any]) -> ObjectID:
        tree = Tree()
        for name, value in sorted(node.items()):
            if isinstance(value, dict):
                tree.add(name.encode(), 0o040000, write(value))
            else:
                blob = Blob.from_string(value.encode())
                store.add_object(blob)
                tree.add(name.encode(), 0o100644, blob.id)
        store.add_object(tree)
        return tree.id

    return write(nested)


def _iso(seconds: int, offset: int) -> str:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat(timespec="seconds")


class GitWatcher:
    """Polls the branch and records a :class:`GitCommit` per new commit, oldest first.

    Polling (not a push hook) because the server is the environment's, and a GitOps
    agent polls too; fetch errors (a Git outage) are counted, never fatal.
    """

    def __init__(self, remote: GitRemote, history: History, repo: str, *,
                 seed_sha: str | None = None, interval: float = 1.0) -> None:
        self.remote = remote
        self.history = history
        self.repo = repo
        self.seed_sha = seed_sha
        self.interval = interval
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"git-watch-{repo}", daemon=True)

    def start(self) -> None:
        self.poll()
        self._thread.start()

    def poll(self) -> int:
        try:
            fresh = self.remote.fetch_new()
        except GitError as exc:
            if not self.errors or self.errors[-1] != str(exc):
                self.errors.append(str(exc))
            return 0
        for c, markers in fresh:
            sha = c.id.decode()
            self.history.record(
                GitCommit, repo=self.repo, branch=self.remote.branch, sha=sha,
                parents=tuple(p.decode() for p in c.parents),
                author=c.author.decode("utf-8", "replace"),
                message=c.message.decode("utf-8", "replace").strip().splitlines()[0]
                if c.message.strip() else "",
                committed=_iso(c.commit_time, c.commit_timezone),
                markers=tuple(markers), seed=sha == self.seed_sha)
        return len(fresh)

    def _loop(self) -> None:
        # A fixed polling period, not a wait for a condition: each tick is one fetch.
        while not self._stop.wait(self.interval):
            self.poll()

    def stop(self) -> list[str]:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self.poll()  # the last commits before the run ended
        self.remote.close()
        return list(self.errors)
