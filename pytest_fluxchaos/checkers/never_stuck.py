"""never-stuck: no policy stays not-Ready for long while it could resolve a tag.

A *stretch* runs from a PolicyReady event with status False/Unknown to the next
one with status True (or to the end of the history). Inside a stretch only the
time during which the registry *certainly* held tags the policy can resolve
counts (ok pushes minus ok deletes, indeterminate ops not counted; the oracle
must return a tag for them -- a registry state on which the oracle itself fails
makes not-Ready the right answer). The policy is stuck when such a continuous
run is longer than ``stuck_bound``; a stretch still open at the end of the
history counts the same way (shorter than the bound is fine).

Before a policy's first Ready observation nothing is known and nothing counts.
A policy with no Ready observation at all is *unknown*.

Per policy, the data and story also give its DependencyNotReady Warning storm
(``storms.py``: warnings, rate per minute, duration; image-reflector-controller#930).
The storm is reported, not judged: its Warnings repeat what Ready already says, so a
long storm is a long not-Ready stretch this checker judges anyway, and how often a
controller may repeat a warning is a request for quieter events, not a correctness rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pytest_fluxchaos.history import History, PolicyReady

from . import oracle
from .core import CheckContext, PolicyUnderTest, Validity, Verdict, combine
from .storms import warning_storm
from .story import StoryTeller, clip, fmt_t, when
from .timeline import RegistryTimeline, SpecTimeline, history_end


@dataclass
class _Stretch:
    start: float
    wall: str
    end: float | None = None
    reasons: list[tuple[str, str, str]] = field(default_factory=list)  # (status, reason, message)


@dataclass
class NeverStuck:
    name: str = "never-stuck"

    def check(self, history: History, ctx: CheckContext) -> Verdict:
        if not ctx.policies:
            return Verdict(self.name, Validity.UNKNOWN, "no policies under test")
        teller = StoryTeller(history, ctx)
        story: list[str] = []
        per_policy: dict[str, Any] = {}
        validities: list[Validity] = []
        stuck: list[str] = []
        unobserved: list[str] = []
        storms: list[str] = []
        end = history_end(history)
        for put in ctx.policies:
            res = self._judge(history, ctx, put, end, teller, story)
            storm = warning_storm(history, put.name)
            res["warnings"] = storm.to_dict() if storm else None
            if storm is not None:
                storms.append(f"policy {put.name}: {storm.describe()}")
            per_policy[put.name] = res
            validities.append(Validity(res["valid"]))
            if res["valid"] == "false":
                stuck.append(f"{put.name} ({res['max_stuck']:.1f}s)")
            elif res["valid"] == "unknown":
                unobserved.append(put.name)
        valid = combine(validities)
        story.extend(clip(line, 160) for line in storms)
        if valid is Validity.FALSE:
            summary = (f"stuck not-Ready beyond {ctx.stuck_bound:.0f}s with matching tags: "
                       + ", ".join(stuck))
        elif valid is Validity.UNKNOWN:
            summary = "no Ready observation for " + ", ".join(unobserved)
        else:
            longest = max((p["max_stuck"] for p in per_policy.values()), default=0.0)
            summary = (f"no policy stuck (longest not-Ready with matching tags {longest:.1f}s, "
                       f"bound {ctx.stuck_bound:.0f}s)")
        return Verdict(self.name, valid, summary, story, {"policies": per_policy})

    def _judge(self, history: History, ctx: CheckContext, put: PolicyUnderTest, end: float,
               teller: StoryTeller, story: list[str]) -> dict[str, Any]:
        readies = [e for e in history.of(PolicyReady) if e.policy == put.name]
        if not readies:
            return {"valid": "unknown", "max_stuck": 0.0, "stretches": []}
        registry = RegistryTimeline(history, put.image)
        specs = SpecTimeline(history, put)
        memo: dict[tuple[frozenset[str], int], bool] = {}

        def matching(t: float) -> bool:
            present, _ = registry.snapshot(t)
            spec = specs.at(t)
            key = (frozenset(present), id(spec))
            if key not in memo:
                memo[key] = oracle.holds_matching(present, spec, put, ctx.irc_version)
            return memo[key]

        stretches: list[_Stretch] = []
        for ev in readies:
            if ev.status != "True":
                if not stretches or stretches[-1].end is not None:
                    stretches.append(_Stretch(ev.t, ev.wall, reasons=[]))
                entry = (ev.status, ev.reason, ev.message)
                if entry not in stretches[-1].reasons:
                    stretches[-1].reasons.append(entry)
            elif stretches and stretches[-1].end is None:
                stretches[-1].end = ev.t

        cuts = sorted(set(registry.change_times) | {c.since for c in specs.changes})
        out: list[dict[str, Any]] = []
        valid = "true"
        max_stuck = 0.0
        for st in stretches:
            stop = end if st.end is None else st.end
            points = [st.start] + [c for c in cuts if st.start < c < stop] + [stop]
            runs: list[tuple[float, float]] = []
            for a, b in zip(points, points[1:]):
                if matching(a):
                    if runs and runs[-1][1] == a:
                        runs[-1] = (runs[-1][0], b)
                    else:
                        runs.append((a, b))
            longest = max(runs, key=lambda r: r[1] - r[0], default=None)
            stuck_for = (longest[1] - longest[0]) if longest else 0.0
            max_stuck = max(max_stuck, stuck_for)
            rec = {"start": st.start, "end": st.end, "open": st.end is None,
                   "duration": stop - st.start, "stuck_for": stuck_for,
                   "stuck_from": longest[0] if longest else None,
                   "reasons": [{"status": s, "reason": r, "message": m}
                               for s, r, m in st.reasons]}
            out.append(rec)
            if longest and stuck_for > ctx.stuck_bound:
                valid = "false"
                self._tell(ctx, put, teller, story, st, longest, stop)
        return {"valid": valid, "max_stuck": max_stuck, "stretches": out}

    @staticmethod
    def _tell(ctx: CheckContext, put: PolicyUnderTest, teller: StoryTeller, story: list[str],
              st: _Stretch, run: tuple[float, float], stop: float) -> None:
        until = "to the end of the history" if st.end is None else f"until {fmt_t(st.end)}"
        story.append(f"policy {put.name} not Ready from {when(st.start, st.wall)} {until} "
                     f"({stop - st.start:.1f}s); matching tags in the registry for "
                     f"{run[1] - run[0]:.1f}s from {fmt_t(run[0])} (bound {ctx.stuck_bound:.0f}s)")
        for status, reason, message in st.reasons[:3]:
            story.append(clip(f"  Ready {status} {reason}: {message}"))
        violated = run[0] + ctx.stuck_bound
        story.extend(teller.context(put, st.start, after=violated - st.start,
                                    before=ctx.story_window))
