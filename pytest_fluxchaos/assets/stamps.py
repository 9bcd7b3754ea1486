"""What the asset steps share: the stamp format and where the registry's config lives."""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
from pathlib import Path

LABEL = "io.fluxchaos.asset"
STAMP_SCHEMA = 1
REGISTRY_CONFIG = Path(__file__).with_name("registry-config.yaml")


def now() -> str:
    """A stamp's UTC time, to the second."""
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def min_free_gib() -> float:
    """The free disk space a build step insists on (FLUXCHAOS_MIN_FREE_GB, default 3)."""
    try:
        return float(os.environ.get("FLUXCHAOS_MIN_FREE_GB", "3"))
    except ValueError:
        return 3.0
