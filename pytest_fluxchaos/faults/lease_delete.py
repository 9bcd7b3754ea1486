"""lease-delete: the leader election Lease is deleted; a pod (re-)acquires it.

No process dies; only leadership may move, so it probes the takeover path without
any database going stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel

from ..domain import REFLECTOR, WaitTimeout
from ..waiting import wait_until
from .base import Confirmation, ControllerParams, FaultContext, FaultKind, env_leader


@dataclass(frozen=True)
class LeaseEvidence:
    holder_before: str | None


class LeaseDelete(FaultKind):
    name: ClassVar[str] = "lease-delete"
    how: ClassVar[str] = ("delete the leader election Lease of image-reflector-controller "
                          "(controller: automation: image-automation-controller's)")
    confirmed_by: ClassVar[str] = "a pod holds the Lease again within the confirm timeout"
    params: ClassVar[type[BaseModel]] = ControllerParams

    def before(self, ctx: FaultContext) -> Any:
        return env_leader(ctx.env, ctx.namespace, ctx.controller)

    def inject(self, ctx: FaultContext, before: Any) -> LeaseEvidence:
        if ctx.controller == REFLECTOR:
            return LeaseEvidence(ctx.env.delete_lease(ctx.namespace))
        return LeaseEvidence(ctx.env.delete_lease(ctx.namespace, controller=ctx.controller))

    def after(self, ctx: FaultContext, before: Any, evidence: LeaseEvidence) -> str | None:
        try:
            return wait_until(lambda: env_leader(ctx.env, ctx.namespace, ctx.controller),
                              ctx.action.confirm_timeout,
                              what=f"a holder of the Lease in {ctx.namespace}")
        except WaitTimeout:
            return None

    def confirm(self, before: Any, after: str | None, evidence: LeaseEvidence) -> Confirmation:
        if evidence.holder_before is None:
            return Confirmation.unconfirmed("the Lease had no holder to delete",
                                            holder_after=after)
        if after is None:
            return Confirmation.unconfirmed("no pod re-acquired the lease",
                                            holder_before=evidence.holder_before)
        return Confirmation.ok(holder_before=evidence.holder_before, holder_after=after)


FAULT = LeaseDelete()
