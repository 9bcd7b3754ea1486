"""The plugin's own tests: the in-memory backend is available as ``memory``.

The ``docker`` marker is enforced here, for the whole tree: a test marked ``docker``
is skipped with the one Docker reason (``realenv.docker_reason``) when the engine does
not answer. Tests that also need the built images ask ``realenv.require_assets``. A
test marked ``go`` is skipped only when there is no Go toolchain; a failed build fails it.
"""

from __future__ import annotations

import shutil

import pytest
from realenv import docker_reason

pytest_plugins = ["fakes.memory_backend"]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # Before any fixture of the item: a module-scoped environment is never attempted.
    if item.get_closest_marker("go") is not None and shutil.which("go") is None:
        pytest.skip("no Go toolchain (`go` on PATH): the test builds the registry liar")
    if item.get_closest_marker("docker") is not None:
        reason = docker_reason()  # probed once, and only when a docker test runs
        if reason is not None:
            pytest.skip(reason)
