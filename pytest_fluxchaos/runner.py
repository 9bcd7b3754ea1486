"""One run: deploy a variant, execute the scenario, settle, heal, judge.

This is Jepsen's ``core/run`` for one (scenario, variant) pair. Every exit path heals
the faults it injected, stops its observers, removes its namespace and returns a
result with the full history, so artifacts are written even when the run errored.
The settle phase ends as soon as the converges checker says true on the history so far
(no fixed sleeps), or when the convergence bound runs out.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .checkers import (CheckContext, PolicyUnderTest, Validity, Verdict, combine,
                       run_checkers)
from .environment import Environment, Progress
from .generator import Generator, StepTimeout
from .history import History, Note
from .nemesis import Nemesis
from .scenario import Scenario
from .variants import Variant
from .domain import WaitTimeout
from .waiting import wait_until


@dataclass
class RunResult:
    scenario: str
    variant: str
    namespace: str
    backend: str
    irc_version: str
    flux_version: str | None
    seed: int
    history: History
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    expected: dict[str, Any] = field(default_factory=dict)
    error: str | None = None  # why the run could not complete (environment, trigger)
    error_detail: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    artifacts: Path | None = None
    backend_details: dict[str, Any] = field(default_factory=dict)  # what the backend ran on
    # each controller's version, image, source (offline-build / official-image), module
    # substitutions, and whether the IRC+IAC pair is a real Flux release (mixed_pair)
    controllers: dict[str, Any] = field(default_factory=dict)

    @property
    def overall(self) -> Validity:
        return combine(v.valid for v in self.verdicts.values()) if self.verdicts else Validity.UNKNOWN

    def mismatches(self) -> list[tuple[str, Any, Validity]]:
        """Checkers whose verdict differs from the expected one."""
        out = []
        for name, verdict in self.verdicts.items():
            want = self.expected.get(name, True)
            if want == "any":
                continue
            want_v = Validity.UNKNOWN if want == "unknown" else (Validity.TRUE if want else Validity.FALSE)
            if verdict.valid != want_v:
                out.append((name, want, verdict.valid))
        return out

    @property
    def passed(self) -> bool:
        return self.error is None and not self.mismatches()

    def verdict_json(self) -> dict[str, Any]:
        return {name: {"verdict": v.valid.value, "summary": v.summary, "evidence": v.story,
                       "data": v.data, "expected": _expected_str(self.expected.get(name, True))}
                for name, v in self.verdicts.items()}

    def write_artifacts(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        self.history.write_jsonl(directory / "history.jsonl")
        payload = {"scenario": self.scenario, "variant": self.variant,
                   "namespace": self.namespace, "backend": self.backend,
                   "irc_version": self.irc_version, "flux_version": self.flux_version,
                   "seed": self.seed, "error": self.error, "timings": self.timings,
                   "backend_details": self.backend_details, "controllers": self.controllers,
                   "passed": self.passed, "overall": self.overall.value,
                   "checkers": self.verdict_json()}
        (directory / "verdict.json").write_text(json.dumps(payload, indent=2, default=str))
        self.artifacts = directory
        return directory


def _expected_str(value: Any) -> str:
    return value if isinstance(value, str) else ("true" if value else "false")


def _controllers(env: Environment, namespace: str) -> dict[str, Any]:
    """What runs in the namespace, from where (environments that do not say: nothing)."""
    controllers = getattr(env, "controllers", None)
    return dict(controllers(namespace) if callable(controllers) else controllers or {})


def namespace_for(scenario: str, variant: str, salt: str = "") -> str:
    """A DNS-safe namespace unique to the pair (variants share a control plane)."""
    digest = hashlib.sha1(f"{scenario}|{variant}|{salt}".encode()).hexdigest()[:6]
    base = f"fc-{variant}"[:50].rstrip("-")
    return f"{base}-{digest}"


def check_context(scenario: Scenario, namespace: str, irc_version: str) -> CheckContext:
    policies = []
    for pol in scenario.policies:
        repo = scenario.repository(pol.repository)
        policies.append(PolicyUnderTest(
            name=f"{namespace}/{pol.name}", image=repo.image, policy=pol.policy,
            filter_tags=pol.filter_tags, repository=f"{namespace}/{repo.name}",
            exclusion_list=tuple(repo.exclusion_list) if repo.exclusion_list is not None else None))
    bounds = scenario.bounds
    automation = scenario.automation
    return CheckContext(policies=tuple(policies), irc_version=irc_version,
                        converge_bound=bounds.converge, stuck_bound=bounds.stuck,
                        honest_bound=bounds.honest,
                        automation=automation is not None,
                        git_lag=automation.interval + 15.0 if automation else 60.0)


def run_scenario(scenario: Scenario, variant: Variant, env: Environment, *,
                 seed: int | None = None, namespace: str | None = None,
                 progress: Progress = lambda _m: None, keep: bool = False) -> RunResult:
    """Run ``scenario`` under ``variant`` on ``env`` and judge it."""
    seed = seed if seed is not None else (scenario.seed if scenario.seed is not None
                                          else random.SystemRandom().randrange(2**31))
    namespace = namespace or namespace_for(scenario.name, variant.name, str(seed))
    if scenario.automation is not None and not variant.automation:
        # the scenario's automation runs IAC beside IRC in the variant's namespace
        variant = variant.model_copy(update={"automation": True})
    history = History()
    result = RunResult(scenario=scenario.name, variant=variant.name, namespace=namespace,
                       backend=env.backend_name, irc_version=env.irc_version,
                       flux_version=env.flux_version, seed=seed, history=history,
                       expected=scenario.expected(variant.name, env.irc_version, env.flux_version))
    details = getattr(env, "backend_details", None)
    result.backend_details = dict(details() if callable(details) else details or {})
    history.record(Note, message="run start", data={
        "scenario": scenario.name, "variant": variant.name, "namespace": namespace,
        "seed": seed, "backend": env.backend_name, "irc_version": env.irc_version,
        "flux_version": env.flux_version, "variant_spec": variant.model_dump(mode="json")})
    nemesis = Nemesis(env, namespace, history)
    stop_observing = None
    generator = None
    deadline = scenario.bounds.timeout
    ctx = check_context(scenario, namespace, env.irc_version)
    t0 = time.monotonic()
    try:
        progress(f"deploying {variant.name} into {namespace}")
        env.deploy(namespace, variant, progress)
        result.controllers = _controllers(env, namespace)
        stop_observing = env.observe(namespace, history)
        env.apply_objects(namespace, scenario, variant)
        result.timings["deploy"] = round(time.monotonic() - t0, 3)
        history.record(Note, message="deployed", data={"seconds": result.timings["deploy"],
                                                       "controllers": result.controllers})
        generator = Generator(scenario, env, namespace, history, nemesis, seed=seed)
        progress(f"running {len(scenario.steps)} steps")
        generator.run(deadline)
        nemesis.heal_all()
        _settle(scenario, history, ctx, deadline, progress, nemesis)
    except StepTimeout as exc:
        result.error = f"scenario could not proceed: {exc}"
    except KeyboardInterrupt:
        result.error = "interrupted"
        raise
    except Exception as exc:  # environment failures end the run; artifacts still written
        result.error = f"{type(exc).__name__}: {exc}"
        result.error_detail = traceback.format_exc()
    finally:
        try:
            nemesis.heal_all()
        finally:
            if generator is not None:
                generator.close()
            if stop_observing is not None:
                errors = stop_observing()
                if errors:
                    history.record(Note, message="observer errors", data={"errors": errors})
            history.record(Note, message="run end")
            result.timings["run"] = round(time.monotonic() - t0, 3)
            if not keep:
                try:
                    env.undeploy(namespace)
                except Exception as exc:  # cleanup failure must not hide the verdict
                    history.record(Note, message="undeploy failed", data={"error": str(exc)})
    result.verdicts = run_checkers(history, ctx)
    return result


def _settle(scenario: Scenario, history: History, ctx: CheckContext, deadline: float,
            progress: Progress, nemesis: Nemesis) -> None:
    """Observe after the last step until every policy has converged and stayed so.

    A policy that looks converged right after a leadership change may still be about
    to regress (the new leader reconciles from its own DB a moment later), so the
    converged state must hold for ``bounds.settle`` seconds before the run ends early.
    """
    from .checkers import Checker, Converges, GitConverges

    start = history.now()
    hold = scenario.bounds.settle
    bound = scenario.bounds.converge + (ctx.git_lag if ctx.automation else 0.0)
    limit = min(start + bound, deadline)
    progress(f"settling (converge bound {bound:.0f}s, hold {hold:.0f}s)")
    checkers: list[Checker] = [Converges(), *([GitConverges()] if ctx.automation else [])]
    since: float | None = None

    def settled() -> bool:
        nonlocal since
        nemesis.heal_due()
        now = history.now()
        if any(c.check(history, ctx).valid is not Validity.TRUE for c in checkers):
            since = None
            return False
        since = now if since is None else since
        return now - since >= hold

    # The converges checker is a pure function of the history: re-check it every 0.5 s.
    try:
        wait_until(settled, max(0.0, limit - history.now()), what="the converged state to hold",
                   interval=0.5, retry_on=())
    except WaitTimeout:
        history.record(Note, message="convergence bound reached")
    else:
        now = history.now()
        history.record(Note, message="converged", data={"after": round(now - start, 3),
                                                        "held": round(now - (since or now), 3)})
