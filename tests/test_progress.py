"""Terminal progress: TTY status line, plain lines when not a TTY, silence under -q and
on xdist workers; the one-line result summary per item."""

from __future__ import annotations

import io
import logging
import textwrap

import pytest

from pytest_fluxchaos.progress import Progress, ResultLines, summary_line


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make(verbosity: int = 0, is_tty: bool = False, is_worker: bool = False,
         writer: object | None = "stream", **kwargs: object) -> tuple[Progress, io.StringIO, Clock]:
    stream = io.StringIO()
    clock = Clock()
    kwargs.setdefault("refresh", None)  # no ticker thread: output is deterministic
    progress = Progress(stream if writer == "stream" else writer, verbosity, is_tty, is_worker,
                        clock=clock, width=120, **kwargs)  # type: ignore[arg-type]
    return progress, stream, clock


# -- not a TTY: plain lines ----------------------------------------------------------

def test_not_a_tty_prints_plain_lines_with_elapsed_times() -> None:
    progress, out, clock = make(is_tty=False)
    progress("docker: creating network")
    with progress.phase("cluster create") as phase:
        clock.advance(12.5)
        phase.tick("etcd")
        progress("kube-apiserver up")
    clock.advance(1)
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert lines == [
        "fluxchaos [  0.0s] docker: creating network",
        "fluxchaos [  0.0s] cluster create ...",
        "fluxchaos [ 12.5s] kube-apiserver up",
        "fluxchaos [ 12.5s] cluster create done in 12.5s",
    ]
    assert progress.timings == {"cluster create": 12.5}


def test_not_a_tty_waits_print_a_heartbeat_not_every_tick() -> None:
    progress, out, clock = make(is_tty=False, heartbeat=30)
    with progress.phase("waiting for trigger") as phase:
        for _ in range(130):  # 65 s of ticks every 0.5 s
            clock.advance(0.5)
            phase.tick("policy app resolves to 1.2.0")
    lines = out.getvalue().splitlines()
    still = [line for line in lines if "still running" in line]
    assert len(still) == 2
    assert still[0].endswith("waiting for trigger still running after 30.0s: policy app resolves to 1.2.0")
    assert lines[-1].endswith("waiting for trigger done in 1m05s")
    assert "\r" not in out.getvalue()


def test_progress_tick_without_phase_is_silent_when_not_a_tty() -> None:
    progress, out, _clock = make(is_tty=False)
    progress.tick("waiting")
    assert out.getvalue() == ""


def test_failed_and_interrupted_phases_say_so() -> None:
    progress, out, clock = make(is_tty=False)
    with pytest.raises(RuntimeError):
        with progress.phase("Flux ready"):
            clock.advance(3)
            raise RuntimeError("boom")
    with pytest.raises(KeyboardInterrupt):
        with progress.phase("asset build"):
            clock.advance(90)
            raise KeyboardInterrupt
    text = out.getvalue()
    assert "Flux ready failed after 3.0s (RuntimeError)" in text
    assert "asset build interrupted after 1m30s" in text


# -- TTY: one live status line ----------------------------------------------------------

def test_tty_rewrites_one_status_line_and_keeps_finished_lines() -> None:
    progress, out, clock = make(is_tty=True, min_redraw=0.2)
    with progress.phase("cluster create") as phase:
        clock.advance(1)
        phase.tick("etcd")
        clock.advance(0.1)
        phase.tick("still etcd")  # within min_redraw: not drawn
        clock.advance(1)
        phase.tick("kube-apiserver")
        progress("registry up")
        clock.advance(2)
    raw = out.getvalue()
    assert "\r" in raw
    assert "cluster create … 1.0s (etcd)" in raw
    assert "(still etcd)" not in raw
    assert "cluster create … 2.1s (kube-apiserver)" in raw
    # what the terminal finally shows: each \r rewinds the line
    screen = [line.split("\r")[-1].rstrip() for line in raw.split("\n")]
    assert screen[0] == "fluxchaos [  2.1s] registry up"
    assert screen[1] == "fluxchaos [  4.1s] cluster create done in 4.1s"
    assert screen[2] == ""  # nothing left dangling after the phase


def test_tty_clear_removes_a_bare_status_line() -> None:
    progress, out, _clock = make(is_tty=True)
    progress.tick("waiting for Flux")
    assert out.getvalue().startswith("\rfluxchaos [  0.0s] waiting for Flux")
    progress.clear()
    assert out.getvalue().split("\r")[-1] == ""
    assert progress._status_len == 0


def test_tty_status_is_cut_to_the_terminal_width() -> None:
    progress, out, _clock = make(is_tty=True)
    progress.width = 40
    with progress.phase("x" * 100):
        pass
    first_draw = out.getvalue().split("\r")[1]
    assert len(first_draw) <= 39


def test_markup_goes_to_terminal_writers_only_on_a_tty() -> None:
    calls: list[dict[str, bool]] = []

    class Writer:
        def write(self, text: str, **markup: bool) -> None:
            calls.append(markup)

    progress, _out, _clock = make(is_tty=True, writer=Writer())
    with progress.phase("p"):
        pass
    assert {"green": True, "red": False} in calls


# -- quiet: -q, workers, no terminal -------------------------------------------------

@pytest.mark.parametrize("kwargs", [{"verbosity": -1}, {"verbosity": -2}, {"is_worker": True},
                                    {"is_worker": True, "is_tty": True}, {"writer": None}])
def test_quiet_cases_write_nothing(kwargs: dict[str, object], caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("fluxchaos.test")
    progress, out, clock = make(log=log, **kwargs)  # type: ignore[arg-type]
    assert not progress.enabled
    with caplog.at_level(logging.INFO, logger="fluxchaos.test"):
        progress("docker: creating network")
        with progress.phase("cluster create") as phase:
            clock.advance(60)
            phase.tick("etcd")
        progress.tick("waiting")
        progress.clear()
    assert out.getvalue() == ""
    assert "docker: creating network" in caplog.text  # still in the log
    assert "cluster create done in 1m00s" in caplog.text
    assert progress.timings == {"cluster create": 60.0}


def test_suspend_wraps_every_write() -> None:
    entered: list[str] = []

    class Guard:
        def __enter__(self) -> None:
            entered.append("in")

        def __exit__(self, *exc: object) -> None:
            entered.append("out")

    progress, out, _clock = make(suspend=Guard)
    progress("hello")
    assert entered == ["in", "out"]
    assert out.getvalue().endswith("hello\n")


# -- through pytest ------------------------------------------------------------------

PROGRESS_TEST = textwrap.dedent("""
    from pytest_fluxchaos.progress import Progress

    def test_long_phase(request):
        progress = Progress.from_config(request.config)
        progress("provisioning")
        with progress.phase("Flux ready") as phase:
            phase.tick("2/2 pods")
        print("captured output stays captured")
""")


def test_from_config_writes_through_capture_when_not_a_tty(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_it=PROGRESS_TEST)
    result = pytester.runpytest("-p", "no:fluxchaos", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(["fluxchaos [[]*[]] provisioning", "fluxchaos [[]*[]] Flux ready ...",
                                 "fluxchaos [[]*[]] Flux ready done in *s"])
    assert "\r" not in out
    assert "captured output stays captured" not in out


def test_from_config_is_silent_under_q(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_it=PROGRESS_TEST)
    result = pytester.runpytest("-q", "-p", "no:fluxchaos", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "fluxchaos [" not in result.stdout.str()


def test_from_config_detects_an_xdist_worker(pytester: pytest.Pytester) -> None:
    config = pytester.parseconfig()
    assert Progress.from_config(config).enabled
    config.workerinput = {"workerid": "gw0"}  # type: ignore[attr-defined]
    progress = Progress.from_config(config)
    assert progress.is_worker and not progress.enabled


def test_under_xdist_workers_stay_silent_and_result_lines_reach_the_controller(
        pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makeconftest(textwrap.dedent("""
        from pytest_fluxchaos.progress import ResultLines

        def pytest_configure(config):
            config.pluginmanager.register(ResultLines.from_config(config), "fluxchaos-lines")
    """))
    pytester.makepyfile(test_it=PROGRESS_TEST + textwrap.dedent("""

        def test_item(record_property):
            record_property("fluxchaos.variant", "ha-emptydir")
            record_property("fluxchaos.no-regression", "false")
            record_property("fluxchaos.no-regression.expected", "false")
            record_property("fluxchaos.regressions", "1")
    """))
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:fluxchaos", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    out = result.stdout.str()
    assert "fluxchaos [" not in out  # worker progress is not interleaved into the output
    result.stdout.fnmatch_lines(["fluxchaos: test_item PASS no-regression=false(expected) "
                                 "regressions=1 variant=ha-emptydir"])


# -- result lines ----------------------------------------------------------------------

PROPS = [("fluxchaos.variant", "ha-emptydir"), ("fluxchaos.backend", "docker"),
         ("fluxchaos.irc_version", "v1.2.4"), ("fluxchaos.flux_version", "2.9.4"),
         ("fluxchaos.seed", "7"), ("fluxchaos.overall", "false"),
         ("fluxchaos.no-regression", "false"), ("fluxchaos.no-regression.expected", "false"),
         ("fluxchaos.converges", "false"), ("fluxchaos.converges.expected", "any"),
         ("fluxchaos.never-stuck", "true"), ("fluxchaos.never-stuck.expected", "true"),
         ("fluxchaos.faults-landed", "unknown"), ("fluxchaos.faults-landed.expected", "true"),
         ("fluxchaos.faults_injected", "3"), ("fluxchaos.faults_confirmed", "2"),
         ("fluxchaos.regressions", "1"), ("fluxchaos.artifacts", "/tmp/x")]


def test_summary_line_is_one_greppable_line() -> None:
    line = summary_line("suites/a.yaml::two-flips[ha-emptydir]", "failed", PROPS)
    assert line == ("fluxchaos: two-flips[ha-emptydir] FAIL no-regression=false(expected) "
                    "converges=false(any) never-stuck=true faults-landed=unknown!=true "
                    "faults=3/2 regressions=1 variant=ha-emptydir backend=docker irc=v1.2.4 "
                    "flux=2.9.4 seed=7")
    assert "\n" not in line


def test_summary_line_error_and_plain_tests() -> None:
    line = summary_line("x::y[single]", "failed", [("fluxchaos.variant", "single"),
                                                    ("fluxchaos.error", "docker backend\nunavailable")])
    assert line is not None and " ERROR " in line and line.endswith("error=docker backend unavailable")
    assert summary_line("x::test_plain", "passed", [("other", "1")]) is None


def test_result_lines_plugin_prints_on_the_controller_only() -> None:
    class Report:
        when = "call"
        outcome = "passed"
        nodeid = "s.yaml::sc[single]"
        user_properties = PROPS

    out = io.StringIO()
    ResultLines(out, 0).pytest_runtest_logreport(Report())
    assert out.getvalue().startswith("fluxchaos: sc[single] PASS ")
    quiet = io.StringIO()
    worker = ResultLines(quiet, 0, is_worker=True)
    worker.pytest_runtest_logreport(Report())
    ResultLines(quiet, -2).pytest_runtest_logreport(Report())
    assert quiet.getvalue() == "" and len(worker.lines) == 1
    Report.when = "teardown"
    ResultLines(out, 0).pytest_runtest_logreport(Report())
    assert out.getvalue().count("fluxchaos:") == 1


# -- phases that are usually short ------------------------------------------------------

def test_quiet_under_prints_only_waits_that_last(caplog: pytest.LogCaptureFixture) -> None:
    progress, out, clock = make(is_tty=False, heartbeat=30)
    with progress.phase("step 2: waiting for policy app resolves to 1.2.0", quiet_under=5) as p:
        clock.advance(1)
        p.tick()
    assert out.getvalue() == ""  # a 1 s wait is not worth two lines
    with progress.phase("step 3: waiting for a pod other than a leads", quiet_under=5) as p:
        for _ in range(40):
            clock.advance(1)
            p.tick("leader a")
    lines = out.getvalue().splitlines()
    assert lines == [
        "fluxchaos [  6.0s] step 3: waiting for a pod other than a leads ... 5.0s so far (leader a)",
        "fluxchaos [ 36.0s] step 3: waiting for a pod other than a leads still running after 35.0s: leader a",
        "fluxchaos [ 41.0s] step 3: waiting for a pod other than a leads done in 40.0s",
    ]


def test_quiet_under_on_a_tty_clears_the_status_of_a_short_wait() -> None:
    progress, out, clock = make(is_tty=True)
    with progress.phase("waiting", quiet_under=5) as p:
        clock.advance(1)
        p.tick()
    raw = out.getvalue()
    assert "waiting … 1.0s" in raw
    assert raw.split("\r")[-1].strip() == "" and "\n" not in raw


def test_phase_helper_accepts_plain_callables() -> None:
    from pytest_fluxchaos.progress import phase

    seen: list[str] = []
    with phase(seen.append, "asset build") as p:
        p.tick("go build")
    with phase(seen.append, "waiting", quiet_under=5):
        pass
    assert seen == ["asset build ..."]
    progress, out, _clock = make()
    with phase(progress, "asset build"):
        pass
    assert "asset build done in 0.0s" in out.getvalue()


def test_result_lines_remember_the_artifact_directories() -> None:
    class Report:
        when = "call"
        outcome = "failed"
        nodeid = "s.yaml::sc[single]"
        user_properties = [*PROPS, ("fluxchaos.artifacts", "/tmp/x")]

    lines = ResultLines(None, 0)
    lines.pytest_runtest_logreport(Report())
    lines.pytest_runtest_logreport(Report())
    from pathlib import Path

    assert lines.artifacts == [Path("/tmp/x")] and len(lines.lines) == 2


def test_ticker_thread_keeps_a_phase_alive_without_ticks() -> None:
    import time

    stream = io.StringIO()
    tty = Progress(stream, 0, True, False, refresh=0.02, min_redraw=0.0, width=120)
    with tty.phase("Flux ready"):
        time.sleep(0.25)  # nobody ticks: the status line still counts up
    draws = [part for part in stream.getvalue().split("\r") if "Flux ready …" in part]
    assert len({d.strip() for d in draws}) >= 3
    plain = io.StringIO()
    ci = Progress(plain, 0, False, False, refresh=0.02, heartbeat=0.1)
    with ci.phase("asset build"):
        time.sleep(0.35)
    assert plain.getvalue().count("asset build still running after") >= 2
    assert "\r" not in plain.getvalue()
    time.sleep(0.1)
    assert tty._ticker is None and ci._ticker is None  # the threads end with the phases


# -- Git verdicts: in the JUnit properties, the result line and the summary table ---------

def git_result(automation: bool, variant: str = "ha-emptydir"):
    """A RunResult as the runner leaves it: the Git checkers ran only with an automation."""
    from pytest_fluxchaos.checkers import Validity, Verdict, checker_names
    from pytest_fluxchaos.history import History
    from pytest_fluxchaos.runner import RunResult

    verdicts = {n: Verdict(n, Validity.TRUE, "fine") for n in checker_names(automation)}
    verdicts["no-regression"] = Verdict("no-regression", Validity.FALSE, "1 regression(s)",
                                        data={"regressions": [{"old": "1.2.0", "new": "1.1.0"}]})
    expected: dict[str, object] = {n: True for n in verdicts}
    expected["no-regression"] = False
    if automation:
        verdicts["git-no-regression"] = Verdict(
            "git-no-regression", Validity.FALSE, "commit daae75a set app:1.1.0 after app:1.2.0",
            data={"regressions": [{"sha": "daae75a" + "0" * 33, "old": "1.2.0", "new": "1.1.0"}]})
        verdicts["git-converges"] = Verdict("git-converges", Validity.FALSE, "ends at 1.1.0")
        expected["git-no-regression"] = False
        expected["git-converges"] = "any"
    return RunResult(scenario="two-flips", variant=variant, namespace="ns", backend="kind",
                     irc_version="v1.2.4", flux_version="2.9.4", seed=7, history=History(),
                     verdicts=verdicts, expected=expected, timings={"run": 150.0})


def test_junit_properties_carry_the_git_verdicts_only_when_they_ran() -> None:
    from pytest_fluxchaos.report import FailureReport

    props = dict(FailureReport.build(git_result(True)).properties())
    assert props["fluxchaos.git-no-regression"] == "false"
    assert props["fluxchaos.git-no-regression.expected"] == "false"
    assert props["fluxchaos.git-converges"] == "false"
    assert props["fluxchaos.git-converges.expected"] == "any"
    assert props["fluxchaos.git_regressions"] == "1" and props["fluxchaos.regressions"] == "1"
    plain = dict(FailureReport.build(git_result(False)).properties())
    assert not [k for k in plain if "git" in k]
    assert plain["fluxchaos.no-regression"] == "false"


def test_result_line_shows_git_verdicts_when_present() -> None:
    from pytest_fluxchaos.report import FailureReport

    props = FailureReport.build(git_result(True)).properties()
    line = summary_line("s.yaml::two-flips[ha-emptydir]", "passed", props)
    assert line is not None
    assert ("no-regression=false(expected) converges=true never-stuck=true ready-honest=true "
            "no-oom=true faults-landed=true git-no-regression=false(expected) git-converges=false(any) faults=0/0 "
            "regressions=1 git-regressions=1 ") in line
    assert "git_regressions=" not in line  # a count, not a checker
    plain = summary_line("s.yaml::two-flips[single]", "passed",
                         FailureReport.build(git_result(False, "single")).properties())
    assert plain is not None and "git" not in plain


class Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write_sep(self, sep: str, title: str) -> None:
        self.lines.append(f"== {title}")

    def write_line(self, line: str) -> None:
        self.lines.append(line)


def test_terminal_summary_has_git_columns_only_when_a_result_has_git_verdicts() -> None:
    from pytest_fluxchaos.report import terminal_summary

    tr = Writer()
    # the plain result first: the columns still follow the checker order
    terminal_summary(tr, [("s.yaml::two-flips[single]", git_result(False, "single")),
                          ("s.yaml::two-flips[ha-emptydir]", git_result(True))])
    header, plain, git = (line.split() for line in tr.lines[1:4])
    assert header[2:11] == ["regress", "converge", "stuck", "honest", "oom", "faults", "git-regress",
                            "git-converge", "inj/conf"]
    assert plain[2:10] == ["false", "true", "true", "true", "true", "true", "-", "-"]
    assert git[2:10] == ["false", "true", "true", "true", "true", "true", "false", "false"]
    tr = Writer()
    terminal_summary(tr, [("s.yaml::two-flips[single]", git_result(False, "single"))])
    assert "git" not in "\n".join(tr.lines)
