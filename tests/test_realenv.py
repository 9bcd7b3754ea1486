"""The real-environment gate: skip only for a silent Docker engine or unbuilt images.

Anything else that goes wrong while asking (a renamed builder method, a broken cache
lookup) must surface as an error, and the ``docker`` marker must be enforced for the
whole tests tree from tests/conftest.py.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import realenv

from pytest_fluxchaos.assets.build import Builder

TESTS = Path(__file__).resolve().parent


@pytest.fixture
def no_docker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """An engine address nobody answers on; the cached probe is forgotten around it."""
    host = f"unix://{tmp_path}/no-engine.sock"
    monkeypatch.setenv("DOCKER_HOST", host)
    realenv.docker_reason.cache_clear()
    yield host
    realenv.docker_reason.cache_clear()


def test_docker_reason_names_the_engine(no_docker: str) -> None:
    reason = realenv.docker_reason()
    assert reason is not None and reason.startswith("Docker engine not reachable: ")
    assert "\n" not in reason


def test_cold_cache_skips_with_the_build_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(realenv.BUILD_ENV, raising=False)
    monkeypatch.setattr(Builder, "warm", lambda self, irc, flux, sources: None)
    assert realenv.assets_reason("2.9.4") == realenv.not_built("2.9.4")
    with pytest.raises(pytest.skip.Exception, match=r"python -m pytest_fluxchaos.assets build"):
        realenv.require_assets("2.9.4")


def test_a_broken_cache_lookup_is_an_error_not_a_skip(monkeypatch: pytest.MonkeyPatch) -> None:
    """Kills: ``except Exception: pytest.skip(...)`` around the warm-cache lookup."""
    monkeypatch.delenv(realenv.BUILD_ENV, raising=False)

    def renamed(self: Builder, *args: object) -> None:
        raise AttributeError("'Builder' object has no attribute 'warm'")

    monkeypatch.setattr(Builder, "warm", renamed)
    with pytest.raises(AttributeError, match="no attribute 'warm'"):
        realenv.require_assets("2.9.4")
    with pytest.raises(AttributeError, match="no attribute 'warm'"):
        realenv.assets_reason("2.9.4")


def test_docker_marker_is_enforced_for_the_whole_tree(pytester: pytest.Pytester, no_docker: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A docker-marked test anywhere (not only under tests/backends) skips with the one reason.

    Kills: removing or narrowing tests/conftest.py's ``pytest_runtest_setup``.
    """
    pytester.makepyfile(**{"elsewhere/test_anywhere": """
        import pytest

        @pytest.fixture(scope="module")
        def environment():
            raise AssertionError("a docker test's fixture ran without Docker")

        @pytest.mark.docker
        def test_needs_docker(environment):
            raise AssertionError("ran without Docker")

        def test_plain():
            pass
    """})
    pytester.makeini("[pytest]\nmarkers =\n    docker: needs Docker\n")
    env_path = os.pathsep.join([str(TESTS), *sys.path])
    monkeypatch.setenv("PYTHONPATH", env_path)
    result = pytester.runpytest_subprocess("-p", "conftest", "-p", "no:cacheprovider", "-rs", "elsewhere")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED [[]1[]] *: Docker engine not reachable: *"])
