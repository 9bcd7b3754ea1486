"""Whether the real components can be used here: one place for the skip reasons.

Tests that need Docker or the built images ask these before provisioning; the asset
check is a warm-cache lookup and never starts a build.
"""

from __future__ import annotations

import os


def docker_reason() -> str | None:
    """Why the Docker engine cannot be used (None when it can)."""
    try:
        import docker

        client = docker.from_env(timeout=10)
        client.ping()
        client.close()
        return None
    except Exception as exc:  # noqa: BLE001
        return f"Docker engine not reachable: {' '.join(str(exc).split())[:160]}"


def assets_reason(flux_version: str) -> str | None:
    """Why the built assets are not available (a warm-cache lookup; never a build)."""
    if os.environ.get("FLUXCHAOS_TEST_BUILD_ASSETS") == "1":
        return None
    from pytest_fluxchaos.assets import resolve_irc_version
    from pytest_fluxchaos.assets.build import Builder, default_cache_dir

    irc, flux = resolve_irc_version(flux_version)
    try:
        warm = Builder(default_cache_dir(), lambda m: None).warm(irc, flux, ("offline-build", "online"))
    except Exception as exc:  # noqa: BLE001
        return f"cannot check the assets cache ({exc}); set FLUXCHAOS_TEST_BUILD_ASSETS=1"
    if warm is None:
        return (f"images for Flux {flux_version} are not built; run "
                "`python -m pytest_fluxchaos.assets build` (or set FLUXCHAOS_TEST_BUILD_ASSETS=1)")
    return None
