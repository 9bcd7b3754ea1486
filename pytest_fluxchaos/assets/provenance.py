"""Where each controller of a run came from, and whether the pair is a real Flux release.

Offline, the Go module proxy serves only some controller versions, so a run may pair
an IRC and an IAC that no Flux release ships together, and a build may have swapped
dependency versions.  A verdict must say so; this is the data it says it with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import versions

IRC = "image-reflector-controller"
IAC = "image-automation-controller"
#: Where a controller image came from.
OFFLINE_BUILD = "offline-build"
OFFICIAL_IMAGE = "official-image"


@dataclass(frozen=True)
class Controller:
    """One controller: its version, image, source, the version its Flux release pins,
    and the module substitutions the offline build made (``{module, wanted, used}``)."""

    name: str
    version: str
    image: str
    source: str  # OFFLINE_BUILD | OFFICIAL_IMAGE
    pinned: str | None = None  # what ``flux_version`` pins (None: unknown release)
    substitutions: tuple[dict[str, str], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "image": self.image, "source": self.source,
                "pinned_by_flux": self.pinned, "substitutions": [dict(s) for s in self.substitutions]}


@dataclass(frozen=True)
class ControllerSet:
    """The controllers of one asset set and the Flux release they stand for."""

    flux_version: str | None
    controllers: tuple[Controller, ...] = field(default_factory=tuple)

    def get(self, name: str) -> Controller | None:
        return next((c for c in self.controllers if c.name == name), None)

    @property
    def releases(self) -> list[str]:
        """The Flux releases that ship exactly these IRC and IAC versions."""
        irc, iac = self.get(IRC), self.get(IAC)
        if irc is None or iac is None:
            return []
        return pairing_releases(irc.version, iac.version)

    @property
    def mixed(self) -> bool:
        """True when IRC and IAC run but no Flux release pairs their versions."""
        return self.get(IRC) is not None and self.get(IAC) is not None and not self.releases

    def as_dict(self) -> dict[str, Any]:
        return {"flux_version": self.flux_version, "mixed_pair": self.mixed, "pair_releases": self.releases,
                "controllers": {c.name: c.as_dict() for c in self.controllers}}

    def summary(self) -> str:
        """One line for the terminal: versions, sources, substitutions, mixed pair."""
        parts = []
        for c in self.controllers:
            short = "IRC" if c.name == IRC else "IAC" if c.name == IAC else c.name
            subs = f", {len(c.substitutions)} module substitution(s)" if c.substitutions else ""
            parts.append(f"{short} {c.version} ({c.source}{subs})")
        text = " + ".join(parts)
        if self.mixed:
            text += " - MIXED pair: no Flux release ships these versions together"
        return text


def pairing_releases(irc_version: str, iac_version: str) -> list[str]:
    """Flux releases pinning both versions, oldest first."""
    return sorted((f for f, i in versions.FLUX_TO_IRC.items()
                   if i == irc_version and versions.FLUX_TO_IAC.get(f) == iac_version), key=versions.release_key)


def from_dict(data: dict[str, Any] | None) -> ControllerSet | None:
    """The inverse of :meth:`ControllerSet.as_dict` (a stamp or verdict.json)."""
    if not data:
        return None
    ctrls = tuple(Controller(name=c["name"], version=c["version"], image=c.get("image", ""),
                             source=c.get("source", ""), pinned=c.get("pinned_by_flux"),
                             substitutions=tuple(c.get("substitutions") or ()))
                  for c in (data.get("controllers") or {}).values())
    ctrls = tuple(sorted(ctrls, key=lambda c: (c.name != IRC, c.name)))  # stamps sort keys: IRC first again
    return ControllerSet(data.get("flux_version"), ctrls)


def controllers_line(controllers: dict[str, Any] | None) -> str | None:
    """``controllers: IRC v1.2.4 (offline-build, 1 module substitution(s)) + IAC ... - MIXED pair``."""
    cs = from_dict(controllers)
    return f"controllers: {cs.summary()}" if cs is not None and cs.controllers else None
