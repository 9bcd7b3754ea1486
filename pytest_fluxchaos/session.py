"""Session state: backends, environments per (backend, Flux version), results.

Environments are expensive (a control plane, a registry), so one is provisioned lazily
per (backend, Flux version) and shared by all items of the session; each item gets its
own namespace. A provisioning failure is remembered and reported once per item as a
one-line error instead of being retried for every item.

The session object is itself a pytest plugin, registered as ``fluxchaos-session`` in
``pytest_configure`` (as junitxml's LogXML and xdist's DSession are): its hooks are
methods (parallel groups at collection, Python-scenario checks after each test, item
outcomes, teardown at session finish, the summary table, the HTML report).
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading
from concurrent.futures import Future
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .environment import Environment, Progress
from .progress import Progress as TerminalProgress
from .runner import RunResult, namespace_for, run_scenario
from .scenario import Scenario
from .settings import Settings
from .variants import Variant, VariantError, resolve

log = logging.getLogger("fluxchaos")

Factory = Callable[[Settings, str, Progress], Environment]


class EnvironmentUnavailable(Exception):
    """The environment could not be provisioned; the message says what to do."""


class BackendRegistry:
    """Name -> environment factory; filled through ``pytest_fluxchaos_register_backends``."""

    def __init__(self) -> None:
        self._factories: dict[str, Factory] = {}

    def register(self, name: str, factory: Factory) -> None:
        self._factories[name] = factory

    def get(self, name: str) -> Factory:
        if name not in self._factories:
            raise pytest.UsageError(
                f"--fluxchaos-backend: unknown backend {name!r}; "
                f"available: {', '.join(sorted(self._factories))}")
        return self._factories[name]

    def names(self) -> list[str]:
        return sorted(self._factories)


SESSION_PLUGIN = "fluxchaos-session"


@dataclass(frozen=True)
class RunRequest:
    scenario: Scenario
    variant: str
    flux_version: str
    nodeid: str
    custom_variants: dict[str, Variant] = field(default_factory=dict)
    group: str | None = None  # items of one scenario and Flux version (parallel variants)
    item: str | None = None  # the pytest item that asked for the run (None: ``nodeid``)
    checked: bool = True  # the item's outcome follows the verdicts vs ``expect``


def _builtin_backends(registry: BackendRegistry, config: pytest.Config) -> None:
    def docker(settings: Settings, flux_version: str, progress: Progress) -> Environment:
        from .backends.docker_environment import create_docker_environment
        return create_docker_environment(settings, flux_version, progress)

    def kind(settings: Settings, flux_version: str, progress: Progress) -> Environment:
        from .backends.kind_environment import create_kind_environment
        return create_kind_environment(settings, flux_version, progress, config=config)

    registry.register("docker", docker)
    registry.register("kind", kind)


class FluxChaosSession:
    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.backends = BackendRegistry()
        _builtin_backends(self.backends, config)
        self.environments: dict[tuple[str, str], Environment] = {}
        self.failures: dict[tuple[str, str], str] = {}
        self.results: list[tuple[str, RunResult]] = []
        self.progress = TerminalProgress.from_config(config)  # callable; .phase(), .tick()
        self.report_path: Path | None = None
        self.report_message: str | None = None
        self.groups: dict[str, list[RunRequest]] = {}
        self._futures: dict[str, Future[RunResult]] = {}
        self._lock = threading.Lock()
        self._env_lock = threading.Lock()
        self._artifacts_base: Path | None = None
        self.requests: dict[str, RunRequest] = {}  # result nodeid -> what asked for it
        self.outcomes: dict[str, str] = {}  # item nodeid -> passed / failed / error / skipped
        self._runs_of: dict[str, int] = {}  # nodeid -> runs so far (namespace salt)

    # -- pytest hooks (this object is the "fluxchaos-session" plugin) ------------------
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:  # only selected items form parallel groups
            request = getattr(item, "request", None)
            if isinstance(request, RunRequest):
                self.add_to_group(request)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Any:
        """A Python scenario whose verdicts differ from its ``expect`` fails its test."""
        runner = item.stash.get(RUNNER_KEY, None)
        try:
            outcome = yield
        except BaseException:
            if runner is not None:
                runner.unexpected()  # the test failed already: its own failure is the story
            raise
        if runner is not None:
            runner.fail_if_unexpected()
        return outcome

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:  # a failing call stays a failure even if teardown errors too
            if self.outcomes.get(report.nodeid) in (None, "passed", "skipped"):
                self.outcomes[report.nodeid] = "failed" if report.when == "call" else "error"
        elif report.skipped:
            self.outcomes.setdefault(report.nodeid, "skipped")
        elif report.when == "call":
            self.outcomes.setdefault(report.nodeid, "passed")

    def pytest_sessionfinish(self) -> None:
        # Runs on pass, failure and Ctrl-C alike: every environment made is torn down.
        self.close()
        self.write_report()

    def pytest_unconfigure(self) -> None:
        self.close()

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        from .report import terminal_summary

        if self.results:
            unchecked = {nodeid for nodeid, request in self.requests.items() if not request.checked}
            terminal_summary(terminalreporter, self.results, outcomes=self.item_outcomes(),
                             unchecked=unchecked)
        if self.report_message:
            terminalreporter.write_line(self.report_message)

    def item_outcomes(self) -> dict[str, str]:
        """Result nodeid -> the outcome pytest gave the item that ran it (if known)."""
        out: dict[str, str] = {}
        for nodeid, _result in self.results:
            request = self.requests.get(nodeid)
            item = (request.item if request else None) or nodeid
            if item in self.outcomes:
                out[nodeid] = self.outcomes[item]
        return out

    def write_report(self) -> None:
        """One HTML report per run, next to the artifacts (the xdist controller writes it)."""
        if hasattr(self.config, "workerinput"):
            return
        lines = self.config.pluginmanager.get_plugin("fluxchaos-lines")
        dirs = [r.artifacts for _nodeid, r in self.results if r.artifacts]
        dirs += lines.artifacts if lines is not None else []
        if dirs:
            from .htmlreport import render_session_report
            self.report_path, self.report_message = render_session_report(dirs)

    # -- environments --------------------------------------------------------------
    def environment(self, flux_version: str, backend: str | None = None) -> Environment:
        with self._env_lock:  # parallel variants share one environment
            return self._environment(flux_version, backend)

    def _environment(self, flux_version: str, backend: str | None = None) -> Environment:
        key = (backend or self.settings.backend, flux_version)
        if key in self.failures:
            raise EnvironmentUnavailable(self.failures[key])
        if key not in self.environments:
            factory = self.backends.get(key[0])
            try:
                with self.progress.phase(f"{key[0]} environment (Flux {flux_version})"):
                    self.environments[key] = factory(self.settings, flux_version, self.progress)
            except KeyboardInterrupt:
                raise
            except Exception as exc:
                message = f"{key[0]} backend (Flux {flux_version}) unavailable: {exc}"
                self.failures[key] = message
                raise EnvironmentUnavailable(message) from None
        return self.environments[key]

    def close(self) -> None:
        if self.settings.keep:
            return
        while self.environments:
            _key, env = self.environments.popitem()
            try:
                env.close()
            except Exception as exc:  # keep closing the others
                log.error("teardown failed: %s", exc)

    # -- runs ----------------------------------------------------------------------
    def artifacts_base(self) -> Path:
        """Resolved once (pytest's basetemp is not safe to create from two threads)."""
        with self._env_lock:
            if self._artifacts_base is None:
                base = self.settings.artifacts
                if base is None:
                    base = self.config._tmp_path_factory.getbasetemp() / "fluxchaos"  # type: ignore[attr-defined]
                self._artifacts_base = Path(base)
            return self._artifacts_base

    def artifacts_dir(self, nodeid: str) -> Path:
        return Path(self.artifacts_base()) / artifacts_dir_name(nodeid)

    def effective(self, scenario: Scenario) -> Scenario:
        """Apply the command-line bounds (timeout cap, converge override)."""
        bounds = scenario.bounds
        update: dict[str, Any] = {}
        if self.settings.timeout is not None:
            update["timeout"] = min(bounds.timeout, self.settings.timeout)
        if self.settings.converge is not None:
            update["converge"] = self.settings.converge
        if not update:
            return scenario
        return scenario.model_copy(update={"bounds": bounds.model_copy(update=update)})

    def add_to_group(self, request: RunRequest) -> None:
        if request.group is not None:
            self.groups.setdefault(request.group, []).append(request)

    def run(self, request: RunRequest, item: Any = None) -> RunResult:
        """Run one item; with ``--fluxchaos-parallel`` its sibling variants start with it."""
        self.requests[request.nodeid] = request
        group = self.groups.get(request.group or "", [])
        if not self.settings.parallel or len(group) < 2:
            return self.run_one(request)
        self.artifacts_base()
        with self._lock:
            if request.nodeid not in self._futures:
                for sibling in group:
                    if sibling.nodeid not in self._futures:
                        self._futures[sibling.nodeid] = self._start(sibling)
            future = self._futures[request.nodeid]
        return future.result()

    def _start(self, request: RunRequest) -> Future[RunResult]:
        """Run in a daemon thread: Ctrl-C must not wait for sibling scenarios to finish."""
        self.requests.setdefault(request.nodeid, request)
        future: Future[RunResult] = Future()

        def target() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(self.run_one(request))
            except BaseException as exc:  # delivered to the item that waits for it
                future.set_exception(exc)

        threading.Thread(target=target, name=f"fluxchaos-{request.variant}", daemon=True).start()
        return future

    def run_one(self, request: RunRequest) -> RunResult:
        try:
            variant = resolve(request.variant, request.custom_variants)
        except VariantError as exc:
            raise pytest.UsageError(f"--fluxchaos-variants: {exc}") from None
        if variant.flux_version and variant.flux_version != request.flux_version:
            flux_version = variant.flux_version
        else:
            flux_version = request.flux_version
        try:
            env = self.environment(flux_version)
        except EnvironmentUnavailable as exc:
            self._write_unavailable(request, variant, flux_version, str(exc))
            raise
        with self.progress.phase(request.nodeid.split("::")[-1]):
            result = run_scenario(self.effective(request.scenario), variant, env,
                                  seed=self.settings.seed, progress=self.progress,
                                  keep=self.settings.keep, namespace=self._namespace(request, variant))
        result.write_artifacts(self.artifacts_dir(request.nodeid))
        with self._lock:
            self.results.append((request.nodeid, result))
        return result


    def _namespace(self, request: RunRequest, variant: Variant) -> str:
        """Unique per run in this session: its namespace also names its registry repositories.

        (scenario, variant, seed) alone collides under ``--fluxchaos-seed`` when two
        suites share a scenario name or a test runs the same scenario twice: the second
        run would see the first one's tags.
        """
        with self._lock:
            self._runs_of[request.nodeid] = count = self._runs_of.get(request.nodeid, 0) + 1
        seed = self.settings.seed if self.settings.seed is not None else secrets.randbits(31)
        return namespace_for(request.scenario.name, variant.name, f"{request.nodeid}#{count}|{seed}")

    def _write_unavailable(self, request: RunRequest, variant: Variant, flux_version: str,
                           error: str) -> None:
        """Artifacts for an item whose environment never came up: every verdict unknown."""
        from .checkers import Validity, Verdict
        from .history import History, Note

        history = History()
        history.record(Note, message="environment unavailable", data={"error": error})
        result = RunResult(scenario=request.scenario.name, variant=variant.name, namespace="",
                           backend=self.settings.backend, irc_version="", flux_version=flux_version,
                           seed=self.settings.seed or 0, history=history, error=error,
                           expected=request.scenario.expected(variant.name, None, flux_version))
        result.verdicts = {name: Verdict(checker=name, valid=Validity.UNKNOWN,
                                         summary="not run: environment unavailable", story=[error],
                                         data={})
                           for name in result.expected}
        result.write_artifacts(self.artifacts_dir(request.nodeid))
        self.results.append((request.nodeid, result))


class ScenarioRunner:
    """What the ``fluxchaos`` fixture returns: runs Python-built scenarios.

    A run is judged like a YAML item: verdicts that differ from the scenario's
    ``expect`` fail the test (after its body, with the same story), unless the run
    was made with ``check=False`` (the test judges the verdicts itself).
    """

    def __init__(self, session: FluxChaosSession, node: Any, defaults: dict[str, Any]) -> None:
        self.session = session
        self.node = node
        self.defaults = defaults
        self.runs: list[tuple[RunResult, bool]] = []  # (result, checked)
        self._judged = 0  # runs already accounted for in the item's outcome

    def scenario(self, data: dict[str, Any]) -> Scenario:
        """Build and cross-check a Scenario from a dict shaped like a YAML scenario."""
        from .suite import check_references
        from .variants import PRESETS

        scenario = Scenario.model_validate(data)
        problems = check_references(scenario, PRESETS)
        if problems:
            raise ValueError("; ".join(msg for _loc, msg in problems))
        return scenario

    def run(self, scenario: Scenario | dict[str, Any], variant: str | None = None,
            flux_version: str | None = None, *, check: bool = True) -> RunResult:
        """Run ``scenario`` under ``variant``; ``check=False``: its ``expect`` is not enforced."""
        if isinstance(scenario, dict):
            scenario = self.scenario(scenario)
        variant = variant or (self.defaults.get("variants") or ["single"])[0]
        flux_version = (flux_version or self.defaults.get("flux_version")
                        or self.session.settings.flux_versions[0])
        nodeid = f"{self.node.nodeid}[{scenario.name}-{variant}]"
        result = self.session.run(RunRequest(scenario=scenario, variant=variant,
                                             flux_version=flux_version, nodeid=nodeid,
                                             item=self.node.nodeid, checked=check))
        self.runs.append((result, check))
        return result

    def unexpected(self) -> list[RunResult]:
        """Checked runs not yet judged whose verdicts differ from ``expect``; marks all judged."""
        fresh, self._judged = self.runs[self._judged:], len(self.runs)
        return [result for result, checked in fresh if checked and not result.passed]

    def fail_if_unexpected(self) -> None:
        from .report import FailureReport

        failed = [FailureReport.build(result) for result in self.unexpected()]
        if failed:
            headline = "; ".join(f"{f.result.scenario}[{f.result.variant}]: {f.headline}" for f in failed)
            hint = "(fluxchaos.run(..., check=False) leaves the verdicts to the test)"
            pytest.fail("\n\n".join([headline, *(f.render() for f in failed), hint]), pytrace=False)


RUNNER_KEY = pytest.StashKey[ScenarioRunner]()


ARTIFACTS_NAME_MAX = 120
"""A directory name's bound: Linux allows 255 bytes, and an explorer finding's replay
(a suite under ``findings/`` of a long artifacts path) has a node id of about 300."""


def artifacts_dir_name(nodeid: str) -> str:
    """The item's artifacts directory name: its node id with path-unsafe runs as ``_``.
    A longer one keeps its start and its end (the scenario and variant) around a hash of
    the whole id, so it stays unique and readable."""
    safe = re.sub(r"[^A-Za-z0-9_.@-]+", "_", nodeid).strip("_")
    if len(safe) <= ARTIFACTS_NAME_MAX:
        return safe
    digest = hashlib.sha256(nodeid.encode()).hexdigest()[:10]
    tail = ARTIFACTS_NAME_MAX - 20 - len(digest) - 2
    return f"{safe[:20]}-{digest}-{safe[-tail:]}"
