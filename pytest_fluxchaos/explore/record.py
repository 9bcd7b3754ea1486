"""An exploration as files: ``exploration.json`` (every run, the shrink paths) and, per
finding, its replayable suite and upstream paragraph. Plain data: the HTML report of a
finding's minimal run is rendered by the pytest front from the run's own artifacts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .explorer import Exploration, Finding, Trial
from .finding import finding_name, suite_yaml, upstream_summary
from .schedule import Schedule, describe, signature
from .spec import ExploreSpec


def _schedule(schedule: Schedule) -> dict[str, Any]:
    return {"variant": schedule.variant.name, "seed": schedule.seed, "signature": signature(schedule),
            "moves": [describe(m) for m in schedule.moves]}


def _trial(trial: Trial) -> dict[str, Any]:
    return {"index": trial.index, "phase": trial.phase, "schedule": _schedule(trial.schedule),
            "verdicts": trial.outcome.verdicts, "failing": list(trial.failing),
            "error": trial.outcome.error, "seconds": trial.outcome.seconds,
            "artifacts": trial.outcome.artifacts}


def _finding(spec: ExploreSpec, finding: Finding) -> dict[str, Any]:
    shrink = finding.shrink
    return {"checkers": list(finding.checkers), "signature": finding.signature,
            "name": finding_name(spec, finding),
            "found_at": finding.found_at, "runs": finding.runs,
            "original": _schedule(finding.original), "minimal": _schedule(shrink.minimal),
            "one_minimal": shrink.one_minimal, "budget_reached": shrink.exhausted,
            "verifications": [{"moves": len(v.schedule.moves), "signature": signature(v.schedule),
                               "failing": v.failing, "runs": v.runs, "failures": v.failures}
                              for v in shrink.verifications],
            "minimal_run": finding.minimal_trial.outcome.artifacts if finding.minimal_trial else None,
            "shrink_path": [{"why": s.why, "failing": s.failing, "runs": s.runs,
                             "moves": [describe(m) for m in s.schedule.moves],
                             "variant": s.schedule.variant.name} for s in shrink.path]}


def exploration_json(spec: ExploreSpec, exploration: Exploration) -> dict[str, Any]:
    return {"explore": spec.name, "seed": exploration.seed, "seconds": exploration.seconds,
            "schedules": exploration.schedules, "errors": exploration.errors,
            "invalid": exploration.invalid, "flaky": exploration.flaky,
            "duplicates": exploration.duplicates, "confirm": spec.confirm.model_dump(),
            "findings": [_finding(spec, f) for f in exploration.findings],
            "trials": [_trial(t) for t in exploration.trials]}


def write_exploration(directory: Path, spec: ExploreSpec, exploration: Exploration) -> list[Path]:
    """Write ``exploration.json`` and one folder per finding; returns the finding folders."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "exploration.json").write_text(json.dumps(exploration_json(spec, exploration), indent=2))
    folders = []
    for finding in exploration.findings:
        if finding.minimal_trial is None:
            continue
        folder = directory / "findings" / finding_name(spec, finding)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{finding_name(spec, finding)}.yaml").write_text(
            suite_yaml(spec, finding, seed=exploration.seed))
        (folder / "upstream.md").write_text(upstream_summary(spec, finding, seed=exploration.seed) + "\n")
        folders.append(folder)
    return folders


def merge_explorations(slices: list[dict[str, Any]]) -> dict[str, Any]:
    """One exploration from the slices xdist workers explored of one seed space.

    Counts add up; runs keep their slice; findings are deduplicated by signature (the
    checker plus the minimal schedule's shape), keeping the one found first.
    """
    if not slices:
        raise ValueError("no exploration to merge")
    merged: dict[str, Any] = {k: slices[0][k] for k in ("explore", "seed", "confirm")}
    for key in ("schedules", "errors", "invalid", "flaky", "duplicates"):
        merged[key] = sum(s[key] for s in slices)
    merged["seconds"] = max(s["seconds"] for s in slices)  # the slices ran side by side
    merged["slices"] = len(slices)
    findings: dict[str, dict[str, Any]] = {}
    for number, data in enumerate(slices, 1):
        for finding in data["findings"]:
            known = findings.get(finding["signature"])
            if known is not None:
                merged["duplicates"] += 1
            if known is None or finding["found_at"] < known["found_at"]:
                findings[finding["signature"]] = {**finding, "slice": number}
    merged["findings"] = sorted(findings.values(), key=lambda f: f["found_at"])
    merged["trials"] = [{**t, "slice": number} for number, data in enumerate(slices, 1) for t in data["trials"]]
    return merged
