"""pod-delete: the pod is replaced; its emptyDir, and so its tag database, is gone.

The new pod starts with an empty database (the DependencyNotReady path of
image-reflector-controller#844/#299), not a stale one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel

from ..domain import PodStatus, WaitTimeout
from ..waiting import wait_until
from .base import Confirmation, ControllerParams, FaultContext, FaultKind, env_pods


@dataclass(frozen=True)
class PodDeleteEvidence:
    old_pod: str
    new_pod: str


class PodDelete(FaultKind):
    name: ClassVar[str] = "pod-delete"
    how: ClassVar[str] = "delete the pod; its controller creates a replacement with fresh volumes"
    confirmed_by: ClassVar[str] = "the old pod is gone and a pod with the new name exists"
    params: ClassVar[type[BaseModel]] = ControllerParams

    def inject(self, ctx: FaultContext, before: Any) -> PodDeleteEvidence:
        return PodDeleteEvidence(ctx.target, ctx.env.delete_pod(ctx.namespace, ctx.target))

    def after(self, ctx: FaultContext, before: PodStatus, evidence: PodDeleteEvidence) -> list[str] | None:
        def replaced() -> list[str] | None:
            names = [p.name for p in env_pods(ctx.env, ctx.namespace, ctx.controller)]
            return names if evidence.old_pod not in names and evidence.new_pod in names else None

        try:
            return wait_until(replaced, ctx.action.confirm_timeout,
                              what=f"pod {evidence.old_pod} to be replaced by {evidence.new_pod}")
        except WaitTimeout:
            return None

    def confirm(self, before: PodStatus, after: list[str] | None, evidence: PodDeleteEvidence) -> Confirmation:
        facts = {"old_pod": evidence.old_pod, "new_pod": evidence.new_pod}
        if evidence.new_pod == evidence.old_pod:
            return Confirmation.unconfirmed("the replacement has the old pod's name", **facts)
        if after is None:
            return Confirmation.unconfirmed("old pod still present or new pod missing", **facts)
        return Confirmation.ok(pods_after=after, **facts)


FAULT = PodDelete()
