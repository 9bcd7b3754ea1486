"""registry-error: the registry answers 5xx, or 429 with Retry-After, for a duration.

The registry liar answers every request naming ``image`` (or every image of the run) in
the registry's place with ``status`` (default 503) and the registry's error body, plus
``Retry-After`` when ``retry-after`` is given; the registry is not asked. Clients that
retry (go-containerregistry retries 429 and 5xx) show up as several lies.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from pydantic import Field, field_validator

from .registry_lies import LieParams, RegistryLieFault, Seconds


class ErrorParams(LieParams):
    status: int = 503
    retry_after: Seconds | None = Field(default=None, alias="retry-after", ge=0)

    @field_validator("status")
    @classmethod
    def _error_status(cls, status: int) -> int:
        if status != 429 and not 500 <= status <= 599:
            raise ValueError(f"status must be 429 or 5xx, not {status}")
        return status


class RegistryError(RegistryLieFault):
    name: ClassVar[str] = "registry-error"
    how: ClassVar[str] = ("the registry liar answers every request for `image` (or every image of the run) with "
                          "`status` (429 or 5xx, default 503; `retry-after` adds Retry-After) for the fault's "
                          "duration (docker backend)")
    confirmed_by: ClassVar[str] = ("the liar's log, read after the clear, shows at least one error served during "
                                   "the window; none asked: unconfirmed")
    params = ErrorParams
    lie_kind: ClassVar[str] = "error"

    def lie_params(self, p: Any) -> dict[str, Any]:
        assert isinstance(p, ErrorParams)
        out: dict[str, Any] = {"status": p.status}
        if p.retry_after is not None:
            out["retry_after_s"] = math.ceil(p.retry_after)  # the header takes whole seconds
        return out


FAULT = RegistryError()
