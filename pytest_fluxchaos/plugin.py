"""pytest wiring: options, ini, markers, fixtures and suite collection.

Everything else lives in the domain modules. Session state and its hooks (teardown,
the summary table, the HTML report, judging Python scenarios) belong to
:class:`~pytest_fluxchaos.session.FluxChaosSession`, registered here as the plugin
``fluxchaos-session`` the way pytest's junitxml registers its LogXML object.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from . import hooks
from .progress import ResultLines
from .report import FailureReport
from .session import RUNNER_KEY, SESSION_PLUGIN, FluxChaosSession, RunRequest, ScenarioRunner
from .settings import add_options, load_settings
from .suite import Suite, SuiteError, SuiteIssue, load_suite
from .variants import PRESETS

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr, TracebackStyle

    from .runner import RunResult

DEFAULT_SUITE_GLOBS = ["suites/*.yaml", "suites/**/*.yaml", "suites/*.yml", "suites/**/*.yml"]


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)
    parser.addini("fluxchaos_suites", "glob patterns (relative to rootdir) of YAML suite files",
                  type="linelist", default=DEFAULT_SUITE_GLOBS)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fluxchaos(variants=None, flux_version=None): run a Python-written "
                   "scenario through the fluxchaos fixture with these variants/versions")
    config.addinivalue_line(
        "markers", "fluxchaos_suite: a scenario item collected from a YAML suite")
    config.addinivalue_line(
        "markers", "fluxchaos_explore: an exploration collected from a suite's explore: section")
    settings = load_settings(config)
    session = FluxChaosSession(config, settings)
    config.hook.pytest_fluxchaos_register_backends(registry=session.backends)
    session.backends.get(settings.backend)  # unknown backend: UsageError now, not per item
    config.pluginmanager.register(session, SESSION_PLUGIN)
    config.pluginmanager.register(session.progress, "fluxchaos-progress")  # clears its live line
    config.pluginmanager.register(ResultLines.from_config(config), "fluxchaos-lines")
    from .explore_run import ExploreReports
    config.pluginmanager.register(ExploreReports(config), "fluxchaos-explore-reports")


def get_session(config: pytest.Config) -> FluxChaosSession:
    """The session plugin of this run."""
    session = config.pluginmanager.get_plugin(SESSION_PLUGIN)
    assert isinstance(session, FluxChaosSession), f"{SESSION_PLUGIN} is not registered"
    return session


def _is_suite(file_path: Path, config: pytest.Config) -> bool:
    if file_path.suffix not in (".yaml", ".yml"):
        return False
    explicit = {Path(a.split("::")[0]).resolve() for a in config.invocation_params.args
                if not a.startswith("-")}
    if file_path.resolve() in explicit:
        return True
    try:
        rel = file_path.resolve().relative_to(config.rootpath.resolve()).as_posix()
    except ValueError:
        rel = file_path.as_posix()
    return any(fnmatch.fnmatch(rel, pattern) for pattern in config.getini("fluxchaos_suites"))


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if _is_suite(file_path, parent.config):
        return SuiteFile.from_parent(parent, path=file_path)
    return None


class SuiteFile(pytest.File):
    """A YAML suite; validated whole before any environment is created."""

    def collect(self) -> Iterator[pytest.Item]:
        suite = load_suite(self.path)
        if suite.explore is not None:
            from .explore_run import explore_items
            yield from explore_items(self, suite)
        fc = get_session(self.config)
        versions = fc.settings.flux_versions
        if fc.settings.variants:
            known = {**PRESETS, **suite.variants}
            unknown = [v for v in fc.settings.variants if v not in known]
            if unknown:
                raise SuiteError([SuiteIssue(self.path, None,
                                             f"--fluxchaos-variants: unknown variant {unknown[0]!r}; "
                                             f"expected one of: {', '.join(sorted(known))}")])
        for scenario in suite.scenarios:
            variant_names = suite.variants_for(scenario, fc.settings.variants)
            # A scenario may be limited to some Flux versions (e.g. a field only v1 has).
            wanted_versions = ([v for v in versions if v in scenario.flux_versions]
                               if scenario.flux_versions else versions)
            for variant in variant_names:
                for version in wanted_versions:
                    label = variant if len(wanted_versions) == 1 else f"{variant}@{version}"
                    yield ScenarioItem.from_parent(
                        self, name=f"{scenario.name}[{label}]", suite=suite,
                        scenario_name=scenario.name, variant=variant, flux_version=version)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: TracebackStyle | None = None) -> str | TerminalRepr:
        if isinstance(excinfo.value, SuiteError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)  # Collector.repr_failure takes no style


class ScenarioFailed(Exception):
    def __init__(self, report: FailureReport) -> None:
        self.report = report
        super().__init__(report.headline)


class ScenarioItem(pytest.Item):
    """One scenario under one variant (and Flux version): ``file.yaml::name[variant]``."""

    def __init__(self, *, suite: Suite, scenario_name: str, variant: str, flux_version: str,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suite = suite
        self.scenario = next(s for s in suite.scenarios if s.name == scenario_name)
        self.variant = variant
        self.flux_version = flux_version
        self.add_marker(pytest.mark.fluxchaos_suite)
        self.result: RunResult | None = None
        self.request = RunRequest(
            scenario=self.scenario, variant=variant, custom_variants=suite.variants,
            flux_version=flux_version, nodeid=self.nodeid,
            group=f"{self.path}::{scenario_name}@{flux_version}")

    def runtest(self) -> None:
        fc = get_session(self.config)
        self.result = result = fc.run(self.request, item=self)
        report = FailureReport.build(result)
        for key, value in report.properties():
            self.user_properties.append((key, value))
        if not result.passed:
            raise ScenarioFailed(report)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: TracebackStyle | None = None) -> str | TerminalRepr:
        from .session import EnvironmentUnavailable

        if isinstance(excinfo.value, ScenarioFailed):
            return excinfo.value.report.render()
        if isinstance(excinfo.value, EnvironmentUnavailable):
            return f"fluxchaos: {excinfo.value}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        line = self.suite.lines.get(self.scenario.name)
        return self.path, (line - 1) if line else None, f"{self.scenario.name}[{self.variant}]"


@pytest.fixture(scope="session")
def fluxchaos_session(pytestconfig: pytest.Config) -> FluxChaosSession:
    """The session object: settings, environments per (backend, Flux version), results."""
    return get_session(pytestconfig)


@pytest.fixture
def fluxchaos(request: pytest.FixtureRequest, fluxchaos_session: FluxChaosSession) -> Iterator[ScenarioRunner]:
    """Run Python-written scenarios: ``fluxchaos.run(scenario, variant="ha-emptydir")``.

    Returns a :class:`~pytest_fluxchaos.runner.RunResult` with the history and the
    verdicts; artifacts are written like a YAML item's. A run whose verdicts differ
    from the scenario's ``expect`` fails the test with the same story a YAML item
    tells, unless it was made with ``check=False``. The ``fluxchaos`` marker can set
    default ``variants``/``flux_version``.
    """
    marker = request.node.get_closest_marker("fluxchaos")
    runner = ScenarioRunner(fluxchaos_session, request.node, marker.kwargs if marker else {})
    request.node.stash[RUNNER_KEY] = runner
    yield runner
    runner.fail_if_unexpected()  # runs made after the test body (in other fixtures' teardown)
