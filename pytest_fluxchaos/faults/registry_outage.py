"""registry-outage: the registry is stopped for a duration, then started again.

Scans fail meanwhile; the heal is confirmed only when the registry answers again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ..domain import WaitTimeout
from ..waiting import wait_until
from .base import Confirmation, FaultContext, FaultKind


@dataclass(frozen=True)
class OutageEvidence:
    reachable_before: bool


class RegistryOutage(FaultKind):
    name: ClassVar[str] = "registry-outage"
    how: ClassVar[str] = "stop the registry for the fault's duration, then start it"
    confirmed_by: ClassVar[str] = "the registry stops answering; the heal: it answers again"
    targets = frozenset({"registry"})
    needs_duration: ClassVar[bool] = True

    def before(self, ctx: FaultContext) -> Any:
        return None

    def inject(self, ctx: FaultContext, before: Any) -> OutageEvidence:
        reachable = ctx.env.registry_reachable()
        ctx.env.stop_registry()
        return OutageEvidence(reachable)

    def after(self, ctx: FaultContext, before: Any, evidence: OutageEvidence) -> bool:
        try:
            return wait_until(lambda: not ctx.env.registry_reachable(), ctx.action.confirm_timeout,
                              what="the registry to stop answering")
        except WaitTimeout:
            return False

    def confirm(self, before: Any, after: bool, evidence: OutageEvidence) -> Confirmation:
        if not evidence.reachable_before:
            return Confirmation.unconfirmed("the registry was already down", reachable=False)
        if not after:
            return Confirmation.unconfirmed("registry still answered", reachable=True)
        return Confirmation.ok(reachable=False)

    def heal(self, ctx: FaultContext) -> Confirmation:
        ctx.env.start_registry()
        try:
            wait_until(ctx.env.registry_reachable, ctx.action.confirm_timeout,
                       what="the registry to answer again")
        except WaitTimeout as exc:
            return Confirmation("failed", str(exc), {"reachable": False})
        return Confirmation.ok(reachable=True)


FAULT = RegistryOutage()
