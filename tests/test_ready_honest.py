"""ready-honest on hand-made histories (image-reflector-controller#449): a policy that stays
Ready=True while its repository fails beyond the bound is false, with the evidence; one
that leaves Ready=True in time, or a failure under the bound, is true; no Ready
observation of the repository or the policy is unknown."""

from __future__ import annotations

import json

import pytest

from pytest_fluxchaos.checkers import CheckContext, PolicyUnderTest, ReadyHonest, Validity
from pytest_fluxchaos.history import Op, PolicySpec, RepositoryReady

from test_checkers import SEMVER, ctx, ev, hist, latest, ready, seeded

REPO = "flux-system/app"
APP = PolicyUnderTest(SEMVER.name, SEMVER.image, SEMVER.policy, repository=REPO)
RESOLVED = "Latest image tag for 127.0.0.1:5000/app resolved to 1.1.0"
FAILED = 'scan failed: Get "http://fluxchaos-proxy:5000/v2/": EOF'


def repo_ready(t, status="True", repository=REPO, reason=None, message=""):
    reason = reason or {"True": "Succeeded", "False": "ReadOperationFailed",
                        "Unknown": "Progressing"}[status]
    return ev(RepositoryReady, t, repository=repository, status=status, reason=reason,
              message=message)


def outage(*extra, recover=200.0):
    """#449's shape: resolved and Ready at t=10, the repository fails from t=50."""
    parts = [seeded("1.0.0", "1.1.0"), repo_ready(5.0, message="successful scan: found 2 tags"),
             latest(10.0, "1.1.0"), ready(10.0, message=RESOLVED),
             repo_ready(50.0, "False", message=FAILED), *extra]
    if recover is not None:
        parts.append(repo_ready(recover, message="successful scan: found 3 tags"))
    return hist(*parts)


def check(h, put=APP, bound=60.0):
    return ReadyHonest().check(h, ctx(put, honest_bound=bound))


def end_at(t):
    return ev(Op, t, f="push-tag", type="invoke", image="elsewhere", tag="x")


def test_ready_true_over_a_failing_repository_is_false_with_evidence():
    v = check(outage())
    assert v.valid is Validity.FALSE
    assert v.summary == (f"Ready=True while the repository failed beyond 60s: {APP.name} "
                         f"(repository {REPO})")
    assert v.story[0] == (f"policy {APP.name} Ready=True at t=110.0s while repository {REPO} had "
                          "failed since t=50.0s (2026-11-28T04:09:50Z) until t=200.0s (150.0s, "
                          "bound 60s)")
    assert v.story[1] == f"  repository Ready False ReadOperationFailed: {FAILED}"
    assert v.story[2] == f"  policy Ready True Succeeded since t=10.0s: {RESOLVED}"
    (failure,) = v.data["policies"][APP.name]["failures"]
    assert failure["since"] == 50.0 and failure["until"] == 200.0 and failure["message"] == FAILED
    assert failure["ready_true_beyond_bound"] == pytest.approx(90.0)
    assert failure["policy_ready_at"] == 110.0 and failure["policy_message"] == RESOLVED
    json.dumps(v.data)


def test_leaving_ready_true_in_time_is_true():
    v = check(outage(ready(80.0, "False", reason="DependencyNotReady", message="repository failing")))
    assert v.valid is Validity.TRUE, v.story
    assert v.summary == ("no policy Ready=True beyond 60s of a failing repository "
                         "(longest failure 150.0s)")


def test_ready_true_again_while_still_failing_is_false():
    v = check(outage(ready(80.0, "False", reason="DependencyNotReady"), ready(130.0, message=RESOLVED)))
    assert v.valid is Validity.FALSE
    failure = v.data["policies"][APP.name]["failures"][0]
    assert failure["policy_ready_at"] == 130.0
    assert failure["ready_true_beyond_bound"] == pytest.approx(70.0)


def test_a_failure_under_the_bound_is_true():
    v = check(outage(end_at(300.0), recover=100.0))  # Ready=True after the recovery is honest
    assert v.valid is Validity.TRUE, v.story
    assert v.data["policies"][APP.name]["failures"][0]["failed_for"] == pytest.approx(50.0)


def test_unknown_while_retrying_does_not_end_the_failure():
    """IRC marks Ready Unknown "scanning: ..." while a retry runs; only True recovers."""
    v = check(outage(repo_ready(70.0, "Unknown", message="scanning: reconcile requested"),
                     repo_ready(71.0, "False", message=FAILED)))
    assert v.valid is Validity.FALSE
    assert [f["since"] for f in v.data["policies"][APP.name]["failures"]] == [50.0]


def test_unknown_alone_is_not_a_failure():
    h = hist(seeded("1.0.0"), repo_ready(5.0), ready(10.0, message=RESOLVED),
             repo_ready(50.0, "Unknown", message="scanning: interval"), repo_ready(300.0))
    v = check(h)
    assert v.valid is Validity.TRUE and v.summary == "no repository failed"


@pytest.mark.parametrize("end, verdict", [(100.0, Validity.TRUE), (150.0, Validity.FALSE)])
def test_a_failure_open_at_the_end(end, verdict):
    v = check(outage(end_at(end), recover=None))
    assert v.valid is verdict
    if verdict is Validity.FALSE:
        assert "to the end of the history" in v.story[0]


def test_another_repository_failing_does_not_count():
    h = hist(seeded("1.0.0"), repo_ready(5.0), ready(10.0, message=RESOLVED),
             repo_ready(50.0, "False", repository="flux-system/other", message=FAILED), end_at(300.0))
    assert check(h).valid is Validity.TRUE


def test_the_repository_comes_from_the_observed_spec():
    put = PolicyUnderTest(SEMVER.name, SEMVER.image, SEMVER.policy)  # no repository in the context
    spec = {"imageRepositoryRef": {"name": "app"}, "policy": SEMVER.policy}
    v = check(outage(ev(PolicySpec, 1.0, policy=put.name, generation=1, spec=spec)), put=put)
    assert v.valid is Validity.FALSE and v.data["policies"][put.name]["repository"] == REPO
    other_ns = {**spec, "imageRepositoryRef": {"name": "app", "namespace": "shared"}}
    v = check(outage(ev(PolicySpec, 1.0, policy=put.name, generation=1, spec=other_ns)), put=put)
    assert v.valid is Validity.UNKNOWN
    assert v.summary == f"{put.name}: Ready of repository shared/app never observed"


def test_never_observed_is_unknown():
    no_repo = hist(seeded("1.0.0"), ready(10.0, message=RESOLVED), end_at(300.0))
    v = check(no_repo)
    assert v.valid is Validity.UNKNOWN
    assert v.summary == f"{APP.name}: Ready of repository {REPO} never observed"
    no_policy = hist(seeded("1.0.0"), repo_ready(5.0), repo_ready(50.0, "False"), end_at(300.0))
    assert check(no_policy).valid is Validity.UNKNOWN
    unnamed = PolicyUnderTest(SEMVER.name, SEMVER.image, SEMVER.policy)
    v = check(outage(), put=unnamed)
    assert v.valid is Validity.UNKNOWN and "ImageRepository is not known" in v.summary
    assert ReadyHonest().check(outage(), CheckContext(policies=())).valid is Validity.UNKNOWN
