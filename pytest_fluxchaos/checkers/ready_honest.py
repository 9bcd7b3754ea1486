"""ready-honest: a policy does not stay Ready=True while its repository keeps failing.

image-reflector-controller#449 (open): an ImagePolicy keeps Ready=True "Latest image tag
for ... resolved to ..." while its ImageRepository cannot scan, because the policy only
re-runs when the repository's tag revision changes. Anyone trusting the policy's Ready
(an Alert, ``flux get images``, a health check) is told all is well while no new tag can
arrive. A policy's Ready=True is only as true as its repository's.

A repository *fails* from a RepositoryReady with status False until the next one with
status True. Unknown in between (IRC marks Ready Unknown "scanning: ..." while a retry
runs) neither starts nor ends a failure: it is progress, not an outcome. A failure
longer than ``honest_bound`` is tolerated only if the policy is not Ready=True at any
moment from ``failing since + bound`` until the repository recovers (or the history
ends). The policy's Ready at a moment is its last PolicyReady at or before it.

*unknown* when the policy's repository is not known, or the Ready condition of the
repository or of the policy was never observed; *true* when no repository failed for
longer than the bound or the policy left Ready=True in time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytest_fluxchaos.history import History, PolicyReady, PolicySpec, RepositoryReady

from .core import CheckContext, PolicyUnderTest, Validity, Verdict, combine
from .story import StoryTeller, clip, fmt_t, when
from .timeline import history_end


@dataclass(frozen=True)
class Failure:
    """One stretch during which the repository was failing."""

    since: float
    wall: str
    reason: str
    message: str
    until: float | None  # None: still failing when the history ends


def repository_of(history: History, put: PolicyUnderTest) -> str | None:
    """The policy's ImageRepository (namespace/name): the context's, else the last
    observed spec's ``imageRepositoryRef`` (its namespace defaults to the policy's)."""
    if put.repository:
        return put.repository
    specs = [e for e in history.of(PolicySpec) if e.policy == put.name]
    ref = (specs[-1].spec.get("imageRepositoryRef") or {}) if specs else {}
    if not ref.get("name"):
        return None
    namespace = ref.get("namespace") or put.name.rsplit("/", 1)[0]
    return f"{namespace}/{ref['name']}"


def failures(readies: list[RepositoryReady]) -> list[Failure]:
    out: list[Failure] = []
    open_: RepositoryReady | None = None
    for ev in readies:
        if ev.status == "False" and open_ is None:
            open_ = ev
        elif ev.status == "True" and open_ is not None:
            out.append(Failure(open_.t, open_.wall, open_.reason, open_.message, ev.t))
            open_ = None
    if open_ is not None:
        out.append(Failure(open_.t, open_.wall, open_.reason, open_.message, None))
    return out


def true_spans(readies: list[PolicyReady], start: float,
               stop: float) -> list[tuple[float, float, PolicyReady]]:
    """The stretches of ``[start, stop)`` during which the policy said Ready=True."""
    spans: list[tuple[float, float, PolicyReady]] = []
    current = next((e for e in reversed(readies) if e.t <= start), None)
    cursor = start
    for ev in [e for e in readies if start < e.t < stop] + [None]:
        end = stop if ev is None else ev.t
        if current is not None and current.status == "True" and end > cursor:
            spans.append((cursor, end, current))
        if ev is not None:
            current, cursor = ev, ev.t
    return spans


@dataclass
class ReadyHonest:
    name: str = "ready-honest"

    def check(self, history: History, ctx: CheckContext) -> Verdict:
        if not ctx.policies:
            return Verdict(self.name, Validity.UNKNOWN, "no policies under test")
        teller = StoryTeller(history, ctx)
        end = history_end(history)
        story: list[str] = []
        per_policy: dict[str, Any] = {}
        for put in ctx.policies:
            per_policy[put.name] = self._judge(history, ctx, put, end, teller, story)
        valid = combine(Validity(p["valid"]) for p in per_policy.values())
        if valid is Validity.FALSE:
            bad = [f"{n} (repository {p['repository']})" for n, p in per_policy.items()
                   if p["valid"] == "false"]
            summary = (f"Ready=True while the repository failed beyond {ctx.honest_bound:.0f}s: "
                       + ", ".join(bad))
        elif valid is Validity.UNKNOWN:
            summary = "; ".join(f"{n}: {p['why']}" for n, p in per_policy.items()
                                if p["valid"] == "unknown")
        else:
            longest = max((w["failed_for"] for p in per_policy.values() for w in p["failures"]),
                          default=None)
            summary = ("no repository failed" if longest is None else
                       f"no policy Ready=True beyond {ctx.honest_bound:.0f}s of a failing "
                       f"repository (longest failure {longest:.1f}s)")
        return Verdict(self.name, valid, summary, story, {"policies": per_policy,
                                                          "bound": ctx.honest_bound})

    def _judge(self, history: History, ctx: CheckContext, put: PolicyUnderTest, end: float,
               teller: StoryTeller, story: list[str]) -> dict[str, Any]:
        repo = repository_of(history, put)
        res: dict[str, Any] = {"valid": "unknown", "repository": repo, "failures": []}
        if repo is None:
            return {**res, "why": "its ImageRepository is not known"}
        repo_readies = [e for e in history.of(RepositoryReady) if e.repository == repo]
        if not repo_readies:
            return {**res, "why": f"Ready of repository {repo} never observed"}
        readies = [e for e in history.of(PolicyReady) if e.policy == put.name]
        if not readies:
            return {**res, "why": "Ready of the policy never observed"}
        res["valid"] = "true"
        for failure in failures(repo_readies):
            stop = end if failure.until is None else failure.until
            deadline = failure.since + ctx.honest_bound
            spans = true_spans(readies, deadline, stop) if stop > deadline else []
            rec = {"since": failure.since, "since_wall": failure.wall, "until": failure.until,
                   "failed_for": stop - failure.since, "reason": failure.reason,
                   "message": failure.message, "ready_true_beyond_bound": 0.0,
                   "policy_ready_at": None, "policy_message": None}
            if spans:
                first = spans[0]
                rec.update(ready_true_beyond_bound=sum(b - a for a, b, _ in spans),
                           policy_ready_at=first[0], policy_message=first[2].message)
                res["valid"] = "false"
                self._tell(ctx, put, repo, failure, stop, first, teller, story)
            res["failures"].append(rec)
        return res

    @staticmethod
    def _tell(ctx: CheckContext, put: PolicyUnderTest, repo: str, failure: Failure,
              stop: float, span: tuple[float, float, PolicyReady], teller: StoryTeller,
              story: list[str]) -> None:
        until = ("to the end of the history" if failure.until is None
                 else f"until {fmt_t(failure.until)}")
        story.append(f"policy {put.name} Ready=True at {fmt_t(span[0])} while repository {repo} "
                     f"had failed since {when(failure.since, failure.wall)} {until} "
                     f"({stop - failure.since:.1f}s, bound {ctx.honest_bound:.0f}s)")
        story.append("  " + clip(f"repository Ready False {failure.reason}: {failure.message}"))
        ready = span[2]
        story.append("  " + clip(f"policy Ready {ready.status} {ready.reason} since {fmt_t(ready.t)}: "
                                 f"{ready.message}"))
        story.extend(teller.context(put, failure.since, after=span[0] - failure.since,
                                    before=ctx.story_window))
