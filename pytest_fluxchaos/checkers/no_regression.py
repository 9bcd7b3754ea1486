"""no-regression: a policy's latest tag only ever moves forward in its order.

Each change of ``status.latestRef.tag`` (old -> new, both non-empty) is ranked by
the oracle's ``policy_order(...).compare(new, old)``:

- ``> 0`` forward: fine;
- ``== 0`` with a different string (``v1.0.0`` vs ``1.0.0``, or two tags with the
  same extracted key): a tie, fine but told;
- ``< 0`` backward: a regression, unless *excused*:
  (a) ``old`` had been deleted from the registry before the change (an ok
  delete-tag not followed by an ok push) or
  (b) the policy spec changed between the observation of ``old`` and the change
  (or up to ``spec_grace`` seconds after it: the spec observer may lag); later
  changes are judged against the new spec.
- Verdict *unknown* for a change the oracle cannot rank (a tag the policy could
  never select) or when ``old`` was possibly deleted (indeterminate delete).

A cleared latestRef (tag None/empty) is told but not judged; the next tag is
compared with the last non-empty one, so ``1.2.0 -> None -> 1.1.0`` is a regression.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytest_fluxchaos.history import History, PolicyLatest

from . import oracle
from .core import CheckContext, PolicyUnderTest, Validity, Verdict, combine
from .story import StoryTeller, fmt_t, when
from .timeline import RegistryTimeline, SpecTimeline


@dataclass
class NoRegression:
    name: str = "no-regression"

    def check(self, history: History, ctx: CheckContext) -> Verdict:
        if not ctx.policies:
            return Verdict(self.name, Validity.UNKNOWN, "no policies under test")
        teller = StoryTeller(history, ctx)
        story: list[str] = []
        per_policy: dict[str, Any] = {}
        regressions: list[dict[str, Any]] = []
        validities: list[Validity] = []
        problems: list[str] = []
        for put in ctx.policies:
            result = self._judge(history, ctx, put, teller, story)
            per_policy[put.name] = result
            regressions.extend(c for c in result["changes"] if c["judgement"] == "regression")
            if result["observations"] == 0:
                validities.append(Validity.UNKNOWN)
                problems.append(f"{put.name} never observed")
                story.append(f"policy {put.name}: no latest-tag observation, nothing judged")
            elif any(c["judgement"] == "unknown" for c in result["changes"]):
                validities.append(Validity.UNKNOWN)
                problems.append(f"{put.name} has changes that cannot be judged")
            else:
                validities.append(Validity.TRUE)
        if regressions:
            validities.append(Validity.FALSE)
        valid = combine(validities)
        judged = sum(len(r["changes"]) for r in per_policy.values())
        if valid is Validity.FALSE:
            shown = "; ".join(f"{r['policy']} {r['old']} -> {r['new']} at {fmt_t(r['t'])}"
                              for r in regressions[:2])
            more = f" (+{len(regressions) - 2} more)" if len(regressions) > 2 else ""
            summary = f"{len(regressions)} regression(s): {shown}{more}"
        elif valid is Validity.UNKNOWN:
            summary = "cannot judge: " + "; ".join(problems)
        else:
            summary = (f"no regression in {len(ctx.policies)} policies "
                       f"({judged} latest-tag changes judged)")
        data = {"policies": per_policy, "regressions": regressions}
        return Verdict(self.name, valid, summary, story, data)

    def _judge(self, history: History, ctx: CheckContext, put: PolicyUnderTest,
               teller: StoryTeller, story: list[str]) -> dict[str, Any]:
        registry = RegistryTimeline(history, put.image)
        specs = SpecTimeline(history, put)
        observations = [e for e in history.of(PolicyLatest) if e.policy == put.name]
        changes: list[dict[str, Any]] = []
        last: str | None = None
        last_t = float("-inf")
        for i, ev in enumerate(observations):
            new = ev.tag or None
            if new is None:
                if last is not None:
                    story.append(f"policy {put.name} latestRef cleared (was {last}) "
                                 f"at {when(ev.t, ev.wall)}; not judged")
                continue
            if last is None or new == last:
                if last is None:
                    last, last_t = new, ev.t
                continue
            change = self._judge_change(ctx, put, registry, specs, last, last_t, ev)
            changes.append(change)
            if change["judgement"] != "forward":
                self._tell(ctx, put, teller, story, change, observations[i + 1:], specs)
            last, last_t = new, ev.t
        return {"observations": len(observations), "changes": changes,
                "final_tag": last}

    def _judge_change(self, ctx: CheckContext, put: PolicyUnderTest,
                      registry: RegistryTimeline, specs: SpecTimeline, old: str,
                      old_t: float, ev: PolicyLatest) -> dict[str, Any]:
        new, t = ev.tag or "", ev.t
        spec_changes = specs.changes_between(old_t, t + ctx.spec_grace)
        spec = spec_changes[-1] if spec_changes else specs.at(t)
        change = {"policy": put.name, "t": t, "wall": ev.wall, "old": old, "new": new,
                  "old_since": old_t, "old_pushed": registry.pushed_at(old, t),
                  "policy_spec": oracle.describe_policy(spec)}
        if spec_changes:
            # the two tags were chosen under different specs: re-base, do not judge
            gens = ", ".join(str(c.generation) for c in spec_changes)
            return {**change, "judgement": "excused-spec",
                    "reason": f"policy spec changed (generation {gens}) at "
                              f"{fmt_t(spec_changes[0].since)}"}
        rank, reason = oracle.rank(new, old, spec, ctx.irc_version)
        if rank == "forward":
            return {**change, "judgement": "forward", "reason": ""}
        if rank == "tie":
            return {**change, "judgement": "tie", "reason": reason}
        deleted = registry.deleted(old, t)
        if deleted == "yes":
            return {**change, "judgement": "excused-deleted",
                    "reason": f"{old} had been deleted from the registry"}
        if deleted == "maybe":
            return {**change, "judgement": "unknown",
                    "reason": f"{old} was possibly deleted (indeterminate operation)"}
        if rank == "incomparable":
            return {**change, "judgement": "unknown", "reason": reason}
        return {**change, "judgement": "regression",
                "reason": f"{new} is behind {old} ({oracle.describe_policy(spec)})"}

    def _tell(self, ctx: CheckContext, put: PolicyUnderTest, teller: StoryTeller,
              story: list[str], change: dict[str, Any], later: list[PolicyLatest],
              specs: SpecTimeline) -> None:
        old, new, t = change["old"], change["new"], change["t"]
        judgement = change["judgement"]
        if judgement != "regression":
            label = {"tie": "tie (not a regression)", "excused-spec": "excused",
                     "excused-deleted": "excused", "unknown": "cannot judge"}[judgement]
            story.append(f"policy {put.name} changed {old} -> {new} at {when(t, change['wall'])}: "
                         f"{label}: {change['reason']}")
            return
        story.append(f"policy {put.name} regressed {old} -> {new} at {when(t, change['wall'])}")
        pushed = change["old_pushed"]
        pushed = f"pushed {fmt_t(pushed)}, " if pushed is not None else ""
        story.append(f"  policy {change['policy_spec']}; {old} {pushed}latest since "
                     f"{fmt_t(change['old_since'])}, still in the registry")
        recovered = self._recovery(ctx, later, old, specs)
        change["recovered_at"] = recovered
        story.extend(teller.context(put, t))
        if recovered is None:
            story.append("  still behind at the end of the history (sticky regression)")
        else:
            story.append(f"  back at or ahead of {old} at {fmt_t(recovered)} "
                         f"({recovered - t:.1f}s later)")

    @staticmethod
    def _recovery(ctx: CheckContext, later: list[PolicyLatest], old: str,
                  specs: SpecTimeline) -> float | None:
        for ev in later:
            if not ev.tag:
                continue
            if ev.tag == old:
                return ev.t
            rank, _ = oracle.rank(ev.tag, old, specs.at(ev.t), ctx.irc_version)
            if rank in ("forward", "tie"):
                return ev.t
        return None
