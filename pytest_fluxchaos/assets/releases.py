"""A Flux release's controller versions, read from the ``github.com/fluxcd/flux2/v2`` module.

The static tables in :mod:`.versions` stop at the release they were written for; the
flux2 module of a newer release names every controller version in its
``manifests/bases/<controller>/kustomization.yaml`` (the release asset URL), so a new
row is read at build time instead of guessed, and cached as JSON.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

from . import versions
from .errors import AssetError
from .stamps import STAMP_SCHEMA, now as _now

if TYPE_CHECKING:
    from .build import Builder

_ASSET_URL = re.compile(r"/releases/download/(v\d+\.\d+\.\d+)/([a-z-]+)\.(?:crds|deployment)\.yaml")


def parse_bases(bases: Path) -> dict[str, str]:
    """controller name -> version, from ``manifests/bases/*/kustomization.yaml``."""
    pins: dict[str, str] = {}
    for k in sorted(bases.glob("*/kustomization.yaml")):
        for version, name in _ASSET_URL.findall(k.read_text()):
            pins.setdefault(name, version)
    return pins


def release_pins(b: Builder, flux_version: str) -> dict[str, str]:
    """Every controller version Flux ``flux_version`` pins (cached under ``<cache>/releases``)."""
    out = b.cache / "releases" / f"{flux_version}.json"
    try:
        data = json.loads(out.read_text())
        if data.get("schema") == STAMP_SCHEMA and data.get("pins"):
            return dict(data["pins"])
    except (OSError, json.JSONDecodeError):
        pass
    with b.step(f"reading Flux {flux_version}'s controller versions from {versions.FLUX2_MODULE}"):
        info = b.module_info(versions.FLUX2_MODULE, f"v{flux_version}", f"flux2-{flux_version}")
        pins = parse_bases(Path(info["Dir"]) / "manifests" / "bases")
        if "image-reflector-controller" not in pins:
            raise AssetError(f"{versions.FLUX2_MODULE}@v{flux_version} names no image-reflector-controller "
                             "in manifests/bases")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"schema": STAMP_SCHEMA, "flux_version": flux_version, "pins": pins,
                                   "module": f"{versions.FLUX2_MODULE}@v{flux_version}",
                                   "read_at": _now()}, indent=2) + "\n")
    return pins


def learn(b: Builder, flux_or_irc_version: str) -> None:
    """Teach the tables a Flux release they lack (e.g. 2.9.5), from its flux2 module."""
    m = re.match(r"^v?(2\.\d+\.\d+)$", (flux_or_irc_version or "").strip())
    if not m or m[1] in versions.FLUX_TO_IRC:
        return
    versions.learn_release(m[1], release_pins(b, m[1]))
