"""registry-latency: the registry answers slowly, for a duration.

A ``latency`` toxic on the fault proxy in front of the registry (the controllers reach the
registry only through it) delays every chunk the registry sends by ``latency`` (+/-
``jitter``). The plugin's own pushes bypass the proxy. Confirmed from the proxy, never
assumed: it must list the toxic as active, and a request through it from the host must be
measurably slower than the same request before the injection. The heal removes the toxic
and is confirmed when the proxy no longer lists it.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median
from typing import Annotated, Any, ClassVar

from pydantic import BeforeValidator, Field

from ..domain import ProxyToxic
from ..durations import parse_duration
from .base import Confirmation, FaultContext, FaultKind, NoParams

TOXIC_NAME = "fluxchaos-registry-latency"
PROBES = 3
#: The injected request must be slower than the baseline by at least this share of the latency.
MIN_SHARE = 0.5

Seconds = Annotated[float, BeforeValidator(parse_duration)]


class LatencyParams(NoParams):
    latency: Seconds = Field(default=2.0, gt=0)  # "2s", "500ms"
    jitter: Seconds = Field(default=0.0, ge=0)


@dataclass(frozen=True)
class LatencyEvidence:
    toxic: str
    latency_ms: int
    jitter_ms: int
    baseline_s: float  # median of the probes through the proxy before the toxic


@dataclass(frozen=True)
class LatencyAfter:
    """What the proxy showed with the toxic on."""

    active: bool  # the proxy lists the toxic
    attributes: dict[str, Any]
    probe_s: float | None  # one request through the proxy; None if it failed
    probe_error: str | None = None


def confirm_latency(after: LatencyAfter | None, evidence: LatencyEvidence) -> Confirmation:
    """Pure: active on the proxy AND measurably slower through it."""
    facts: dict[str, Any] = {"latency_ms": evidence.latency_ms, "baseline_s": round(evidence.baseline_s, 3)}
    if after is None:
        return Confirmation.unconfirmed("the proxy's state could not be read", **facts)
    facts.update(toxic_active=after.active,
                 probe_s=None if after.probe_s is None else round(after.probe_s, 3))
    if not after.active:
        return Confirmation.unconfirmed("the proxy does not list the latency toxic", **facts)
    if after.probe_s is None:
        return Confirmation.unconfirmed(f"no request got through the proxy ({after.probe_error})", **facts)
    added = after.probe_s - evidence.baseline_s
    facts["added_s"] = round(added, 3)
    wanted = MIN_SHARE * evidence.latency_ms / 1000.0
    if added < wanted:
        return Confirmation.unconfirmed(
            f"a request through the proxy was not measurably slower: {after.probe_s:.3f}s vs "
            f"{evidence.baseline_s:.3f}s before (wanted at least +{wanted:.3f}s)", **facts)
    return Confirmation.ok(**facts)


class RegistryLatency(FaultKind):
    name: ClassVar[str] = "registry-latency"
    how: ClassVar[str] = ("a `latency` toxic (params `latency`, `jitter`) on the fault proxy in front of the "
                          "registry for the fault's duration, then removed (docker backend)")
    confirmed_by: ClassVar[str] = ("the proxy lists the toxic as active and a request through it from the host is "
                                   "slower than before by at least half the latency; the heal: the proxy no "
                                   "longer lists it")
    targets = frozenset({"registry"})
    needs_duration: ClassVar[bool] = True
    params = LatencyParams

    def before(self, ctx: FaultContext) -> Any:
        return None

    def inject(self, ctx: FaultContext, before: Any) -> LatencyEvidence:
        p = ctx.action.params
        assert isinstance(p, LatencyParams)
        probe_timeout = 10.0
        baseline = median(ctx.env.registry_proxy_probe(probe_timeout) for _ in range(PROBES))
        latency_ms, jitter_ms = round(p.latency * 1000), round(p.jitter * 1000)
        ctx.env.add_registry_toxic(ProxyToxic(TOXIC_NAME, "latency", "downstream", 1.0,
                                              {"latency": latency_ms, "jitter": jitter_ms}))
        return LatencyEvidence(TOXIC_NAME, latency_ms, jitter_ms, baseline)

    def after(self, ctx: FaultContext, before: Any, evidence: LatencyEvidence) -> LatencyAfter | None:
        try:
            toxic = ctx.env.registry_proxy().toxic(evidence.toxic)
        except Exception:  # noqa: BLE001 - the proxy's admin API failed: not confirmed
            return None
        timeout = min(ctx.action.confirm_timeout, 10.0 + 2 * (evidence.latency_ms + evidence.jitter_ms) / 1000.0)
        try:
            probe: float | None = ctx.env.registry_proxy_probe(timeout)
            error = None
        except Exception as exc:  # noqa: BLE001 - recorded as the reason it is unconfirmed
            probe, error = None, str(exc)
        return LatencyAfter(toxic is not None, dict(toxic.attributes) if toxic else {}, probe, error)

    def confirm(self, before: Any, after: LatencyAfter | None, evidence: LatencyEvidence) -> Confirmation:
        return confirm_latency(after, evidence)

    def heal(self, ctx: FaultContext) -> Confirmation:
        ctx.env.remove_registry_toxic(TOXIC_NAME)
        state = ctx.env.registry_proxy()
        if state.toxic(TOXIC_NAME) is not None:
            return Confirmation("failed", "the proxy still lists the latency toxic", {"toxic_active": True})
        return Confirmation.ok(toxic_active=False, toxics=[t.name for t in state.toxics])


FAULT = RegistryLatency()
