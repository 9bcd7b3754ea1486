"""What each commit on the push branch did to each setter marker, read from the history.

Both Git checkers judge *changes of a marker between a commit and its parent*: that is
what image-automation-controller wrote, and what a cluster syncing the branch applies.
A marker is identified by its file, policy and form, plus its ordinal among equal
triples, so moving a line does not make it a new marker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytest_fluxchaos.history import GitCommit, History

MarkerKey = tuple[str, str, str, int]  # path, policy, form, ordinal


@dataclass(frozen=True)
class MarkerChange:
    """One marker's value changed between ``parent`` and ``commit``."""

    commit: GitCommit
    parent: str | None
    key: MarkerKey
    old_tag: str | None
    new_tag: str | None
    old_text: str
    new_text: str
    line: int
    from_seed: bool  # the old value was the plugin's seed, not a controller's

    @property
    def policy(self) -> str:
        return self.key[1]

    @property
    def path(self) -> str:
        return self.key[0]

    def diff(self) -> list[str]:
        return [f"- {self.old_text.strip()}", f"+ {self.new_text.strip()}"]

    def to_dict(self) -> dict[str, Any]:
        return {"sha": self.commit.sha, "parent": self.parent, "t": self.commit.t,
                "wall": self.commit.wall, "committed": self.commit.committed,
                "path": self.path, "line": self.line, "policy": self.policy,
                "old": self.old_tag, "new": self.new_tag, "diff": self.diff(),
                "message": self.commit.message, "author": self.commit.author}


def keyed_markers(commit: GitCommit) -> dict[MarkerKey, dict[str, Any]]:
    seen: dict[tuple[str, str, str], int] = {}
    out: dict[MarkerKey, dict[str, Any]] = {}
    for m in commit.markers:
        triple = (str(m["path"]), str(m["policy"]), str(m["form"]))
        n = seen.get(triple, 0)
        seen[triple] = n + 1
        out[(*triple, n)] = m
    return out


def commits(history: History) -> list[GitCommit]:
    return history.of(GitCommit)


def marker_changes(history: History) -> list[MarkerChange]:
    """Every marker change, commit by commit, in the order the commits were observed.

    The previous state is the commit's first parent when it was observed, otherwise the
    previously observed commit (a force-push or a gap still yields a judged change).
    """
    states: dict[str, dict[MarkerKey, dict[str, Any]]] = {}
    seeded: dict[str, set[MarkerKey]] = {}
    changes: list[MarkerChange] = []
    previous: GitCommit | None = None
    for c in commits(history):
        now = keyed_markers(c)
        parent_sha = c.parents[0] if c.parents else None
        base_sha = parent_sha if parent_sha in states else (previous.sha if previous else None)
        base = states.get(base_sha or "", {})
        from_seed = seeded.get(base_sha or "", set())
        if c.seed:
            seeded[c.sha] = set(now)
        else:
            seeded[c.sha] = {k for k in from_seed if k in now and k in base
                             and base[k].get("value") == now[k].get("value")}
            for key, marker in now.items():
                before = base.get(key)
                if before is None or before.get("value") == marker.get("value"):
                    continue
                changes.append(MarkerChange(
                    commit=c, parent=base_sha, key=key, old_tag=before.get("tag"),
                    new_tag=marker.get("tag"), old_text=str(before.get("text", "")),
                    new_text=str(marker.get("text", "")), line=int(marker.get("line", 0)),
                    from_seed=key in from_seed))
        states[c.sha] = now
        previous = c
    return changes


def tag_timeline(history: History, policy: str) -> list[tuple[GitCommit, list[str | None]]]:
    """For each observed commit: the tags the policy's markers hold there."""
    out: list[tuple[GitCommit, list[str | None]]] = []
    for c in commits(history):
        tags = [m.get("tag") for m in c.markers if m.get("policy") == policy]
        out.append((c, tags))
    return out


def short(sha: str | None) -> str:
    return (sha or "?")[:7]
