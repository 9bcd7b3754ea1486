"""converges: once the chaos is over, every policy settles on the oracle's answer.

The convergence window of a policy opens at its *quiescence point*: the latest of
the last fault heal (a fault without a heal step counts as over at its last step),
the last registry operation on its image and the last change of its spec. With
no faults this is "after the last op", as specified; taking the max also keeps
the expectation right when a scenario keeps pushing after the last heal.

The expected outcome is computed by the oracle from the registry state at that
point (``scan_order`` with the repository's exclusion list, then
``latest_candidates``); indeterminate operations make both "tag exists" and "tag
absent" acceptable. A policy *converges* when it reports an expected tag with
Ready=True -- or, when the oracle itself fails (``PolicyError``) or the scan is
empty, when it is not Ready with a message containing the oracle's message (or
Flux's ``no tags in database``) -- within ``converge_bound`` seconds, and the
final state of the history is still such a state. After convergence the tag
must not move to an unexpected one; Ready blips that come back are only recorded
(never-stuck judges how long a policy may stay not-Ready).

Verdict per policy: true; false (too late, never, or moved away); unknown when
the history ends before the bound elapsed and the policy has not converged yet,
or when it was never observed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytest_fluxchaos.history import History

from . import oracle
from .core import CheckContext, PolicyUnderTest, Validity, Verdict, combine
from .oracle import Outcomes
from .story import StoryTeller, fmt_t
from .timeline import (PolicyState, RegistryTimeline, SpecTimeline, SpecVersion, fault_end,
                       history_end, policy_states)


def _good(state: PolicyState | None, expected: Outcomes) -> bool:
    if state is None:
        return False
    if state.ready == "True":
        return state.tag is not None and state.tag in expected.tags
    if state.ready in ("False", "Unknown"):
        message = state.message.lower()
        return any(err.lower() in message for err in expected.errors)
    return False


def _fmt_state(state: PolicyState | None) -> str:
    if state is None:
        return "nothing observed"
    ready = f"Ready {state.ready}" if state.ready else "Ready not observed"
    why = f" {state.reason}" if state.reason and state.ready != "True" else ""
    return f"latest {state.tag or '(none)'} ({ready}{why})"


@dataclass(frozen=True)
class Quiescence:
    """Where a policy's convergence window opens, and what the oracle expects there."""

    anchor: str
    start: float
    spec: SpecVersion
    present: set[str]
    maybe: set[str]
    expected: Outcomes


def quiescence(history: History, ctx: CheckContext, put: PolicyUnderTest,
               fend: float | None) -> Quiescence:
    """The latest of the last fault heal, registry op and spec change, and the oracle's
    expected outcome from the registry state then (shared with git-converges)."""
    registry = RegistryTimeline(history, put.image)
    specs = SpecTimeline(history, put)
    candidates: dict[str, float | None] = {
        "last fault heal": fend, "last registry op": registry.last_change(),
        "last spec change": specs.last_change()}
    anchors = {k: v for k, v in candidates.items() if v is not None}
    anchor, start = max(anchors.items(), key=lambda kv: kv[1], default=("start", 0.0))
    spec = specs.at(start)
    present, maybe = registry.snapshot(start)
    return Quiescence(anchor, start, spec, present, maybe,
                      oracle.expected_outcomes(present, maybe, spec, put, ctx.irc_version))


@dataclass
class Converges:
    name: str = "converges"

    def check(self, history: History, ctx: CheckContext) -> Verdict:
        if not ctx.policies:
            return Verdict(self.name, Validity.UNKNOWN, "no policies under test")
        teller = StoryTeller(history, ctx)
        story: list[str] = []
        per_policy: dict[str, Any] = {}
        fend, unhealed = fault_end(history)
        if unhealed:
            story.append("faults without a heal step (counted as over at their last step): "
                         + ", ".join(unhealed))
        for put in ctx.policies:
            per_policy[put.name] = self._judge(history, ctx, put, fend, teller, story)
        valid = combine(Validity(p["valid"]) for p in per_policy.values())
        ttc = {name: p["time_to_converge"] for name, p in per_policy.items()}
        bad = [f"{n}: {p['outcome']}" for n, p in per_policy.items() if p["valid"] != "true"]
        if valid is Validity.TRUE:
            worst = max((v for v in ttc.values() if v is not None), default=0.0)
            summary = (f"all {len(per_policy)} policies converged "
                       f"(slowest {worst:.1f}s, bound {ctx.converge_bound:.0f}s)")
        else:
            summary = "; ".join(bad[:3]) + (f" (+{len(bad) - 3} more)" if len(bad) > 3 else "")
        data = {"policies": per_policy, "time_to_converge": ttc,
                "fault_end": fend, "unhealed_faults": unhealed}
        return Verdict(self.name, valid, summary, story, data)

    def _judge(self, history: History, ctx: CheckContext, put: PolicyUnderTest,
               fend: float | None, teller: StoryTeller, story: list[str]) -> dict[str, Any]:
        q = quiescence(history, ctx, put, fend)
        anchor, start, spec, present, maybe, expected = (q.anchor, q.start, q.spec, q.present,
                                                          q.maybe, q.expected)
        states = policy_states(history, put.name)
        end = history_end(history)
        deadline = start + ctx.converge_bound
        result: dict[str, Any] = {
            "start": start, "anchor": anchor, "deadline": deadline, "history_end": end,
            "policy_spec": oracle.describe_policy(spec),
            "registry_tags": sorted(present), "indeterminate_tags": sorted(maybe),
            "expected_tags": sorted(expected.tags), "expected_errors": sorted(expected.errors),
            "converged_at": None, "time_to_converge": None, "ready_blips": [],
        }
        head = (f"policy {put.name} ({oracle.describe_policy(spec)}) expected "
                f"{expected.describe()} within {ctx.converge_bound:.0f}s of {fmt_t(start)} ({anchor})")
        if not states:
            story.append(f"{head}: never observed")
            return {**result, "valid": "unknown", "outcome": "never observed"}

        # states in force from the window's start on, with their effective times
        # (events recorded at the same instant collapse into the last state)
        settled = [s for i, s in enumerate(states)
                   if i + 1 == len(states) or states[i + 1].t != s.t]
        timeline: list[tuple[float, PolicyState]] = []
        before = [s for s in settled if s.t <= start]
        if before:
            timeline.append((start, before[-1]))
        timeline.extend((s.t, s) for s in settled if s.t > start)
        final = timeline[-1][1] if timeline else None
        result["final"] = _fmt_state(final)

        converged_at = next((t for t, s in timeline if _good(s, expected)), None)
        if converged_at is None:
            if end < deadline:
                story.append(f"{head}: not converged when the history ended at {fmt_t(end)} "
                             f"({end - start:.1f}s observed); now {_fmt_state(final)}")
                return {**result, "valid": "unknown",
                        "outcome": f"history ended {deadline - end:.1f}s before the bound"}
            at_deadline = [s for t, s in timeline if t <= deadline]
            story.append(f"{head}: did not converge; at {fmt_t(deadline)} "
                         f"{_fmt_state(at_deadline[-1] if at_deadline else None)}, "
                         f"at the end {_fmt_state(final)}")
            story.extend(self._context(teller, ctx, put, start, deadline))
            return {**result, "valid": "false", "outcome": "never converged"}

        result["converged_at"] = converged_at
        result["time_to_converge"] = round(converged_at - start, 6)
        for t, s in timeline:
            if t <= converged_at or _good(s, expected):
                continue
            if s.ready != "True" and (s.tag in expected.tags or expected.errors):
                result["ready_blips"].append({"t": t, "ready": s.ready, "reason": s.reason})
                continue
            story.append(f"{head}: converged at {fmt_t(converged_at)} but moved away at "
                         f"{fmt_t(t)}: {_fmt_state(s)}")
            story.extend(teller.context(put, t))
            return {**result, "valid": "false", "outcome": f"moved away at {fmt_t(t)}"}
        if not _good(final, expected):
            story.append(f"{head}: converged at {fmt_t(converged_at)} but at the end "
                         f"{_fmt_state(final)}")
            return {**result, "valid": "false", "outcome": "not holding at the end"}
        if converged_at > deadline:
            story.append(f"{head}: converged only after {converged_at - start:.1f}s "
                         f"at {fmt_t(converged_at)}")
            story.extend(self._context(teller, ctx, put, start, converged_at))
            return {**result, "valid": "false",
                    "outcome": f"converged late ({converged_at - start:.1f}s)"}
        return {**result, "valid": "true", "outcome": "converged"}

    @staticmethod
    def _context(teller: StoryTeller, ctx: CheckContext, put: PolicyUnderTest,
                 start: float, until: float) -> list[str]:
        return teller.context(put, until, before=until - start + ctx.story_window)
