"""The ``explore:`` section of a suite as pytest items: ``suite.yaml::explore[name]``.

One item per exploration, or under pytest-xdist one per worker (``explore[name-2of4]``),
each exploring a disjoint slice of one seed space with its own environment (xdist gives
every worker its own session) — xdist is the scheduler, locally with ``-n`` and on other
machines with its remote executors. Every run gets its own namespace on the shared
control plane and its own artifacts; the exploration writes ``exploration.json``, and per
finding a replayable suite, an upstream paragraph and the HTML report of its minimal run.

The item fails when the findings differ from the section's ``expect-findings`` (default:
none), so a nightly job goes red on a new bug, and a known one stays pinned.
"""

from __future__ import annotations

import itertools
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .explore import Exploration, Explorer, ExploreSpec, Outcome
from .explore.finding import finding_name
from .explore.record import write_exploration
from .runner import namespace_for, run_scenario
from .scenario import Scenario
from .session import SESSION_PLUGIN, EnvironmentUnavailable, FluxChaosSession
from .suite import Suite
from .variants import Variant

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr, TracebackStyle


class ExploreReports:
    """pytest plugin: on the controlling process, one page per exploration from all its
    slices (xdist workers), next to them: ``explore-<name>.html`` and the merged JSON."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.dirs: dict[str, list[Path]] = {}
        self.pages: list[Path] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        props = dict(report.user_properties)
        name, artifacts = props.get("fluxchaos-explore.name"), props.get("fluxchaos-explore.artifacts")
        if name and artifacts and (Path(str(artifacts)) / "exploration.json").is_file():
            self.dirs.setdefault(str(name), []).append(Path(str(artifacts)))

    def pytest_sessionfinish(self) -> None:
        if hasattr(self.config, "workerinput"):
            return
        import json

        from .explore.record import merge_explorations
        from .htmlreport.exploration import render_exploration

        for name, dirs in self.dirs.items():
            if len(dirs) < 2:
                continue
            merged = merge_explorations([json.loads((d / "exploration.json").read_text()) for d in sorted(dirs)])
            root = Path(os.path.commonpath([str(d.parent) for d in dirs]))
            (root / f"exploration-{name}.json").write_text(json.dumps(merged, indent=2))
            page = root / f"explore-{name}.html"
            page.write_text(render_exploration(merged, root))
            self.pages.append(page)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        for page in self.pages:
            terminalreporter.write_line(f"fluxchaos explore: every slice on one page: {page}")


class ExplorationFailed(Exception):
    """The findings differ from ``expect-findings``; the message is the story."""


def slices(config: pytest.Config) -> int:
    """How many slices to cut the seed space into: one per xdist worker."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        return int(workerinput.get("workercount", 1))
    numprocesses = getattr(config.option, "numprocesses", None)
    return int(numprocesses) if isinstance(numprocesses, int) and numprocesses > 1 else 1


def explore_items(parent: pytest.Collector, suite: Suite) -> list[ExploreItem]:
    spec = suite.explore
    assert spec is not None
    total = slices(parent.config)
    return [ExploreItem.from_parent(parent, name=f"explore[{spec.name}" + (f"-{i + 1}of{total}" if total > 1 else "")
                                    + "]", suite=suite, spec=spec, slice_index=i, slice_count=total)
            for i in range(total)]


class ExploreItem(pytest.Item):
    def __init__(self, *, suite: Suite, spec: ExploreSpec, slice_index: int, slice_count: int,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suite = suite
        self.spec = spec
        self.slice_index, self.slice_count = slice_index, slice_count
        self.add_marker(pytest.mark.fluxchaos_explore)
        self.exploration: Exploration | None = None

    def _session(self) -> FluxChaosSession:
        session = self.config.pluginmanager.get_plugin(SESSION_PLUGIN)
        assert isinstance(session, FluxChaosSession), f"{SESSION_PLUGIN} is not registered"
        return session

    def runtest(self) -> None:
        fc = self._session()
        settings = fc.settings
        seed = (settings.seed if settings.seed is not None
                else self.spec.seed if self.spec.seed is not None else secrets.randbits(31))
        flux_version = settings.flux_versions[0]
        fc.progress(f"explore {self.spec.name}: seed {seed} (replay: --fluxchaos-seed={seed})"
                    + (f", slice {self.slice_index + 1} of {self.slice_count}" if self.slice_count > 1 else ""))
        env = fc.environment(flux_version)
        base = fc.artifacts_dir(self.nodeid)
        counter = itertools.count(1)

        def execute(scenario: Scenario, variant: Variant, label: str) -> Outcome:
            n = next(counter)
            result = run_scenario(fc.effective(scenario), variant, env, seed=scenario.seed,
                                  progress=fc.progress, keep=settings.keep,
                                  namespace=namespace_for(scenario.name, variant.name, f"{self.nodeid}#{n}|{seed}"))
            directory = result.write_artifacts(base / "runs" / f"{n:04d}-{label}")
            return Outcome(verdicts={k: v.valid.value for k, v in result.verdicts.items()},
                           error=result.error, seconds=result.timings.get("run", 0.0),
                           artifacts=str(directory), summaries={k: v.summary for k, v in result.verdicts.items()},
                           controllers=result.controllers)

        schedules = settings.explore_schedules
        explorer = Explorer(self.spec, execute, seed=seed, custom=self.suite.variants,
                            worker=self.slice_index, workers=self.slice_count,
                            max_schedules=(None if schedules == 0 else schedules),
                            time_budget=settings.explore_budget, parallel=settings.explore_parallel,
                            until_found=True if settings.explore_until_found else None,
                            shrink_runs=settings.explore_shrink_runs, progress=fc.progress)
        if schedules == 0 and explorer.time_budget is None:
            raise pytest.UsageError("--fluxchaos-explore-schedules=0 needs a time budget "
                                    "(--fluxchaos-explore-budget or explore.budget.time)")
        self.exploration = exploration = explorer.run()
        folders = write_exploration(base, self.spec, exploration)
        from .htmlreport import render_session_report
        from .htmlreport.exploration import write_exploration_page

        for folder, finding in zip(folders, exploration.findings):
            if finding.minimal_trial is not None and finding.minimal_trial.outcome.artifacts:
                render_session_report([Path(finding.minimal_trial.outcome.artifacts)], out=folder / "report.html")
        page = write_exploration_page(base)
        found = sorted({f.checkers[0] for f in exploration.findings})  # each finding's own checker
        for key, value in (("name", self.spec.name), ("slice", f"{self.slice_index + 1}/{self.slice_count}"),
                           ("seed", seed), ("schedules", exploration.schedules),
                           ("findings", len(exploration.findings)), ("found", ",".join(found) or "none"),
                           ("errors", exploration.errors), ("flaky", exploration.flaky),
                           ("seconds", exploration.seconds), ("artifacts", str(base)), ("page", str(page))):
            self.user_properties.append((f"fluxchaos-explore.{key}", value))
        fc.progress(self.story(seed, base))
        if found != sorted(set(self.spec.expect_findings)):
            raise ExplorationFailed(self.story(seed, base, expected=sorted(set(self.spec.expect_findings))))

    def story(self, seed: int, base: Path, expected: list[str] | None = None) -> str:
        e = self.exploration
        assert e is not None
        lines = [f"explore {self.spec.name} (seed {seed}): {e.schedules} schedules in {e.seconds:.0f}s, "
                 f"{len(e.findings)} finding(s), {e.flaky} flaky, {e.errors} errored, {e.invalid} invalid"]
        if expected is not None:
            found = sorted({f.checkers[0] for f in e.findings})
            lines.append(f"expected findings: {', '.join(expected) or 'none'}; found: {', '.join(found) or 'none'}")
        for f in e.findings:
            lines.append(f"- {', '.join(f.checkers)}: {len(f.original.moves)} -> {len(f.shrink.minimal.moves)} moves "
                         f"({'1-minimal' if f.shrink.one_minimal else 'shrink budget reached'}, {f.runs} runs"
                         + "".join(f"; verified {v.failures} of {v.runs}" for v in f.shrink.verifications[-1:])
                         + "), "
                         f"replay: {base / 'findings' / finding_name(self.spec, f)}")
        lines.append(f"artifacts: {base}")
        return "\n".join(lines)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: TracebackStyle | None = None) -> str | TerminalRepr:
        if isinstance(excinfo.value, (ExplorationFailed, EnvironmentUnavailable)):
            return f"fluxchaos: {excinfo.value}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.name
