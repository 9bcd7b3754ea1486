"""Hook specifications other plugins (and the plugin's own tests) implement."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .session import BackendRegistry


@pytest.hookspec
def pytest_fluxchaos_register_backends(registry: BackendRegistry) -> None:
    """Register environment factories: ``registry.register(name, factory)``.

    ``factory(settings, flux_version, progress)`` returns an
    :class:`~pytest_fluxchaos.environment.Environment`; it is called once per
    (backend, Flux version) in a session and closed at the session's end.
    """
