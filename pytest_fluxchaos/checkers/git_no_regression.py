"""git-no-regression: no commit moves a setter marker's tag backwards.

This is the harm of fluxcd/flux2#4984 in Git's terms: image-automation-controller writes
the rolled-back tag, and whatever syncs the branch deploys it. Each marker change a
commit makes (against its parent) is ranked in the policy's order, as no-regression
ranks latest-tag changes:

- forward or tie: fine; a change away from the plugin's seed value is not judged;
- backward: a regression, unless the old tag had been deleted from the registry by then
  (then excused; possibly deleted: unknown);
- a tag the policy could never select: unknown.

The evidence names the commit, its parent, the file and line, and the diff line.
Unknown when no commit at all was observed (the observer saw nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytest_fluxchaos.history import History

from . import oracle
from .core import CheckContext, PolicyUnderTest, Validity, Verdict, combine
from .git_timeline import MarkerChange, commits, marker_changes, short
from .story import StoryTeller, fmt_t, when
from .timeline import RegistryTimeline, SpecTimeline


@dataclass
class GitNoRegression:
    name: str = "git-no-regression"

    @staticmethod
    def applies(ctx: CheckContext) -> bool:
        return ctx.automation

    def check(self, history: History, ctx: CheckContext) -> Verdict:
        seen = commits(history)
        if not seen:
            return Verdict(self.name, Validity.UNKNOWN, "no commit observed on the push branch")
        by_name = {p.name: p for p in ctx.policies}
        teller = StoryTeller(history, ctx)
        story: list[str] = []
        judged: list[dict[str, Any]] = []
        validities: list[Validity] = [Validity.TRUE]
        for change in marker_changes(history):
            put = by_name.get(change.policy)
            item = self._judge(history, ctx, put, change)
            judged.append(item)
            if item["judgement"] == "regression":
                validities.append(Validity.FALSE)
                self._tell(story, teller, put, change, item)
            elif item["judgement"] == "unknown":
                validities.append(Validity.UNKNOWN)
                story.append(f"commit {short(change.commit.sha)} {change.path}:{change.line} "
                             f"{change.old_tag} -> {change.new_tag}: cannot judge: {item['reason']}")
        valid = combine(validities)
        regressions = [j for j in judged if j["judgement"] == "regression"]
        automated = [c for c in seen if not c.seed]
        if regressions:
            r = regressions[0]
            more = f" (+{len(regressions) - 1} more)" if len(regressions) > 1 else ""
            summary = (f"commit {short(r['sha'])} set {r['image']}:{r['new']} after "
                       f"{r['image']}:{r['old']} ({r['path']}:{r['line']}, parent "
                       f"{short(r['parent'])}){more}")
        elif valid is Validity.UNKNOWN:
            summary = "cannot judge: " + "; ".join(
                f"{short(j['sha'])}: {j['reason']}" for j in judged if j["judgement"] == "unknown")
        else:
            summary = (f"no commit moved a tag backwards ({len(automated)} automation commit(s), "
                       f"{len(judged)} marker change(s) judged)")
        data = {"commits": [c.sha for c in seen], "changes": judged, "regressions": regressions}
        return Verdict(self.name, valid, summary, story, data)

    @staticmethod
    def _judge(history: History, ctx: CheckContext, put: PolicyUnderTest | None,
               change: MarkerChange) -> dict[str, Any]:
        item = {**change.to_dict(), "image": put.image if put else change.policy}
        old, new, t = change.old_tag, change.new_tag, change.commit.t
        if change.from_seed:
            return {**item, "judgement": "initial", "reason": "first value written over the seed"}
        if put is None:
            return {**item, "judgement": "unknown", "reason": f"{change.policy} is not a policy under test"}
        if not old or not new:
            return {**item, "judgement": "unknown", "reason": "a marker without a tag"}
        spec = SpecTimeline(history, put).at(t)
        rank, reason = oracle.rank(new, old, spec, ctx.irc_version)
        if rank in ("forward", "tie"):
            return {**item, "judgement": rank, "reason": reason}
        if rank == "incomparable":
            return {**item, "judgement": "unknown", "reason": reason}
        deleted = RegistryTimeline(history, put.image).deleted(old, t)
        if deleted == "yes":
            return {**item, "judgement": "excused-deleted", "reason": f"{old} had been deleted"}
        if deleted == "maybe":
            return {**item, "judgement": "unknown", "reason": f"{old} was possibly deleted"}
        return {**item, "judgement": "regression",
                "reason": f"{new} is behind {old} ({oracle.describe_policy(spec)}) and {old} "
                          f"is still in the registry"}

    @staticmethod
    def _tell(story: list[str], teller: StoryTeller, put: PolicyUnderTest | None,
              change: MarkerChange, item: dict[str, Any]) -> None:
        c = change.commit
        story.append(f"commit {c.sha} set {item['image']}:{change.new_tag} after "
                     f"{item['image']}:{change.old_tag}, seen at {when(c.t, c.wall)}")
        story.append(f"  {change.path}:{change.line} (parent {change.parent or '(none)'}, "
                     f"author {c.author}, committed {c.committed})")
        story.extend(f"  {line}" for line in change.diff())
        story.append(f"  message: {c.message}")
        story.append(f"  {item['reason']}")
        if put is not None:
            story.extend(teller.context(put, c.t))
        else:
            story.append(f"  (no policy context: {change.policy} unknown at {fmt_t(c.t)})")
