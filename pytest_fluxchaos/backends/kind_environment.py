"""The kind backend's environment factory.

Not available in this release: the kind cluster lifecycle, the containerd-wired
registry and Flux installed from release manifests are tracked as their own issue.
Selecting it fails with one actionable line instead of a half-working cluster.
"""

from __future__ import annotations

from ..backends.base import BackendError


def create_kind_environment(settings, flux_version, progress):  # type: ignore[no-untyped-def]
    raise BackendError(
        "the kind backend is not available in this version of pytest-fluxchaos; "
        "run with --fluxchaos-backend=docker (or set fluxchaos_backend = docker in your ini)")
