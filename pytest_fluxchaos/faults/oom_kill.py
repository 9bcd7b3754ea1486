"""oom-kill: the kernel's memcg OOM killer ends the controller; the container restarts.

The emptyDir survives a container restart, so the restarted replica keeps its (soon
stale) tag database: the fault behind fluxcd/flux2#4984. It counts only when the
kernel's verdict is seen: exit 137 with the runtime's OOMKilled flag, or the memory
cgroup's own ``oom_kill`` counter going up with the controller (not the hog) dying
first. A SIGKILL also exits 137 but never raises the counter, so it is not an OOM.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel

from ..domain import PodStatus
from .base import Confirmation, ControllerParams, FaultContext, FaultKind, no_restart, restart_facts, restarted
from .oom_helper import REAP_SCRIPT, SCRIPT, HelperReport, parse_report


@dataclass(frozen=True)
class OomEvidence:
    """What the injection saw, before the restart is awaited."""

    container_id: str
    pid: int
    where: str
    helper_exit_code: int | None
    report: HelperReport
    helper_error: str | None = None
    reaped_hog: bool = False
    exit_detected_s: float | None = None  # inject start -> the helper saw the controller gone


class OomKill(FaultKind):
    name: ClassVar[str] = "oom-kill"
    how: ClassVar[str] = ("a protected memory hog joins the controller's memory cgroup until the "
                          "kernel OOM-kills the controller")
    confirmed_by: ClassVar[str] = ("exit 137, a restart into a new container, and the kernel's verdict: "
                                   "OOMKilled from the runtime or the cgroup's oom_kill counter")
    params: ClassVar[type[BaseModel]] = ControllerParams
    keeps_down: ClassVar[bool] = True

    def inject(self, ctx: FaultContext, before: Any) -> OomEvidence:
        timeout = ctx.action.confirm_timeout
        t0 = time.monotonic()
        proc = ctx.env.container_process(ctx.namespace, ctx.target)
        env = {"TARGET_PID": str(proc.pid), "TIMEOUT": str(int(max(timeout, 5)))}
        result = ctx.env.run_host_helper(ctx.namespace, ctx.target, SCRIPT, env, timeout + 30)
        report = parse_report(result.output)
        exit_s = round(time.monotonic() - t0, 3) if report.target_gone else None
        reaped = False
        if report.hog_pid and report.hog_alive is None:  # the helper died half-way
            ctx.env.run_host_helper(ctx.namespace, ctx.target, REAP_SCRIPT,
                                    {"HOG_PID": str(report.hog_pid)}, 30)
            reaped = True
        return OomEvidence(container_id=proc.container_id, pid=proc.pid, where=proc.where,
                           helper_exit_code=result.exit_code, report=report,
                           helper_error=result.error, reaped_hog=reaped,
                           exit_detected_s=exit_s)

    def after(self, ctx: FaultContext, before: PodStatus, evidence: OomEvidence) -> PodStatus | None:
        return restarted(ctx, before, ctx.action.confirm_timeout)

    def confirm(self, before: PodStatus, after: PodStatus | None, evidence: OomEvidence) -> Confirmation:
        report = evidence.report
        facts: dict[str, Any] = {"kernel_oom_kills": report.kernel_oom_kills, "victim": report.victim,
                                 "cgroup": report.cgroup, "cgroup_version": report.cgroup_version}
        if report.victim == "hog":
            return Confirmation.unconfirmed("the kernel killed the memory hog, not the controller", **facts)
        missing = no_restart(before, after)
        if missing is not None:
            return Confirmation(missing.outcome, missing.why, {**missing.facts, **facts})
        assert after is not None
        facts.update(restart_facts(before, after))
        if after.exit_code != 137:
            return Confirmation.unconfirmed(f"exit code {after.exit_code}, not 137", **facts)
        counter = report.victim == "controller" and (report.kernel_oom_kills or 0) >= 1
        if after.oom_killed:
            return Confirmation.ok(oom_confirmed_by="runtime", **facts)
        if counter:
            # Runtimes sometimes miss the OOM event when the task exit wins the race; the
            # cgroup's counter is the kernel's own verdict.
            return Confirmation.ok(oom_confirmed_by="cgroup-counter", **facts)
        return Confirmation.unconfirmed("the container restarted with exit 137 but the kernel did "
                                        "not report an OOM kill (looks like a SIGKILL)", **facts)


FAULT = OomKill()
