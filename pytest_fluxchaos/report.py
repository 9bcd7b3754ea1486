"""What people read: the one-screen failure story, JUnit properties, the summary table."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from .assets.provenance import controllers_line, from_dict as controller_set
from .checkers import CHECKER_NAMES, Validity
from .history import Fault, PolicyLatest
from .runner import RunResult

MAX_STORY_LINES = 40


def _verdict_word(value: Any) -> str:
    if isinstance(value, Validity):
        return value.value
    return value if isinstance(value, str) else ("true" if value else "false")


def fault_counts(result: RunResult) -> tuple[int, int]:
    """(injected, confirmed) fault counts from the history."""
    faults = result.history.of(Fault)
    injected = {f.fault_id for f in faults if f.phase == "inject"}
    confirmed = {f.fault_id for f in faults if f.phase == "confirm" and f.outcome == "ok"}
    return len(injected), len(confirmed & injected)


def regression_count(result: RunResult, checker: str = "no-regression") -> int:
    """How many regressions ``checker`` (``no-regression`` or ``git-no-regression``) found."""
    verdict = result.verdicts.get(checker)
    if verdict is None:
        return 0
    return len(verdict.data.get("regressions", []))


@dataclass
class FailureReport:
    result: RunResult
    headline: str

    @classmethod
    def build(cls, result: RunResult) -> FailureReport:
        if result.error:
            headline = f"run did not complete: {result.error}"
        else:
            parts = [f"{name}: expected {_verdict_word(want)}, got {_verdict_word(got)}"
                     for name, want, got in result.mismatches()]
            headline = "; ".join(parts) or "all verdicts as expected"
        return cls(result, headline)

    def properties(self) -> list[tuple[str, str]]:
        """JUnit ``<property>`` pairs: verdicts, expectations, versions, artifacts."""
        r = self.result
        props = [("fluxchaos.variant", r.variant), ("fluxchaos.backend", r.backend),
                 ("fluxchaos.irc_version", r.irc_version),
                 ("fluxchaos.flux_version", r.flux_version or ""),
                 ("fluxchaos.seed", str(r.seed)), ("fluxchaos.overall", r.overall.value)]
        for name, verdict in r.verdicts.items():
            props.append((f"fluxchaos.{name}", verdict.valid.value))
            props.append((f"fluxchaos.{name}.expected",
                          _verdict_word(r.expected.get(name, True))))
        cs = controller_set(r.controllers)
        iac = cs.get("image-automation-controller") if cs else None
        if cs is not None and iac is not None:
            props += [("fluxchaos.iac_version", iac.version), ("fluxchaos.mixed_pair", str(cs.mixed).lower())]
        injected, confirmed = fault_counts(r)
        props += [("fluxchaos.faults_injected", str(injected)),
                  ("fluxchaos.faults_confirmed", str(confirmed)),
                  ("fluxchaos.regressions", str(regression_count(r)))]
        if "git-no-regression" in r.verdicts:  # only scenarios with an automation
            props.append(("fluxchaos.git_regressions",
                          str(regression_count(r, "git-no-regression"))))
        if r.artifacts:
            props.append(("fluxchaos.artifacts", str(r.artifacts)))
        if r.error:
            props.append(("fluxchaos.error", r.error))
        return props

    def render(self) -> str:
        r = self.result
        lines = [f"{r.scenario}[{r.variant}] on {r.backend}, IRC {r.irc_version}"
                 f"{f' (Flux {r.flux_version})' if r.flux_version else ''}, seed {r.seed}",
                 self.headline, ""]
        line = controllers_line(r.controllers)
        if line:
            lines.insert(1, line)
        for name, verdict in r.verdicts.items():
            want = _verdict_word(r.expected.get(name, True))
            mark = "  " if want in (verdict.valid.value, "any") else "✗ "
            lines.append(f"{mark}{name}: {verdict.valid.value} (expected {want}) — {verdict.summary}")
        story_lines: list[str] = []
        for name, _want, _got in r.mismatches():
            story_lines += [f"--- {name} ---", *r.verdicts[name].story]
        if story_lines:
            lines.append("")
            lines += story_lines[:MAX_STORY_LINES]
            if len(story_lines) > MAX_STORY_LINES:
                lines.append(f"... {len(story_lines) - MAX_STORY_LINES} more lines in verdict.json")
        if r.error_detail:
            lines += ["", r.error_detail.strip().splitlines()[-1]]
        if r.artifacts:
            lines += ["", f"history: {r.artifacts / 'history.jsonl'}",
                      f"verdict: {r.artifacts / 'verdict.json'}"]
        return "\n".join(lines)


def last_tags(result: RunResult) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for event in result.history.of(PolicyLatest):
        out[event.policy] = event.tag
    return out


OUTCOME_WORDS = {"passed": "pass", "failed": "FAIL", "error": "error", "skipped": "skip"}


def terminal_summary(tr: Any, results: list[tuple[str, RunResult]],
                     outcomes: dict[str, str] | None = None, unchecked: Collection[str] = ()) -> None:
    """The table at the end of the run: one line per item, verdict per checker.

    ``outcomes`` (result nodeid -> pytest outcome of the item that ran it) makes the
    result column say what pytest said; without it the verdicts decide. Runs in
    ``unchecked`` (``fluxchaos.run(..., check=False)``) show their verdicts without
    comparing them to ``expect``, which their test did not enforce.
    """
    tr.write_sep("=", "fluxchaos summary")
    present = {name for _nodeid, result in results for name in result.verdicts}
    checker_names = [n for n in CHECKER_NAMES if n in present]  # the one order, as in the page
    for _nodeid, result in results:
        checker_names += [n for n in result.verdicts if n not in checker_names]
    short = {"no-regression": "regress", "converges": "converge", "never-stuck": "stuck",
             "ready-honest": "honest", "no-oom": "oom", "faults-landed": "faults", "git-no-regression": "git-regress",
             "git-converges": "git-converge"}
    header = (["item", "variant"] + [short.get(n, n) for n in checker_names]
              + ["inj/conf", "regr", "secs", "result"])
    rows = []
    for nodeid, r in results:
        injected, confirmed = fault_counts(r)
        cells = []
        for name in checker_names:
            v = r.verdicts.get(name)
            want = "any" if nodeid in unchecked else _verdict_word(r.expected.get(name, True))
            got = v.valid.value if v else "-"
            cells.append(got if want in (got, "any") or v is None else f"{got}!={want}")
        outcome = "pass" if r.passed else ("error" if r.error else "FAIL")
        if outcomes and nodeid in outcomes:
            outcome = OUTCOME_WORDS.get(outcomes[nodeid], outcomes[nodeid])
            if outcome == "FAIL" and r.error:
                outcome = "error"
        rows.append([nodeid.split("::")[-1], r.variant, *cells, f"{injected}/{confirmed}",
                     str(regression_count(r)), f"{r.timings.get('run', 0):.0f}", outcome])
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    for row in [header, *rows]:
        tr.write_line("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))
    shown: set[str] = set()
    for _nodeid, r in results:  # once per distinct set: which controllers ran, from where
        line = controllers_line(r.controllers)
        if line and line not in shown:
            shown.add(line)
            tr.write_line(line)
    for _nodeid, r in results:
        if r.artifacts:
            tr.write_line(f"artifacts: {r.artifacts.parent}")
            break
