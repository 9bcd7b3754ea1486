"""Malformed suites: each mistake is one line, file:line and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_fluxchaos.suite import SuiteError, load_suite

GOOD = """\
suite: demo
scenarios:
  - name: demo
    images:
      - name: app
        tags: [1.0.0]
    repositories:
      - name: app
        image: app
        interval: 30s
    policies:
      - name: app-semver
        repository: app
        policy:
          semver:
            range: ">=1.0.0"
    steps:
      - push: {image: app, tags: [1.0.0]}
      - after: {policy: app-semver, tag: 1.0.0}
        fault: {kind: oom-kill, target: leader}
    expect:
      single: {no-regression: true}
"""

# (name, old text, new text, expected line, expected fragment)
CASES = [
    ("invalid semver range", '">=1.0.0"', '">=1.0.0 ||| <"', 14,
     "scenarios.0.policies.0.policy: invalid policy: improper constraint"),
    ("unknown policy kind", "semver:\n            range", "semverr:\n            range", 14,
     "scenarios.0.policies.0.policy: invalid policy"),
    ("unknown variant in expect", "single: {no-regression", "singel: {no-regression", 22,
     "scenarios.0.expect.singel: unknown variant 'singel'; expected one of: ha-emptydir"),
    ("unknown checker", "{no-regression: true}", "{no-regresion: true}", 22,
     "scenarios.0.expect.single.no-regresion: unknown checker; expected one of: no-regression"),
    ("bad duration", "interval: 30s", "interval: 30 seconds", 10,
     "scenarios.0.repositories.0.interval: expected a duration like '30s'"),
    ("unknown fault kind", "kind: oom-kill", "kind: oom", 20,
     "scenarios.0.steps.1.fault.kind: unknown fault kind 'oom'; expected one of git-outage, kill, "
     "lease-delete, oom-kill, pod-delete, registry-error, registry-latency, registry-outage, registry-slow, "
     "registry-stale, registry-truncate"),
    ("bad fault target", "target: leader}", "target: boss}", 20,
     "scenarios.0.steps.1.fault.target: expected leader, standby, registry or pod-N, got 'boss'"),
    ("misspelt key", "    images:", "    imagez:", 4,
     "scenarios.0.imagez: unknown key; did you mean 'images'?"),
    ("unknown key", "        interval: 30s", "        interval: 30s\n        intervall: 1m", 11,
     "scenarios.0.repositories.0.intervall: unknown key"),
    ("repository names unknown image", "        image: app", "        image: ap", 9,
     "scenarios.0.repositories.0.image: unknown image 'ap'; expected one of: app"),
    ("policy names unknown repository", "        repository: app", "        repository: nope", 13,
     "scenarios.0.policies.0.repository: unknown repository 'nope'"),
    ("trigger on unknown policy", "after: {policy: app-semver", "after: {policy: other", 19,
     "scenarios.0.steps.1.after.policy: unknown policy 'other'"),
    ("push of unknown image", "push: {image: app", "push: {image: web", 18,
     "scenarios.0.steps.0.push.image: unknown image 'web'"),
    ("two actions in one step", "fault: {kind: oom-kill, target: leader}",
     "fault: {kind: oom-kill, target: leader}\n        push: {image: app, tags: [x]}", 19,
     "scenarios.0.steps.1: a step has at most one action, got push, fault"),
    ("invalid object name", "- name: app-semver", "- name: App_Semver", 12,
     "scenarios.0.policies.0.name: expected a lowercase Kubernetes name"),
    ("broken YAML", "    steps:", "    steps: [", 18, "invalid YAML"),
    ("invalid regex in filterTags", "        repository: app\n        policy:",
     "        repository: app\n        filterTags: {pattern: '(unclosed'}\n        policy:", 15,
     "scenarios.0.policies.0.policy: failed to filter tags: invalid regular expression"),
    ("scenarios missing", None, "suite: empty\n", 1, "expected a 'scenarios' list or an 'explore' section"),
    ("not a mapping", None, "- just\n- a list\n", 1, "expected a mapping with a 'scenarios' list, got a list"),
    ("empty file", None, "", 1, "expected a mapping with a 'scenarios' list, got an empty file"),
    ("only a comment", None, "# nothing yet\n", 1, "expected a mapping with a 'scenarios' list, got an empty file"),
    ("a scalar", None, "just text\n", 1, "expected a mapping with a 'scenarios' list, got a scalar"),
    ("control character", "    images:", "    images: \x07", 4, "invalid YAML: unacceptable character #x0007"),
]


@pytest.mark.parametrize("name,old,new,line,fragment", CASES, ids=[c[0] for c in CASES])
def test_malformed_suite_gives_one_located_error(tmp_path: Path, name, old, new, line, fragment) -> None:
    text = new if old is None else GOOD.replace(old, new, 1)
    assert old is None or text != GOOD, f"case {name!r} did not change the suite"
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    message = str(info.value)
    assert len(message.splitlines()) == 1, message
    assert message.startswith(f"{path}:"), message
    if line is not None:
        assert message.startswith(f"{path}:{line}: "), message
    assert fragment in message, message


def _binary(path: Path) -> None:
    path.write_bytes(b"suite: x\n\xff\xfe\x00\x01\x89PNG\r\n\x1a\n")


def _directory(path: Path) -> None:
    path.mkdir()


# (name, how to make the path, expected line or None, expected fragment)
UNREADABLE = [
    ("binary bytes", _binary, 2, "not UTF-8 text (byte 0xff at offset 9); a suite is a YAML file"),
    ("a directory", _directory, None, "cannot read suite: Is a directory"),
]


@pytest.mark.parametrize("name,make,line,fragment", UNREADABLE, ids=[c[0] for c in UNREADABLE])
def test_unreadable_suite_gives_one_located_error(tmp_path: Path, name, make, line, fragment) -> None:
    path = tmp_path / "bad.yaml"
    make(path)
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    message = str(info.value)
    assert message == (f"{path}:{line}: {fragment}" if line else f"{path}: {fragment}")


def test_good_suite_loads(tmp_path: Path) -> None:
    path = tmp_path / "good.yaml"
    path.write_text(GOOD)
    suite = load_suite(path)
    assert suite.name == "demo"
    assert [s.name for s in suite.scenarios] == ["demo"]
    assert suite.scenarios[0].repositories[0].interval == 30.0


def test_collection_shows_the_error_without_traceback(pytester: pytest.Pytester) -> None:
    pytester.mkdir("suites")
    (pytester.path / "suites" / "bad.yaml").write_text(GOOD.replace("interval: 30s", "interval: x"))
    result = pytester.runpytest("-q", "suites/")
    out = result.stdout.str()
    assert "bad.yaml:10: scenarios.0.repositories.0.interval: expected a duration" in out
    assert "Traceback" not in out and "pydantic" not in out
    assert result.ret != 0


def test_binary_and_empty_suites_are_one_line_each_at_collection(pytester: pytest.Pytester) -> None:
    """No INTERNALERROR: each bad file is one ``file:line: ...`` collection error; a directory
    named like a suite is just a directory, and the good suite next to them still collects."""
    suites = pytester.mkdir("suites")
    _binary(suites / "binary.yaml")
    (suites / "empty.yaml").write_text("")
    (suites / "list.yaml").write_text("- a\n- b\n")
    _directory(suites / "dir.yaml")
    (suites / "good.yaml").write_text(GOOD)
    result = pytester.runpytest("--collect-only", "-q", "suites/")
    out = result.stdout.str()
    assert "INTERNALERROR" not in out and "Traceback" not in out, out
    result.stdout.fnmatch_lines_random([
        f"{suites / 'binary.yaml'}:2: not UTF-8 text (byte 0xff at offset 9); a suite is a YAML file",
        f"{suites / 'empty.yaml'}:1: expected a mapping with a 'scenarios' list, got an empty file",
        f"{suites / 'list.yaml'}:1: expected a mapping with a 'scenarios' list, got a list",
        "*suites/good.yaml::demo[[]single[]]*",
    ])
    assert result.ret == pytest.ExitCode.INTERRUPTED  # collection errors stop the run


def test_an_unexpected_collection_error_is_reported_not_internal(pytester: pytest.Pytester) -> None:
    """A bug while collecting a suite (not a SuiteError) is an ordinary collection error."""
    pytester.makeconftest("""
        import pytest_fluxchaos.plugin as plugin

        def pytest_configure(config):
            original = plugin.load_suite

            def broken(path):
                raise RuntimeError("boom in load_suite")

            plugin.load_suite = broken
            config.add_cleanup(lambda: setattr(plugin, "load_suite", original))
    """)
    pytester.mkdir("suites")
    (pytester.path / "suites" / "good.yaml").write_text(GOOD)
    result = pytester.runpytest("--collect-only", "-q", "suites/")
    out = result.stdout.str()
    assert "INTERNALERROR" not in out, out
    result.stdout.fnmatch_lines(["*ERROR collecting suites/good.yaml*", "*RuntimeError: boom in load_suite*"])
    assert result.ret == pytest.ExitCode.INTERRUPTED
