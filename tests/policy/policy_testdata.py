"""Load the YAML fact tables under tests/policy/data/."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).parent / "data"

# IRC release used to replay facts recorded for each release line
IRC_FOR_LABEL = {
    "v1.2.x": "1.2.4",
    "v1.0.x-v1.1.x": "1.1.2",
    "v0.35.x": "0.35.2",
    "v0.34.x": "0.34.0",
    "v0.32.x": "0.32.0",
}


@cache
def load(name: str) -> Any:
    with open(DATA / f"{name}.yaml", encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def ids(cases: list[dict], *keys: str) -> list[str]:
    """Readable pytest ids from the first present key."""
    out = []
    for i, case in enumerate(cases):
        label = next((str(case[k]) for k in keys if k in case), str(i))
        out.append(f"{i}-{label[:40]}")
    return out
