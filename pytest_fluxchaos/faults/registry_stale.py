"""registry-stale: the registry's tag list is frozen at the injection, for a duration.

The registry liar snapshots the listing of ``image`` (or every image of the run) when the
fault is injected and serves it again for every listing until the heal: tags pushed
meanwhile are invisible to the controllers (a repository absent at the snapshot answers
NAME_UNKNOWN). Confirmed from the liar's log: at least one listing served that differed
from the registry's own, so something must change during the window (a push).
"""

from __future__ import annotations

from typing import ClassVar

from .registry_lies import LieParams, RegistryLieFault


class RegistryStale(RegistryLieFault):
    name: ClassVar[str] = "registry-stale"
    how: ClassVar[str] = ("the registry liar snapshots the tag list of `image` (or every image of the run) at the "
                          "injection and serves the snapshot for every listing until the heal (docker backend)")
    confirmed_by: ClassVar[str] = ("the liar's log, read after the clear, shows at least one listing served from "
                                   "the snapshot that differed from the registry's; none asked, or nothing "
                                   "changed: unconfirmed")
    params = LieParams
    lie_kind: ClassVar[str] = "stale"


FAULT = RegistryStale()
