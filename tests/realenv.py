"""Whether the real components can be used here: the one place for the skip reasons.

A real-environment test is skipped for exactly two reasons, worded here and nowhere
else: the Docker engine does not answer (:func:`docker_reason`, applied to every test
marked ``docker`` by ``tests/conftest.py``) or the images are not built
(:func:`assets_reason` / :func:`require_assets`, a warm-cache lookup that never starts
a build). Everything else is an error: the project modules are imported at module
level, so an ImportError or a renamed builder method is a collection error or a
failing test, never a skip.
"""

from __future__ import annotations

import functools
import os

import docker
import pytest
import requests

from pytest_fluxchaos.assets import Assets, ensure_assets, resolve_irc_version
from pytest_fluxchaos.assets.build import Builder, default_cache_dir

FLUX_VERSION = os.environ.get("FLUXCHAOS_TEST_FLUX_VERSION", "2.9.4")
BUILD_ENV = "FLUXCHAOS_TEST_BUILD_ASSETS"  # =1: let the tests build the images
SOURCES = ("offline-build", "online")


@functools.cache
def docker_reason() -> str | None:
    """Why the Docker engine cannot be used (None when it can); asked once per process."""
    try:
        client = docker.from_env(timeout=10)
    except docker.errors.DockerException as exc:
        return _docker_unreachable(exc)
    try:
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        return _docker_unreachable(exc)
    finally:
        client.close()
    return None


def _docker_unreachable(exc: BaseException) -> str:
    return f"Docker engine not reachable: {' '.join(str(exc).split())[:160]}"


def not_built(flux_version: str) -> str:
    """The one reason for images (or manifests) missing from the asset cache."""
    return (f"images for Flux {flux_version} are not built; run "
            f"`python -m pytest_fluxchaos.assets build` (or set {BUILD_ENV}=1)")


def warm_assets(flux_version: str = FLUX_VERSION) -> Assets | None:
    """The built asset set for this Flux version, or None; never builds, never swallows."""
    irc, flux = resolve_irc_version(flux_version)
    return Builder(default_cache_dir(), lambda m: None).warm(irc, flux, SOURCES)


def assets_reason(flux_version: str = FLUX_VERSION) -> str | None:
    """Why the built assets are not available (None when they are, or may be built)."""
    if os.environ.get(BUILD_ENV) == "1":
        return None
    return None if warm_assets(flux_version) is not None else not_built(flux_version)


def require_assets(flux_version: str = FLUX_VERSION) -> Assets:
    """The assets for a test marked ``docker``: built when asked to, else skip if cold."""
    if os.environ.get(BUILD_ENV) == "1":
        return ensure_assets(flux_version, progress=lambda m: None)
    warm = warm_assets(flux_version)
    if warm is None:
        pytest.skip(not_built(flux_version))
    return warm


def run_leftovers(run_id: str) -> dict[str, list[str]]:
    """The containers, networks and volumes still labelled with a backend run's id."""
    from pytest_fluxchaos.backends.docker.labels import LABEL_RUN

    client = docker.from_env()
    label = f"{LABEL_RUN}={run_id}"
    try:
        return {
            "containers": [c.name for c in client.containers.list(all=True, filters={"label": label})],
            "networks": [n.name for n in client.networks.list(filters={"label": label})],
            "volumes": [v.name for v in client.volumes.list(filters={"label": label})],
        }
    finally:
        client.close()
