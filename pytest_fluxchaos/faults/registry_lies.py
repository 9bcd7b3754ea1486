"""What the registry lies share (registry-truncate, -stale, -error, -slow).

A lie is set on the registry liar, the HTTP proxy the controllers reach the registry
through (the plugin's pushes and probes bypass it), for the fault's duration, then
cleared. Whether it landed is read from the liar's own log of the responses it acted on,
after the clear, over the whole window (``confirms_at_heal``): a lie is never assumed
to have been told. A controller that never asked during the window, or only got answers
equal to the registry's, leaves the fault unconfirmed; a liar that restarted meanwhile
(its boot id changed: the lie and its log were lost) makes it failed.

``image`` names one of the scenario's images or ``*``: every image of the run's own
namespace (``<namespace>/*``), so parallel variants sharing the registry are not lied to.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Annotated, Any, ClassVar

from pydantic import BeforeValidator

from ..domain import BackendError, RegistryLie, ServedLie
from ..durations import parse_duration
from .base import Confirmation, FaultContext, FaultKind, NoParams

Seconds = Annotated[float, BeforeValidator(parse_duration)]
#: How many served lies a confirmation lists one by one (all are counted).
LISTED = 10


class LieParams(NoParams):
    image: str = "*"  # a scenario image, or * for every image of the run's namespace


def repositories(namespace: str, image: str) -> str:
    """The liar's pattern: registry repositories are ``<namespace>/<image>``."""
    return f"{namespace}/*" if image == "*" else f"{namespace}/{image}"


def lie_id(ctx: FaultContext, kind: str, image: str) -> str:
    """One id per injection: the heal clears this injection's lie, never an earlier one's
    that made this one fail (the liar refuses an overlapping lie)."""
    raw = f"fluxchaos-{ctx.namespace}-{ctx.injection}-{kind}-{'all' if image == '*' else image}"
    return re.sub(r"[^A-Za-z0-9._-]", "_", raw)[:128]


@dataclass(frozen=True)
class LieEvidence:
    lie: str
    kind: str  # the liar's kind: truncate | stale | error | slow
    repositories: str
    params: dict[str, Any]
    boot: str  # the liar's boot id once it held the lie
    cursor: int  # its log's last seq when it took the lie
    snapshot: dict[str, int]  # stale: tags per repository at the snapshot (-1: unknown)


@dataclass(frozen=True)
class LieAfter:
    """The liar's log after the clear: every response the lie acted on."""

    boot: str
    entries: tuple[ServedLie, ...]
    dropped: int = 0  # entries lost to the log's bound
    error: str | None = None  # the log could not be read


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="milliseconds")


def confirm_lie(after: LieAfter, evidence: LieEvidence) -> Confirmation:
    """Pure: landed when the liar's log shows at least one response that differed from
    the registry's answer, served during the window."""
    facts: dict[str, Any] = {"lie": evidence.lie, "repositories": evidence.repositories}
    if after.error is not None:
        return Confirmation.unconfirmed(f"the registry liar's log could not be read: {after.error}", **facts)
    if after.boot != evidence.boot:
        return Confirmation("failed", f"the registry liar restarted during the fault (boot {evidence.boot} -> "
                                      f"{after.boot}): the lie and its log were lost", facts)
    mine = [e for e in after.entries if e.lie == evidence.lie and e.seq > evidence.cursor]
    wrong = sorted({e.kind for e in mine if e.kind != evidence.kind})
    if wrong:
        return Confirmation("failed", f"the liar logged {evidence.lie} as {', '.join(wrong)}, not {evidence.kind}",
                            facts)
    lies = [e for e in mine if e.lied]
    facts.update(asked=len(mine), lies_served=len(lies), log_dropped=after.dropped)
    if not mine:
        return Confirmation.unconfirmed(f"no request for {evidence.repositories} reached the liar during the "
                                        "fault: the controllers never asked", **facts)
    if not lies:
        return Confirmation.unconfirmed(f"the controllers asked {len(mine)} times, but every answer equalled the "
                                        f"registry's ({_passed(mine)})", **facts)
    facts.update(clients=dict(Counter(f"{e.user_agent} @ {e.client}" for e in lies)),
                 statuses=dict(Counter(str(e.status) for e in lies)),
                 paths=sorted({e.path for e in lies})[:LISTED],
                 first_at=_when(lies[0].at), last_at=_when(lies[-1].at),
                 served=[{"at": _when(e.at), "user_agent": e.user_agent, "client": e.client, "method": e.method,
                          "path": e.path, "status": e.status, **e.detail} for e in lies[:LISTED]])
    return Confirmation.ok(**facts)


def _passed(entries: list[ServedLie]) -> str:
    reasons = Counter(str(e.detail.get("passed") or "same tags") for e in entries)
    return "; ".join(f"{why}: {n}" for why, n in reasons.most_common(3))


class RegistryLieFault(FaultKind):
    """Base of the four lie kinds: set, clear, confirm from the liar's log."""

    targets = frozenset({"registry"})
    needs_duration: ClassVar[bool] = True
    confirms_at_heal: ClassVar[bool] = True
    lie_kind: ClassVar[str]

    def lie_params(self, p: Any) -> dict[str, Any]:
        """The liar's params for this kind, from the suite's."""
        return {}

    def _params(self, ctx: FaultContext) -> LieParams:
        p = ctx.action.params
        assert isinstance(p, LieParams)
        return p

    def before(self, ctx: FaultContext) -> Any:
        return None

    def inject(self, ctx: FaultContext, before: Any) -> LieEvidence:
        p = self._params(ctx)
        lie = RegistryLie(lie_id(ctx, self.lie_kind, p.image), self.lie_kind,
                          repositories(ctx.namespace, p.image), self.lie_params(p))
        held = ctx.env.set_registry_lie(lie)
        state = ctx.env.registry_liar()
        if state.lie(held.id) is None:
            raise BackendError(f"the registry liar took lie {held.id} but does not list it")
        return LieEvidence(held.id, held.kind, held.image, dict(held.params), state.boot, held.log_cursor,
                           dict(held.snapshot))

    def after(self, ctx: FaultContext, before: Any, evidence: LieEvidence) -> LieAfter:
        try:
            log = ctx.env.registry_lie_log(evidence.cursor, evidence.lie)
        except Exception as exc:  # noqa: BLE001 - recorded as why it is unconfirmed
            return LieAfter("", (), error=str(exc))
        return LieAfter(log.boot, log.entries, log.dropped)

    def confirm(self, before: Any, after: LieAfter, evidence: LieEvidence) -> Confirmation:
        return confirm_lie(after, evidence)

    def heal(self, ctx: FaultContext) -> Confirmation:
        p = self._params(ctx)
        lie = lie_id(ctx, self.lie_kind, p.image)
        ctx.env.clear_registry_lie(lie)
        state = ctx.env.registry_liar()
        if state.lie(lie) is not None:
            return Confirmation("failed", f"the registry liar still holds lie {lie}", {"lie_active": True})
        return Confirmation.ok(lie_active=False, lies=[held.id for held in state.lies])
