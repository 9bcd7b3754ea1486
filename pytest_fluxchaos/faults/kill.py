"""kill: SIGKILL the controller process; the container restarts and keeps its emptyDir.

Like an OOM kill for the controller's state (no lease release, stale database kept),
but without the kernel's involvement: it must exit 137 and must *not* look like an OOM.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel

from ..domain import PodStatus
from .base import Confirmation, ControllerParams, FaultContext, FaultKind, no_restart, restart_facts, restarted


@dataclass(frozen=True)
class KillEvidence:
    signal: str
    container_id: str


class Kill(FaultKind):
    name: ClassVar[str] = "kill"
    how: ClassVar[str] = "SIGKILL the controller's process"
    confirmed_by: ClassVar[str] = "exit 137 without OOMKilled, and a restart into a new container"
    params: ClassVar[type[BaseModel]] = ControllerParams
    keeps_down: ClassVar[bool] = True

    def inject(self, ctx: FaultContext, before: Any) -> KillEvidence:
        return KillEvidence("KILL", ctx.env.signal_container(ctx.namespace, ctx.target, "KILL"))

    def after(self, ctx: FaultContext, before: PodStatus, evidence: KillEvidence) -> PodStatus | None:
        return restarted(ctx, before, ctx.action.confirm_timeout)

    def confirm(self, before: PodStatus, after: PodStatus | None, evidence: KillEvidence) -> Confirmation:
        missing = no_restart(before, after)
        if missing is not None:
            return missing
        assert after is not None
        facts = restart_facts(before, after)
        if after.exit_code != 137:
            return Confirmation.unconfirmed(f"exit code {after.exit_code}, not 137", **facts)
        if after.oom_killed:
            return Confirmation.unconfirmed("the runtime reports an OOM kill, not our SIGKILL", **facts)
        return Confirmation.ok(**facts)


FAULT = Kill()
