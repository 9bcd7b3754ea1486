"""registry-truncate: the registry's tag list comes back short, for a duration.

Two ways a listing loses tags on its way to a controller: cut to its first ``keep`` tags
(in the registry's order, paged as the registry pages), or (``drop-link: true``) a
paginated answer without its ``Link`` header, so a client that pages stops after the
first page. IRC asks with ``?n=1000`` (go-containerregistry's page size), so a dropped
link bites only beyond 1000 tags. Told by the registry liar; confirmed from its log.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, model_validator

from .registry_lies import LieParams, RegistryLieFault


class TruncateParams(LieParams):
    keep: int | None = Field(default=None, ge=0)
    drop_link: bool = Field(default=False, alias="drop-link")

    @model_validator(mode="after")
    def _one_way(self) -> TruncateParams:
        if (self.keep is None) == (not self.drop_link):
            raise ValueError("registry-truncate takes exactly one of keep: N or drop-link: true")
        return self


class RegistryTruncate(RegistryLieFault):
    name: ClassVar[str] = "registry-truncate"
    how: ClassVar[str] = ("the registry liar cuts `GET /v2/<name>/tags/list` to its first `keep` tags, or "
                          "(`drop-link: true`) drops the `Link` header of paginated answers, for `image` (or every "
                          "image of the run), for the fault's duration (docker backend)")
    confirmed_by: ClassVar[str] = ("the liar's log, read after the clear, shows at least one listing served "
                                   "shorter than the registry's (or without its Link) during the window; none "
                                   "asked, or none cut: unconfirmed")
    params = TruncateParams
    lie_kind: ClassVar[str] = "truncate"

    def lie_params(self, p: Any) -> dict[str, Any]:
        assert isinstance(p, TruncateParams)
        return {"drop_link": True} if p.drop_link else {"keep": p.keep}


FAULT = RegistryTruncate()
