"""git-converges: the push branch ends at the best tag, within the bound.

The window opens where converges opens it (the last fault heal, registry operation or
spec change) and lasts ``converge_bound + git_lag`` seconds: the automation writes only
after its policy moved. Per policy with markers on the branch:

- true: from some commit inside the window on, every marker holds a tag the oracle
  expects, and so does the last observed commit;
- false: the branch ends elsewhere (or got there late), with the commits since the
  window opened as evidence;
- unknown: the history ended before the deadline without the branch getting there, or
  no commit was observed at all.
A policy that may legitimately resolve to no tag must leave its markers as they were.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytest_fluxchaos.history import GitCommit, History

from .converges import quiescence
from .core import CheckContext, PolicyUnderTest, Validity, Verdict, combine
from .git_timeline import commits, short, tag_timeline
from .story import fmt_t, when
from .timeline import fault_end, history_end


@dataclass
class GitConverges:
    name: str = "git-converges"

    @staticmethod
    def applies(ctx: CheckContext) -> bool:
        return ctx.automation

    def check(self, history: History, ctx: CheckContext) -> Verdict:
        if not commits(history):
            return Verdict(self.name, Validity.UNKNOWN, "no commit observed on the push branch")
        fend, _ = fault_end(history)
        story: list[str] = []
        per_policy: dict[str, Any] = {}
        for put in ctx.policies:
            timeline = [(c, tags) for c, tags in tag_timeline(history, put.name) if tags]
            if timeline:
                per_policy[put.name] = self._judge(history, ctx, put, fend, timeline, story)
        if not per_policy:
            return Verdict(self.name, Validity.UNKNOWN, "no setter marker of a policy under test "
                           "on the push branch", story)
        valid = combine(Validity(p["valid"]) for p in per_policy.values())
        if valid is Validity.TRUE:
            summary = (f"the branch holds the expected tag of all {len(per_policy)} "
                       f"policies ({commits(history)[-1].sha[:7]})")
        else:
            bad = [f"{n}: {p['outcome']}" for n, p in per_policy.items() if p["valid"] != "true"]
            summary = "; ".join(bad[:3]) + (f" (+{len(bad) - 3} more)" if len(bad) > 3 else "")
        return Verdict(self.name, valid, summary, story, {"policies": per_policy})

    @staticmethod
    def _judge(history: History, ctx: CheckContext, put: PolicyUnderTest, fend: float | None,
               timeline: list[tuple[GitCommit, list[str | None]]],
               story: list[str]) -> dict[str, Any]:
        q = quiescence(history, ctx, put, fend)
        deadline = q.start + ctx.converge_bound + ctx.git_lag
        end = history_end(history)
        want = q.expected.tags
        at_start = [tags for c, tags in timeline if c.t <= q.start]
        after = [(c, tags) for c, tags in timeline if c.t > q.start]
        final_commit, final = timeline[-1]
        result: dict[str, Any] = {
            "start": q.start, "anchor": q.anchor, "deadline": deadline,
            "expected_tags": sorted(want), "final_sha": final_commit.sha,
            "final_tags": list(final), "converged_at": None, "time_to_converge": None}
        head = (f"branch markers of {put.name} expected {' or '.join(sorted(want)) or 'unchanged'}"
                f" within {ctx.converge_bound + ctx.git_lag:.0f}s of {fmt_t(q.start)} ({q.anchor})")
        if not want:
            before = at_start[-1] if at_start else None
            if before is None or final == before:
                return {**result, "valid": "true", "outcome": "no tag to converge to; left alone"}
            story.append(f"{head}: the policy has no tag to give, yet the branch moved to "
                         f"{final} at {short(final_commit.sha)}")
            return {**result, "valid": "false", "outcome": f"moved to {final} without a tag"}

        def good(tags: list[str | None]) -> bool:
            return all(t in want for t in tags)

        if not good(final):
            if end < deadline:
                story.append(f"{head}: not there when the history ended at {fmt_t(end)}; "
                             f"the branch holds {final} ({short(final_commit.sha)})")
                return {**result, "valid": "unknown",
                        "outcome": f"history ended {deadline - end:.1f}s before the bound"}
            story.append(f"{head}: the branch ends at {final} ({short(final_commit.sha)})")
            story.extend(f"  commit {short(c.sha)} at {when(c.t, c.wall)}: {tags}"
                         for c, tags in after[-ctx.story_max_lines:])
            return {**result, "valid": "false",
                    "outcome": f"ends at {', '.join(str(t) for t in final)}"}
        # the final run of good states: where did it begin?
        converged_at = q.start
        for c, tags in reversed(after):
            if not good(tags):
                break
            converged_at = c.t
        if converged_at == q.start and at_start and not good(at_start[-1]):
            converged_at = after[0][0].t if after else q.start
        result["converged_at"] = converged_at
        result["time_to_converge"] = round(converged_at - q.start, 6)
        if converged_at > deadline:
            story.append(f"{head}: got there only at {fmt_t(converged_at)} "
                         f"({converged_at - q.start:.1f}s)")
            return {**result, "valid": "false",
                    "outcome": f"converged late ({converged_at - q.start:.1f}s)"}
        return {**result, "valid": "true", "outcome": "converged"}
