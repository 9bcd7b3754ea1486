"""git-outage: the Git server is stopped for a duration, then started again.

image-automation-controller's clones and pushes fail meanwhile; the heal is confirmed only
when the server answers again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ..domain import WaitTimeout
from ..waiting import wait_until
from .base import Confirmation, FaultContext, FaultKind


@dataclass(frozen=True)
class GitOutageEvidence:
    reachable_before: bool


class GitOutage(FaultKind):
    name: ClassVar[str] = "git-outage"
    how: ClassVar[str] = "stop the Git server for the fault's duration, then start it"
    confirmed_by: ClassVar[str] = "the Git server stops answering; the heal: it answers again"
    targets = frozenset({"git"})
    needs_duration: ClassVar[bool] = True

    def before(self, ctx: FaultContext) -> Any:
        return None

    def inject(self, ctx: FaultContext, before: Any) -> GitOutageEvidence:
        reachable = ctx.env.git_reachable()
        ctx.env.stop_git()
        return GitOutageEvidence(reachable)

    def after(self, ctx: FaultContext, before: Any, evidence: GitOutageEvidence) -> bool:
        try:
            return wait_until(lambda: not ctx.env.git_reachable(), ctx.action.confirm_timeout,
                              what="the Git server to stop answering")
        except WaitTimeout:
            return False

    def confirm(self, before: Any, after: bool, evidence: GitOutageEvidence) -> Confirmation:
        if not evidence.reachable_before:
            return Confirmation.unconfirmed("the Git server was already down", reachable=False)
        if not after:
            return Confirmation.unconfirmed("the Git server still answered", reachable=True)
        return Confirmation.ok(reachable=False)

    def heal(self, ctx: FaultContext) -> Confirmation:
        ctx.env.start_git()
        try:
            wait_until(ctx.env.git_reachable, ctx.action.confirm_timeout,
                       what="the Git server to answer again")
        except WaitTimeout as exc:
            return Confirmation("failed", str(exc), {"reachable": False})
        return Confirmation.ok(reachable=True)


FAULT = GitOutage()
