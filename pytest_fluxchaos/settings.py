"""The plugin's settings: one option group on the command line, same names in ini."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from .durations import parse_duration

DEFAULT_FLUX_VERSION = "2.9.4"

# name, help, default, ini type (None = string)
IniType = Literal["string", "bool"]
OPTIONS: list[tuple[str, str, Any, IniType | None]] = [
    ("backend", "where Flux runs: kind (default) or docker", "kind", None),
    ("variants", "comma-separated deployment variants to run (default: each scenario's own "
                 "list; presets: single, ha-emptydir, ha-shared, single-pvc)", None, None),
    ("flux-version", "comma-separated Flux releases (2.9.4) or IRC versions (v1.2.4)",
     DEFAULT_FLUX_VERSION, None),
    ("artifacts", "directory for per-item history.jsonl and verdict.json "
                  "(default: under pytest's basetemp)", None, None),
    ("keep", "keep the environment (namespaces, containers, cluster) after the run", False, "bool"),
    ("seed", "random seed for jittered schedules (default: scenario seed or random; "
             "always recorded in the history)", None, None),
    ("timeout", "upper bound on one scenario's wall time (e.g. 20m); caps suite bounds",
     None, None),
    ("converge", "override every scenario's convergence bound (e.g. 3m)", None, None),
    ("assets", "asset source: auto (default), offline (build from the Go module proxy) "
               "or online (official images)", "auto", None),
    ("parallel", "run a scenario's variants concurrently on one control plane "
                 "(each in its own namespace with its own Lease)", False, "bool"),
    ("explore-budget", "time budget of each exploration (e.g. 45m); overrides the suite's "
                       "explore.budget.time", None, None),
    ("explore-schedules", "number of schedules each exploration runs (overrides the suite's "
                          "explore.budget.schedules; 0: only the time budget)", None, None),
    ("explore-parallel", "schedules an exploration runs at once on one control plane, each in its "
                         "own namespace (overrides explore.parallel)", None, None),
    ("explore-shrink-runs", "runs each finding's shrinking may spend (overrides explore.shrink.runs; "
                            "0: do not shrink)", None, None),
    ("explore-until-found", "stop each exploration once every expect-findings checker has a finding "
                            "(as explore.budget.until-found: true)", False, "bool"),
    ("allow-cluster", "name of an existing cluster the plugin may inject faults into "
                      "(chaos never runs against a cluster the plugin did not create otherwise)",
     None, None),
]


@dataclass(frozen=True)
class Settings:
    backend: str
    variants: list[str] | None
    flux_versions: list[str]
    artifacts: Path | None
    keep: bool
    seed: int | None
    timeout: float | None
    converge: float | None
    assets: str
    allow_cluster: str | None
    parallel: bool = False
    explore_budget: float | None = None
    explore_schedules: int | None = None
    explore_parallel: int | None = None
    explore_until_found: bool = False
    explore_shrink_runs: int | None = None


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("fluxchaos", "fluxchaos: chaos tests for Flux image automation")
    for name, help_text, default, ini_type in OPTIONS:
        dest = "fluxchaos_" + name.replace("-", "_")
        if ini_type == "bool":
            group.addoption(f"--fluxchaos-{name}", action="store_true", default=None,
                            dest=dest, help=help_text)
        else:
            group.addoption(f"--fluxchaos-{name}", action="store", default=None,
                            dest=dest, metavar=name.split("-")[0].upper(), help=help_text)
        if ini_type == "bool":
            parser.addini(dest, help_text + " (ini)", type="bool", default=default)
        else:
            parser.addini(dest, help_text + " (ini)", type="string", default=default)


def _raw(config: pytest.Config, name: str) -> Any:
    dest = "fluxchaos_" + name.replace("-", "_")
    value = config.getoption(dest)
    return value if value is not None else config.getini(dest)


def _csv(value: Any) -> list[str] | None:
    if value in (None, ""):
        return None
    items = value if isinstance(value, list) else str(value).split(",")
    return [v.strip() for v in items if v.strip()] or None


def load_settings(config: pytest.Config) -> Settings:
    """Read and validate options; bad values raise UsageError naming the option."""

    def duration(name: str) -> float | None:
        value = _raw(config, name)
        if value in (None, ""):
            return None
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise pytest.UsageError(f"--fluxchaos-{name}: {exc}") from None

    backend = str(_raw(config, "backend") or "kind")
    seed_raw = _raw(config, "seed")
    try:
        seed = int(seed_raw) if seed_raw not in (None, "") else None
    except ValueError:
        raise pytest.UsageError(f"--fluxchaos-seed: expected an integer, got {seed_raw!r}") from None
    assets = str(_raw(config, "assets") or "auto")
    if assets not in ("auto", "offline", "online"):
        raise pytest.UsageError(f"--fluxchaos-assets: expected auto, offline or online, got {assets!r}")
    artifacts = _raw(config, "artifacts")

    def count(name: str, low: int) -> int | None:
        value = _raw(config, name)
        if value in (None, ""):
            return None
        try:
            number = int(value)
        except ValueError:
            number = low - 1
        if number < low:
            raise pytest.UsageError(f"--fluxchaos-{name}: expected an integer >= {low}, got {value!r}")
        return number

    return Settings(
        backend=backend,
        variants=_csv(_raw(config, "variants")),
        flux_versions=_csv(_raw(config, "flux-version")) or [DEFAULT_FLUX_VERSION],
        artifacts=Path(artifacts) if artifacts else None,
        keep=bool(_raw(config, "keep")),
        seed=seed,
        timeout=duration("timeout"),
        converge=duration("converge"),
        assets=assets,
        allow_cluster=_raw(config, "allow-cluster") or None,
        parallel=bool(_raw(config, "parallel")),
        explore_budget=duration("explore-budget"),
        explore_schedules=count("explore-schedules", 0),
        explore_parallel=count("explore-parallel", 1),
        explore_until_found=bool(_raw(config, "explore-until-found")),
        explore_shrink_runs=count("explore-shrink-runs", 0),
    )
