"""Tag sequences: the shapes of tags real registries hold, generated deterministically.

A suite names a sequence per image (semver series, calver, unix timestamps, build
numbers, git-sha-like noise, ``latest``, cosign ``.sig`` companions) and pushes "the
next N" tags from it; generation is a pure function of the spec (and seed), so a run
is replayable.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

BUMPS = ("patch", "minor", "major")


@dataclass(frozen=True)
class SemverSeries:
    """``1.0.0, 1.0.1, ...``; ``prerelease`` inserts ``X-<pre>.1`` before each release."""

    start: str = "1.0.0"
    bump: Literal["patch", "minor", "major"] = "patch"
    prefix: str = ""
    prerelease: str | None = None  # e.g. "rc": 1.0.1-rc.1 comes before 1.0.1

    def __iter__(self) -> Iterator[str]:
        major, minor, patch = (int(p) for p in self.start.split("."))
        first = True
        while True:
            if not first:
                if self.bump == "patch":
                    patch += 1
                elif self.bump == "minor":
                    minor, patch = minor + 1, 0
                else:
                    major, minor, patch = major + 1, 0, 0
                if self.prerelease:
                    yield f"{self.prefix}{major}.{minor}.{patch}-{self.prerelease}.1"
            first = False
            yield f"{self.prefix}{major}.{minor}.{patch}"


@dataclass(frozen=True)
class CalverSeries:
    """Dates formatted with strftime, one ``step_days`` apart (``2024.01.02``)."""

    start: str = "2024-01-01"
    format: str = "%Y.%m.%d"
    step_days: int = 1
    prefix: str = ""

    def __iter__(self) -> Iterator[str]:
        day = date.fromisoformat(self.start)
        while True:
            yield f"{self.prefix}{day.strftime(self.format)}"
            day += timedelta(days=self.step_days)


@dataclass(frozen=True)
class CounterSeries:
    """Unix timestamps or build numbers: ``prefix + (start + i*step)``."""

    start: int = 1
    step: int = 1
    prefix: str = ""
    suffix: str = ""

    def __iter__(self) -> Iterator[str]:
        n = self.start
        while True:
            yield f"{self.prefix}{n}{self.suffix}"
            n += self.step


@dataclass(frozen=True)
class ShaNoise:
    """Git-sha-like tags (``a1b2c3d``) from a seeded RNG: noise no policy should pick."""

    seed: int = 0
    length: int = 7
    prefix: str = ""

    def __iter__(self) -> Iterator[str]:
        rng = random.Random(self.seed)
        while True:
            yield self.prefix + hashlib.sha1(str(rng.random()).encode()).hexdigest()[: self.length]


@dataclass(frozen=True)
class Literal_:
    """An explicit list; exhausting it is an error the suite validator reports."""

    tags: tuple[str, ...]

    def __iter__(self) -> Iterator[str]:
        return iter(self.tags)


SERIES_KINDS = {
    "semver": SemverSeries,
    "calver": CalverSeries,
    "timestamps": CounterSeries,
    "build-numbers": CounterSeries,
    "sha": ShaNoise,
}


def build_series(spec: dict[str, Any] | list[str]) -> Any:
    """A sequence object from its suite form (``{semver: {...}}`` or a list)."""
    if isinstance(spec, list):
        return Literal_(tuple(str(t) for t in spec))
    ((kind, params),) = spec.items()
    params = {k.replace("-", "_"): v for k, v in (params or {}).items()}
    if kind == "timestamps":
        params.setdefault("start", 1_700_000_000)
        params.setdefault("step", 3600)
    return SERIES_KINDS[kind](**params)


class TagCursor:
    """Hands out the next tags of one image's sequence, optionally with ``.sig`` companions."""

    def __init__(self, series: Any, *, signatures: bool = False, latest: bool = False) -> None:
        self._it = iter(series)
        self.signatures = signatures
        self.latest = latest
        self.issued: list[str] = []

    def take(self, n: int) -> list[str]:
        tags: list[str] = []
        for _ in range(n):
            try:
                tag = next(self._it)
            except StopIteration:
                raise ValueError(
                    f"tag sequence exhausted after {len(self.issued)} tags") from None
            self.issued.append(tag)
            tags.append(tag)
            if self.signatures:
                tags.append(f"sha256-{hashlib.sha256(tag.encode()).hexdigest()}.sig")
        if self.latest and tags:
            tags.append("latest")
        return tags
