"""What a finding leaves behind: a replayable suite, a paragraph for an upstream issue.

The suite holds the minimal scenario with its variant, its seed and ``expect`` set to
the verdicts it gave, so ``pytest -p fluxchaos <file>`` replays it and passes while the
bug is there (and turns red when it is fixed). A comment says where it came from: the
exploration's seed, the original schedule's length, the shrunk length and the runs spent.
"""

from __future__ import annotations

import io
from typing import Any

from ruamel.yaml import YAML

from .explorer import Finding
from .schedule import describe
from .shrink import ShrinkResult
from .spec import ExploreSpec


def finding_name(spec: ExploreSpec, finding: Finding) -> str:
    """``<explore>-<checker>-<minimal schedule signature>``: unique per deduplicated finding."""
    head = f"{spec.name}-{finding.checkers[0]}"[:52].rstrip("-.")
    return f"{head}-{finding.signature.split(':')[1]}"


def suite_yaml(spec: ExploreSpec, finding: Finding, *, seed: int) -> str:
    """The finding as a suite file (text)."""
    trial = finding.minimal_trial
    assert trial is not None
    variant = trial.variant
    name = finding_name(spec, finding)
    scenario = trial.scenario.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    scenario["name"] = name
    scenario["description"] = (f"found by exploring {spec.name} (seed {seed}): "
                               f"{', '.join(finding.checkers)} false or unknown")
    observed = {k: _verdict(v) for k, v in trial.outcome.verdicts.items()}
    scenario["expect"] = {variant.name: observed}
    scenario["variants"] = [variant.name]
    doc: dict[str, Any] = {"suite": f"finding-{name}"}
    if finding.shrink.minimal.variant.from_axes:
        doc["variants"] = {variant.name: variant.model_dump(
            mode="json", by_alias=True, exclude_none=True, exclude={"name", "patches"})}
    doc["scenarios"] = [scenario]
    shrink = finding.shrink
    header = [
        f"Finding of `fluxchaos explore` {spec.name}, exploration seed {seed}.",
        f"Checkers: {', '.join(finding.checkers)}. Replay: pytest -p fluxchaos <this file>",
        f"Original schedule: {len(finding.original.moves)} moves; shrunk: {len(shrink.minimal.moves)} moves"
        f" ({'1-minimal' if shrink.one_minimal else 'budget reached, not proven 1-minimal'});"
        f" runs spent confirming and shrinking: {finding.runs}.",
        *_verification_lines(spec, shrink),
        "Original moves:",
        *(f"  {i + 1}. {describe(m)}" for i, m in enumerate(finding.original.moves)),
        "Minimal moves:",
        *(f"  {i + 1}. {describe(m)}" for i, m in enumerate(shrink.minimal.moves)),
    ]
    out = io.StringIO()
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    yaml.dump(doc, out)
    return "".join(f"# {line}\n" for line in header) + out.getvalue()


def _verification_lines(spec: ExploreSpec, shrink: ShrinkResult) -> list[str]:
    """``Verified: failed 4 of 5 further runs`` (and any fallback before it)."""
    lines = [f"Verification: {len(v.schedule.moves)} moves failed {v.failures} of {v.runs} further runs"
             + ("" if v.failing or spec.shrink.verify is None
                else f" (needed {spec.shrink.verify.k} of {spec.shrink.verify.r}: fell back)")
             for v in shrink.verifications]
    if shrink.verifications and not shrink.verifications[-1].failing:
        lines.append("No shrunk schedule held up: this is the original, confirmed schedule.")
    return lines


def _verdict(value: str) -> bool | str:
    return {"true": True, "false": False}.get(value, value)


def upstream_summary(spec: ExploreSpec, finding: Finding, *, seed: int) -> str:
    """One paragraph fit for an upstream issue: versions, variant, steps, observed vs expected."""
    trial = finding.minimal_trial
    assert trial is not None
    versions = _versions(trial.outcome.controllers)
    v = trial.variant
    variant = (f"{v.name} ({v.replicas or 1} replica{'s' if (v.replicas or 1) > 1 else ''}, "
               f"{v.storage or 'emptyDir'} /data, memory {v.memory or 'default'})")
    steps = "; ".join(f"({i + 1}) {describe(m)}" for i, m in enumerate(finding.shrink.minimal.moves))
    observed = "; ".join(f"{name}: {trial.outcome.summaries.get(name, trial.outcome.verdicts.get(name))}"
                         for name in finding.checkers)
    expected = " ".join(EXPECTED.get(name, f"{name} holds.") for name in finding.checkers)
    return (f"With {versions}, deployment {variant}, and the ImagePolicies of this scenario, "
            f"the following schedule makes {' and '.join(finding.checkers)} fail: {steps}. "
            f"{WEBHOOK if spec.webhook else ''}"
            f"Observed: {observed}. Expected: {expected} Found by exploring {spec.name} with "
            f"seed {seed}, shrunk from {len(finding.original.moves)} to "
            f"{len(finding.shrink.minimal.moves)} steps; every candidate counted as failing only "
            f"when it failed in {spec.confirm.k} of {spec.confirm.r} runs.")


def _versions(recorded: dict[str, Any]) -> str:
    """``image-reflector-controller v1.2.4 (offline-build)``, from a run's ``controllers`` record."""
    controllers = recorded.get("controllers", {})
    parts = [f"{name} {info.get('version', '?')} ({info.get('source', 'source unknown')})"
             for name, info in controllers.items() if isinstance(info, dict)]
    if not parts:
        return "controller versions not recorded"
    text = ", ".join(parts)
    if recorded.get("flux_version"):
        text += f" (Flux {recorded['flux_version']}" + (", a pair no Flux release ships" if recorded.get("mixed_pair")
                                                        else "") + ")"
    return text


WEBHOOK = ("Every push and deletion is followed at once by a reconcile request of its ImageRepository, "
           "as a registry webhook does, and the next step waits until the scan and the policies have "
           "handled it. ")

EXPECTED = {
    "no-regression": "No policy moves back to an older tag while the newer one is still in the registry.",
    "converges": "After the faults heal, every policy reaches the newest matching tag and Ready=True.",
    "never-stuck": "No policy stays not-Ready long while its repository holds matching tags.",
    "faults-landed": "Every injected fault is confirmed.",
    "git-no-regression": "No commit moves an image back to an older tag still in the registry.",
    "git-converges": "The Git branch ends at the newest matching tag.",
    "ready-honest": "No policy reports Ready=True while its repository has been failing longer than the bound.",
}
