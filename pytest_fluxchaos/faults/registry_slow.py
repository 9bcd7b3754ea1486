"""registry-slow: the registry's HTTP responses arrive late, for a duration.

Unlike registry-latency (a TCP toxic on every byte of every connection), the registry
liar holds back each whole response for ``image`` (or every image of the run) by
``delay`` before its headers go out, the way an overloaded registry answers; the heal
releases responses still held. Confirmed from the liar's log of responses it delayed.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from .registry_lies import LieParams, RegistryLieFault, Seconds


class SlowParams(LieParams):
    delay: Seconds = Field(default=2.0, gt=0, le=600)  # "2s", "500ms"


class RegistrySlow(RegistryLieFault):
    name: ClassVar[str] = "registry-slow"
    how: ClassVar[str] = ("the registry liar holds back every response for `image` (or every image of the run) by "
                          "`delay` (default 2s) before its headers, for the fault's duration (docker backend)")
    confirmed_by: ClassVar[str] = ("the liar's log, read after the clear, shows at least one response it delayed "
                                   "during the window; none asked: unconfirmed")
    params = SlowParams
    lie_kind: ClassVar[str] = "slow"

    def lie_params(self, p: Any) -> dict[str, Any]:
        assert isinstance(p, SlowParams)
        return {"delay_ms": max(1, round(p.delay * 1000))}


FAULT = RegistrySlow()
