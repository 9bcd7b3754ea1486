"""The Git lane of the timeline figure: one mark per commit on the automation's push branch.

The plugin's seed commit is hollow; the commits ``git-no-regression`` flagged are red and
labelled ``abc1234 app:1.2.0→1.1.0``; labels are placed in rows so they do not overlap.
"""

from __future__ import annotations

from typing import Any

from .commits import CommitMark
from .model import Item, PolicyTimeline
from .plot_style import AXES_WIDTH_PT, COLORS, LABEL_ROWS

GIT_Y = 0.2  # the branch line, in the git panel's axes fraction


def commit_label(c: CommitMark, policy: str | None) -> str:
    """``abc1234 1.1.0`` (the tags the commit's markers hold), ``abc1234 app:1.2.0→1.1.0``
    for a commit git-no-regression flagged."""
    if c.regressed:
        return f"{c.short} {', '.join(c.regression_labels())}"
    tags = c.tags_of(policy)
    text = ", ".join(tags[:2]) + (f" +{len(tags) - 2}" if len(tags) > 2 else "")
    if c.seed:
        text = f"seed ({text})" if text and text != "seed" else "seed"
    return f"{c.short} {text}".rstrip()


def _git_panel(ax: Any, item: Item, pol: PolicyTimeline, end: float, salt: str) -> None:
    commits = item.commits
    ax.set_ylim(0, 1)
    ax.set_yticks([GIT_Y], ["git"])
    ax.tick_params(axis="y", length=0)
    ax.spines["left"].set_visible(False)
    first = commits[0]
    head = f"push branch {first.repo}@{first.branch}: {len(commits)} commit(s) observed"
    outcome = _git_outcome(item, pol.policy)
    ax.set_title(head + (f"    ·    {outcome}" if outcome else ""), loc="left", fontsize=8.5,
                 fontweight="normal", color="#444")
    ax.plot([first.t, end], [GIT_Y, GIT_Y], color=COLORS["branch"], lw=2, zorder=2,
            solid_capstyle="butt")
    labels = [commit_label(c, pol.policy) for c in commits]
    rows, left = place_labels([c.t for c in commits], labels, [c.regressed for c in commits], end)
    hidden = sum(1 for c, row in zip(commits, rows) if c.regressed and row is None)
    if hidden:
        ax.text(1, 1, f"{hidden} more regressing commit(s): see the commit table ", ha="right",
                va="top", transform=ax.transAxes, fontsize=7.5, color=COLORS["regression"],
                fontweight="bold")
    n_reg = 0
    for i, (c, label, row, to_left) in enumerate(zip(commits, labels, rows, left)):
        if c.regressed:
            ax.axvline(c.t, color=COLORS["regression"], lw=1.2, ls=(0, (3, 2)), zorder=2.5)
            dot, = ax.plot([c.t], [GIT_Y], "D", color=COLORS["regression"], ms=9, mec="white",
                           mew=0.8, zorder=6)
        elif c.seed:
            dot, = ax.plot([c.t], [GIT_Y], "s", color=COLORS["seed"], mfc="white", mew=1.5, ms=7,
                           zorder=5)
        else:
            dot, = ax.plot([c.t], [GIT_Y], "o", color=COLORS["commit"], ms=7, mec="white",
                           mew=0.8, zorder=5)
        dot.set_gid(f"fc-commit-{i}-{salt}")
        if row is None:
            continue  # no room: the commit table below the figure lists every commit
        style: dict[str, Any] = (
            {"color": "white", "fontweight": "bold",
             "bbox": {"boxstyle": "round,pad=0.25", "fc": COLORS["regression"], "ec": "none"}}
            if c.regressed else
            {"color": COLORS["seed"] if c.seed else COLORS["commit"],
             "bbox": {"boxstyle": "round,pad=0.12", "fc": "white", "ec": "none", "alpha": 0.85}})
        text = ax.annotate(label, xy=(c.t, GIT_Y), xycoords=("data", "axes fraction"),
                           xytext=(4 if to_left else -4, 9 + 12.5 * row),
                           textcoords="offset points", ha="right" if to_left else "left",
                           va="bottom", fontsize=7.8, zorder=7 if c.regressed else 6,
                           annotation_clip=False, **style)
        if c.regressed:
            text.set_gid(f"fc-git-regression-{n_reg}-{salt}")
            n_reg += 1


def place_labels(xs: list[float], texts: list[str], first: list[bool], end: float,
                 *, fontsize: float = 7.8) -> tuple[list[int | None], list[bool]]:
    """A row per commit label (None: no room) and whether it extends left of its commit
    (near the end of the axis); labels flagged in ``first`` are placed before the others,
    so a red regression label is never the one left out or overlapped.

    Like :func:`stack_rows`, widths come from the character count; the flagged labels are
    bold in a padded box, hence wider."""
    per_pt = max(end, 1e-9) / AXES_WIDTH_PT
    used: list[list[tuple[float, float]]] = [[] for _ in range(LABEL_ROWS)]
    rows: list[int | None] = [None] * len(xs)
    left = [False] * len(xs)
    order = sorted(range(len(xs)), key=lambda i: (not first[i], xs[i]))
    for i in order:
        em = 0.68 if first[i] else 0.6
        width = (len(texts[i]) * em * fontsize + (12 if first[i] else 6)) * per_pt
        start, stop = xs[i] - 4 * per_pt, xs[i] - 4 * per_pt + width
        if stop > end:
            left[i] = True
            start, stop = xs[i] + 4 * per_pt - width, xs[i] + 4 * per_pt
        for row, spans in enumerate(used):
            if all(stop < a or start > b for a, b in spans):
                spans.append((start, stop))
                rows[i] = row
                break
    return rows, left


def _git_outcome(item: Item, policy: str) -> str:
    """What the git checkers said about this policy, in a few words (their words)."""
    parts = []
    nr = item.checkers.get("git-no-regression")
    if nr is not None:
        parts.append(f"git-no-regression {nr.get('verdict')}")
    gc = item.checkers.get("git-converges")
    if gc is not None:
        per = ((gc.get("data") or {}).get("policies") or {}).get(policy) or {}
        word = f"git-converges {gc.get('verdict')}"
        if per:
            want = " or ".join(per.get("expected_tags") or []) or "unchanged"
            final = ", ".join(str(t) for t in per.get("final_tags") or []) or "-"
            word += f" (expected {want}, ends at {final})"
        parts.append(word)
    return "  ·  ".join(parts)
