"""The commits of the automation's push branch, as the Git lane and the commit table show them.

Read from the history's ``GitCommit`` events; which commit moved a tag back is the
``git-no-regression`` verdict's word (its ``regressions``), never re-judged here.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from pytest_fluxchaos.history import GitCommit, History


@dataclass
class CommitMark:
    """One commit seen on the push branch, as the Git lane and the commit table show it."""

    t: float
    wall: str
    sha: str
    parent: str | None
    seed: bool
    repo: str
    branch: str
    author: str
    message: str
    tags: dict[str, list[str]]  # policy -> the tags its markers hold here (file order)
    regressions: list[dict[str, Any]] = field(default_factory=list)  # git-no-regression's

    @property
    def short(self) -> str:
        return short_sha(self.sha)

    @property
    def regressed(self) -> bool:
        return bool(self.regressions)

    def tags_of(self, policy: str | None = None) -> list[str]:
        """Distinct tags of ``policy``'s markers (all markers' when it has none here)."""
        chosen = self.tags.get(policy or "") if policy else None
        if not chosen:
            chosen = [t for tags in self.tags.values() for t in tags]
        return list(dict.fromkeys(chosen))

    def regression_labels(self) -> list[str]:
        """``app:1.2.0→1.1.0`` per marker the checker found moving backwards."""
        return list(dict.fromkeys(f"{r.get('image') or r.get('policy')}:{r.get('old')}→{r.get('new')}"
                                  for r in self.regressions))


def short_sha(sha: str | None) -> str:
    return (sha or "?")[:7]


def commit_marks(history: History, regressions: list[dict[str, Any]]) -> list[CommitMark]:
    """The commits in the order they were observed; each carries the regressions the
    ``git-no-regression`` verdict names with its SHA."""
    by_sha: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in regressions:
        by_sha[str(r.get("sha"))].append(r)
    marks = []
    for c in history.of(GitCommit):
        tags: dict[str, list[str]] = {}
        for m in c.markers:
            tag = m.get("tag")
            if tag:
                tags.setdefault(str(m.get("policy", "")), []).append(str(tag))
        marks.append(CommitMark(t=c.t, wall=c.wall, sha=c.sha,
                                parent=c.parents[0] if c.parents else None, seed=c.seed,
                                repo=c.repo, branch=c.branch, author=c.author, message=c.message,
                                tags=tags, regressions=by_sha.get(c.sha, [])))
    return marks
