"""pytest-kind's ``KindCluster`` with a current kind and node image.

Creation, reuse and deletion are pytest-kind's (``KindCluster.create(config_file)``:
``kind create cluster --name --kubeconfig --image --config``, reusing a cluster of the
same name; ``KindCluster.delete()``). What changes:

* ``ensure_kind`` never fetches pytest-kind's default kind v0.17.0: the binary is the
  one resolved by :func:`.options.resolve_kind_binary`, else pytest-kind's own download
  of the *pinned* ``KIND_VERSION`` (online mode only, bounded by a socket timeout);
* ``ensure_kubectl`` likewise downloads the pinned kubectl, should anything ask for it
  (the plugin itself uses the Python client).
"""

from __future__ import annotations

import socket
from pathlib import Path

from ...domain import BackendError
from .options import (INSTALL_HINT, KindOptions, pinned_kind_version, pinned_kubectl_version,
                      pytest_kind_binary)

DOWNLOAD_TIMEOUT = 60.0


def _pytest_kind() -> object:
    try:
        import pytest_kind.cluster as module
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise BackendError(f"pytest-kind is not installed ({exc}); pip install pytest-kind") from None
    return module


class _Pinned:
    """Temporarily set pytest-kind's module-level version pins (read at download time)."""

    def __init__(self, **pins: str) -> None:
        self.module = _pytest_kind()
        self.pins = pins
        self.saved: dict[str, object] = {}

    def __enter__(self) -> None:
        for key, value in self.pins.items():
            self.saved[key] = getattr(self.module, key, None)
            setattr(self.module, key, value)

    def __exit__(self, *exc: object) -> None:
        for key, value in self.saved.items():
            setattr(self.module, key, value)


def _download_error(exc: BaseException) -> str:
    """A short reason for a failed download (requests' messages run to hundreds of chars)."""
    text = " ".join(str(exc).split())
    if any(w in text for w in ("NameResolutionError", "Name or service not known",
                               "Temporary failure in name resolution", "nodename nor servname")):
        return "name resolution failed: no internet?"
    if "timed out" in text.lower():
        return "timed out"
    return text[:160]


def _remove_empty(directory: Path) -> None:
    """pytest-kind made ``.pytest-kind/<name>`` for the download; leave no empty dirs."""
    for d in (directory, directory.parent):
        try:
            d.rmdir()
        except OSError:
            return


def make_cluster(options: KindOptions, kind_path: Path | None, *, allow_download: bool):
    """A ``KindCluster`` for ``options`` (the class is built lazily: pytest-kind is
    imported only when the kind backend is used)."""
    base = _pytest_kind().KindCluster  # type: ignore[attr-defined]

    class FluxChaosKindCluster(base):  # type: ignore[misc, valid-type]
        def ensure_kind(self) -> None:
            if Path(self.kind_path).exists():
                return
            if not allow_download:
                raise BackendError(f"kind not found (offline mode does not download it); {INSTALL_HINT}")
            version = pinned_kind_version()
            previous = socket.getdefaulttimeout()
            socket.setdefaulttimeout(DOWNLOAD_TIMEOUT)
            try:
                with _Pinned(KIND_VERSION=version):
                    super().ensure_kind()
            except Exception as exc:  # noqa: BLE001 - requests/HTTP errors: one line
                _remove_empty(Path(self.path))
                raise BackendError(f"kind not found and pytest-kind could not download kind {version} "
                                   f"({_download_error(exc)}); {INSTALL_HINT}") from None
            finally:
                socket.setdefaulttimeout(previous)

        def ensure_kubectl(self) -> None:
            if Path(self.kubectl_path).exists():
                return
            with _Pinned(KUBECTL_VERSION=pinned_kubectl_version()):
                super().ensure_kubectl()

    kubectl = options.kubectl_bin
    if kubectl is None:
        kubectl = options.workdir / options.cluster_name / f"kubectl-{pinned_kubectl_version()}"
    return FluxChaosKindCluster(
        options.cluster_name,
        options.kubeconfig,
        image=options.node_image,
        kind_path=kind_path or pytest_kind_binary(options),
        kubectl_path=kubectl,
    )
