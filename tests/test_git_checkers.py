"""The Git checkers judge hand-built histories of commits on the push branch."""

from __future__ import annotations

import pytest

from pytest_fluxchaos.checkers import (CheckContext, GitConverges, GitNoRegression, Validity,
                                       checker_names, run_checkers)
from pytest_fluxchaos.history import GitCommit, History, Note
from pytest_fluxchaos.setters import Marker, image_tag, marker_comment, parse_markers

from test_checkers import SEMVER, delete, ev, hist, seeded

REF = "registry:5000/ns/app"
POLICY_NS, POLICY = SEMVER.name.split("/")


def line(tag: str) -> str:
    return f"        image: {REF}:{tag} {marker_comment(POLICY_NS, POLICY)}"


def commit(t: float, sha: str, tag: str, parent: str | None, *, seed: bool = False,
           policy: str = SEMVER.name) -> GitCommit:
    text = line(tag)
    markers = ({"path": "deploy/app.yaml", "line": 7, "policy": policy, "form": "image",
                "value": f"{REF}:{tag}", "tag": tag, "text": text},)
    return ev(GitCommit, t, repo="ns", branch="main", sha=sha, parents=(parent,) if parent else (),
              author="fluxcdbot", message=f"app to {tag}", committed="2026-11-28T04:09:00Z",
              markers=markers, seed=seed)


def gctx(**kw) -> CheckContext:
    return CheckContext(policies=(SEMVER,), automation=True, converge_bound=60.0, git_lag=30.0,
                        **kw)


def sha(n: int) -> str:
    return f"{n:040x}"


# --------------------------------------------------------------------------- setters


def test_markers_read_all_three_forms_and_skip_other_comments():
    text = "\n".join([
        "spec:",
        f"  image: {REF}:1.2.0 # {{\"$imagepolicy\": \"ns:app\"}}",
        "  tag: \"1.3.0\" # {\"$imagepolicy\": \"ns:app:tag\"}",
        "  - name: " + REF + " # {\"$imagepolicy\": \"ns:app:name\"}",
        "  other: x # just a comment",
        "  bad: y # {\"$imagepolicy\": \"ns:app:digestish\"}",
    ])
    found = parse_markers("a.yaml", text)
    assert [(m.line, m.form, m.tag) for m in found] == [(2, "image", "1.2.0"), (3, "tag", "1.3.0"),
                                                        (4, "name", None)]
    assert found[0].policy == "ns/app"


@pytest.mark.parametrize(("ref", "tag"), [
    ("host:5000/ns/app:1.2.0", "1.2.0"), ("host:5000/ns/app", None),
    ("app@sha256:abc", None), ("host:5000/ns/app:1.2.0@sha256:abc", "1.2.0")])
def test_image_tag(ref, tag):
    assert image_tag(ref) == tag


def test_marker_tag_of_name_form_is_none():
    assert Marker("p", 1, "ns/app", "name", REF, "").tag is None


# --------------------------------------------------------------------------- git-no-regression


def test_a_commit_that_moves_back_is_a_regression_naming_the_commit_and_line():
    h = hist(seeded("1.1.0", "1.2.0"),
             commit(5, sha(1), "seed", None, seed=True),
             commit(10, sha(2), "1.1.0", sha(1)),
             commit(20, sha(3), "1.2.0", sha(2)),
             commit(30, sha(4), "1.1.0", sha(3)))
    v = GitNoRegression().check(h, gctx())
    assert v.valid is Validity.FALSE
    assert v.summary.startswith(f"commit {sha(4)[:7]} set {SEMVER.image}:1.1.0 after "
                                f"{SEMVER.image}:1.2.0 (deploy/app.yaml:7, parent {sha(3)[:7]})")
    text = v.render()
    assert sha(4) in text and f"- {line('1.2.0').strip()}" in text
    assert f"+ {line('1.1.0').strip()}" in text
    [r] = v.data["regressions"]
    assert (r["sha"], r["parent"], r["old"], r["new"]) == (sha(4), sha(3), "1.2.0", "1.1.0")


def test_forward_commits_and_the_first_write_over_the_seed_are_fine():
    h = hist(seeded("1.1.0", "1.2.0"),
             commit(5, sha(1), "9.9.9", None, seed=True),  # a seed above everything
             commit(10, sha(2), "1.1.0", sha(1)),
             commit(20, sha(3), "1.2.0", sha(2)))
    v = GitNoRegression().check(h, gctx())
    assert v.valid is Validity.TRUE, v.render()
    assert [c["judgement"] for c in v.data["changes"]] == ["initial", "forward"]


def test_moving_back_from_a_deleted_tag_is_excused():
    h = hist(seeded("1.1.0", "1.2.0"), delete(15, "1.2.0"),
             commit(5, sha(1), "seed", None, seed=True),
             commit(10, sha(2), "1.2.0", sha(1)),
             commit(20, sha(3), "1.1.0", sha(2)))
    v = GitNoRegression().check(h, gctx())
    assert v.valid is Validity.TRUE, v.render()
    assert v.data["changes"][-1]["judgement"] == "excused-deleted"


def test_no_commit_is_unknown_and_an_unselectable_tag_is_unknown():
    assert GitNoRegression().check(hist(seeded("1.0.0")), gctx()).valid is Validity.UNKNOWN
    h = hist(seeded("1.1.0"), commit(5, sha(1), "seed", None, seed=True),
             commit(10, sha(2), "1.1.0", sha(1)), commit(20, sha(3), "banana", sha(2)))
    assert GitNoRegression().check(h, gctx()).valid is Validity.UNKNOWN


def test_a_commit_whose_parent_was_not_seen_is_judged_against_the_previous_one():
    h = hist(seeded("1.1.0", "1.2.0"), commit(5, sha(1), "seed", None, seed=True),
             commit(10, sha(2), "1.2.0", sha(1)), commit(20, sha(4), "1.1.0", sha(3)))
    assert GitNoRegression().check(h, gctx()).valid is Validity.FALSE


# --------------------------------------------------------------------------- git-converges


def test_branch_ending_at_the_best_tag_converges():
    h = hist(seeded("1.1.0", "1.2.0", t=1.0), commit(0.5, sha(1), "seed", None, seed=True),
             commit(10, sha(2), "1.2.0", sha(1)))
    v = GitConverges().check(h, gctx())
    assert v.valid is Validity.TRUE, v.render()
    assert v.data["policies"][SEMVER.name]["time_to_converge"] == pytest.approx(10 - 1.1)


def test_branch_ending_behind_is_false_once_the_bound_passed_and_unknown_before():
    commits_ = [commit(0.5, sha(1), "seed", None, seed=True), commit(10, sha(2), "1.1.0", sha(1))]
    late = ev(Note, 200, message="run end")
    assert GitConverges().check(hist(seeded("1.1.0", "1.2.0"), commits_),
                                gctx()).valid is Validity.UNKNOWN
    v = GitConverges().check(hist(seeded("1.1.0", "1.2.0"), commits_, late), gctx())
    assert v.valid is Validity.FALSE and "ends at 1.1.0" in v.summary


def test_branch_that_gets_there_after_the_bound_is_late():
    h = hist(seeded("1.1.0", "1.2.0"), commit(0.5, sha(1), "seed", None, seed=True),
             commit(150, sha(2), "1.2.0", sha(1)))
    v = GitConverges().check(h, gctx())
    assert v.valid is Validity.FALSE and "late" in v.summary


# --------------------------------------------------------------------------- applicability


def test_git_checkers_apply_only_with_an_automation():
    assert "git-no-regression" not in checker_names(False)
    assert checker_names(True)[-2:] == ("git-no-regression", "git-converges")
    h = hist(seeded("1.0.0"))
    assert "git-converges" not in run_checkers(h, CheckContext(policies=(SEMVER,)))
    assert "git-converges" in run_checkers(h, gctx())


def test_git_commit_events_round_trip_through_jsonl(tmp_path):
    h = hist(commit(5, sha(1), "seed", None, seed=True), commit(6, sha(2), "1.0.0", sha(1)))
    h.write_jsonl(tmp_path / "h.jsonl")
    back = History.read_jsonl(tmp_path / "h.jsonl").of(GitCommit)
    assert back == h.of(GitCommit)
