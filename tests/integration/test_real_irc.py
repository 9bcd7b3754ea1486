"""The real image-reflector-controller on a real kube-apiserver with a real registry.

Issue: pushing 1.0.0, 1.1.0, 2.0.0-rc.1, 1.2.0 makes a semver ``>=1.0.0`` policy
resolve to 1.2.0; alphabetical and numerical policies resolve as the oracle predicts;
the Lease holder is one of the replicas. For IRC v1.2.4 (Flux 2.9.4) and v0.32.0
(Flux 2.3.0).
"""

from __future__ import annotations

import docker
import pytest
from realenv import docker_reason, require_assets

from pytest_fluxchaos.history import LeaseHolder, PodState, PolicyLatest
from pytest_fluxchaos.policy import latest_tag

pytestmark = pytest.mark.docker

APP_TAGS = ["1.0.0", "1.1.0", "2.0.0-rc.1", "1.2.0"]
BUILD_TAGS = ["1", "5", "10", "2"]


def scenario() -> dict:
    return {
        "name": "resolve",
        "images": [{"name": "app", "tags": APP_TAGS}, {"name": "build", "tags": BUILD_TAGS}],
        "repositories": [{"name": "app", "image": "app", "interval": "10s"},
                         {"name": "build", "image": "build", "interval": "10s"}],
        "policies": [
            {"name": "semver", "repository": "app", "policy": {"semver": {"range": ">=1.0.0"}}},
            {"name": "alpha", "repository": "app", "policy": {"alphabetical": {"order": "asc"}}},
            {"name": "alpha-desc", "repository": "app",
             "policy": {"alphabetical": {"order": "desc"}}},
            {"name": "numeric", "repository": "build", "policy": {"numerical": {"order": "asc"}}},
        ],
        "steps": [
            {"push": {"image": "app", "tags": APP_TAGS}},
            {"push": {"image": "build", "tags": BUILD_TAGS}},
            {"after": {"policy": "semver", "tag": "1.2.0", "timeout": "60s"}},
        ],
        "bounds": {"converge": "60s", "timeout": "4m"},
    }


def _v0_32_available() -> bool:
    """IRC v0.32.0 needs the official image (the Go module proxy here serves only v1.2.3+)."""
    if docker_reason() is not None:
        return False  # the docker marker skips the test with the engine's reason
    client = docker.from_env(timeout=10)
    try:
        for ref in ("ghcr.io/fluxcd/image-reflector-controller:v0.32.0",
                    "fluxchaos/image-reflector-controller:v0.32.0"):
            try:
                client.images.get(ref)
                return True
            except docker.errors.ImageNotFound:
                continue
        return False
    finally:
        client.close()


VERSIONS = [
    pytest.param("2.9.4", "v1.2.4", id="flux-2.9.4"),
    pytest.param("2.9.3", "v1.2.3", id="flux-2.9.3"),
    pytest.param("2.3.0", "v0.32.0", id="flux-2.3.0", marks=pytest.mark.skipif(
        not _v0_32_available(),
        reason="IRC v0.32.0 (Flux 2.3) image not present: the Go module proxy reachable here "
               "refuses every IRC version before v1.2.3 (403); with internet, "
               "`python -m pytest_fluxchaos.assets build --flux-version 2.3.0 --mode online`")),
]


@pytest.mark.parametrize("flux_version,irc_version", VERSIONS)
def test_real_irc_resolves_like_the_oracle(fluxchaos, flux_version: str, irc_version: str) -> None:
    require_assets(flux_version)  # the session would otherwise start a build
    result = fluxchaos.run(scenario(), variant="ha-emptydir", flux_version=flux_version)
    assert result.error is None, result.error
    assert result.irc_version == irc_version
    final = {}
    for event in result.history.of(PolicyLatest):
        final[event.policy.split("/")[1]] = event.tag
    assert final["semver"] == "1.2.0"
    oracle = lambda tags, policy: latest_tag(tags, policy, irc_version=result.irc_version)  # noqa: E731
    assert final["alpha"] == oracle(APP_TAGS, {"alphabetical": {"order": "asc"}}) == "2.0.0-rc.1"
    assert final["alpha-desc"] == oracle(APP_TAGS, {"alphabetical": {"order": "desc"}}) == "1.0.0"
    assert final["numeric"] == oracle(BUILD_TAGS, {"numerical": {"order": "asc"}}) == "10"
    assert result.verdicts["converges"].valid.value == "true", result.verdicts["converges"].story
    pods = {e.pod.split("/")[1] for e in result.history.of(PodState)}
    holders = {e.holder for e in result.history.of(LeaseHolder) if e.holder}
    assert len(pods) == 2, pods
    assert holders and holders <= pods, (holders, pods)
