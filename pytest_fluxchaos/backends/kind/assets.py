"""What the kind backend runs: the kind binary and node image, and the controller's images.

**kind and the node image.** What the user gave wins: ``--kind-bin``, else
``$FLUXCHAOS_KIND_BIN``; ``--kind-image``. For what was not given the asset set of
:func:`pytest_fluxchaos.assets.ensure_kind` is used (a warm cache is one ``docker image
inspect``; in ``auto`` mode a cold one tries kind's digest-pinned ``kindest/node`` and
else builds the offline node image). Should that fail, a kind found the old way (PATH,
pytest-kind's cache, ``go install``) with the pinned ``kindest/node@sha256`` is used, and
the progress line says why. Which path was taken is recorded (:class:`KindChoice`) and
lands in every item's ``verdict.json`` (``backend_details``).

**The controller.** kind never runs etcd, kube-apiserver or the stress image of the
docker backend, so the online path here resolves only what kind uses: the controller
image, the registry image and the release's manifests (:func:`controller_assets`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...domain import BackendError, one_line
from .options import NODE_IMAGE, KindOptions, resolve_kind_binary

Progress = Callable[[str], None]
BUILD_HINT = "run `python -m pytest_fluxchaos.assets build --kind`, or pass --kind-bin and --kind-image"


@dataclass(frozen=True)
class KindChoice:
    """Which kind binary and node image a run uses, and where each came from."""

    kind_bin: Path | None
    kind_bin_source: str  # "--kind-bin", "FLUXCHAOS_KIND_BIN", "asset set (offline-build)", "PATH", ...
    node_image: str
    node_image_source: str  # "--kind-image", "asset set (offline-build)", "asset set (online)", "pinned default"
    asset_source: str | None  # "offline-build" | "online" | None (no asset set used)
    kubernetes_version: str | None = None

    def describe(self) -> str:
        path = {"offline-build": "offline build", "online": "official kindest/node@sha256 pin"}.get(
            self.asset_source or "", "given by the user" if self.asset_source is None else self.asset_source)
        return (f"kind: node image {self.node_image} ({self.node_image_source}; path: {path}), "
                f"kind {self.kind_bin} ({self.kind_bin_source})")

    def as_dict(self) -> dict[str, Any]:
        return {"kind_bin": str(self.kind_bin) if self.kind_bin else None,
                "kind_bin_source": self.kind_bin_source, "node_image": self.node_image,
                "node_image_source": self.node_image_source, "asset_path": self.asset_source or "user",
                "kubernetes_version": self.kubernetes_version}


def choose_kind(options: KindOptions, mode: str, progress: Progress,
                ensure: Callable[..., Any] | None = None) -> tuple[KindOptions, KindChoice]:
    """Fill in the kind binary and node image the user did not give (see the module doc)."""
    bin_given = options.kind_bin is not None
    image_given = options.node_image_source != "default"
    if bin_given and image_given:
        choice = KindChoice(options.kind_bin, options.kind_bin_source, options.node_image,
                            options.node_image_source, None)
        return options, choice
    from ...assets import AssetError, ensure_kind

    build = ensure if ensure is not None else ensure_kind
    try:
        kit = build(mode=mode, progress=progress)
    except AssetError as exc:
        return _fallback(options, one_line(exc, 200), progress)
    label = f"asset set ({kit.source})"
    choice = KindChoice(options.kind_bin if bin_given else Path(kit.kind_bin),
                        options.kind_bin_source if bin_given else label,
                        options.node_image if image_given else kit.node_image,
                        options.node_image_source if image_given else label,
                        kit.source, getattr(kit, "kubernetes_version", None))
    updated = dataclasses.replace(options, kind_bin=choice.kind_bin, node_image=choice.node_image)
    return updated, choice


def _fallback(options: KindOptions, why: str, progress: Progress) -> tuple[KindOptions, KindChoice]:
    """No asset set: a kind found the old way and the pinned official node image."""
    path, source = (options.kind_bin, options.kind_bin_source) if options.kind_bin else resolve_kind_binary(options)
    if path is None:
        raise BackendError(f"no kind binary and no kind asset set ({why}); {BUILD_HINT}")
    image_given = options.node_image_source != "default"
    image = options.node_image if image_given else NODE_IMAGE
    progress(f"kind: no kind asset set ({why}); using kind from {source} and "
             f"{'the given' if image_given else 'the pinned'} node image {image}")
    choice = KindChoice(path, source, image, options.node_image_source if image_given else "pinned default",
                        None if image_given else "online")
    return dataclasses.replace(options, kind_bin=path, node_image=image), choice


@dataclass(frozen=True)
class ControllerAssets:
    """The subset of :class:`pytest_fluxchaos.assets.Assets` the kind backend uses."""

    irc_version: str
    flux_version: str | None
    irc_image: str
    registry_image: str
    manifests_dir: Path
    source: str
    git_image: str = ""  # the Git server runs as a plain container on the kind network
    proxy_image: str = ""  # so does the registry's fault proxy
    iac_version: str | None = None
    iac_image: str | None = None
    iac_manifests_dir: Path | None = None
    controllers: dict[str, Any] = dataclasses.field(default_factory=dict)

    def controller_set(self) -> Any:
        from ...assets import provenance

        return provenance.from_dict(self.controllers)


def controller_assets(flux_version: str, mode: str, progress: Progress) -> Any:
    """The controller image, registry image and manifests; online pulls nothing else.

    ``offline`` and a warm ``auto`` are :func:`~pytest_fluxchaos.assets.ensure_assets`
    (the built set). ``online``, and a cold ``auto`` where the official images are
    present or pullable, take the official controller and registry images and the
    release's manifests only.
    """
    from ...assets import AssetError, ensure_assets, resolve_irc_version, versions
    from ...assets.build import Builder, cache_lock, default_cache_dir

    try:
        if mode == "offline":
            return ensure_assets(flux_version, mode="offline", progress=progress)
        irc_version, flux = resolve_irc_version(flux_version)
        cache = default_cache_dir()
        builder = Builder(cache, progress)
        order = ("offline-build", "online") if mode == "auto" else ("online",)
        warm = builder.warm(irc_version, flux, order)
        if warm is not None:
            progress(f"[assets] ready: image-reflector-controller {irc_version} ({warm.source}, cached)")
            return warm
        irc, registry = versions.official_irc_image(irc_version), versions.OFFICIAL_REGISTRY_IMAGE
        iac_version = versions.pinned_iac(flux, irc_version)
        iac = versions.official_iac_image(iac_version) if iac_version else None
        with cache_lock(cache, progress):
            have = iac is not None and builder.official(irc) and builder.official(registry) \
                and builder.official(iac)
            if have:
                assert iac is not None and iac_version is not None
                manifests = builder.manifests(irc_version)
                iac_manifests = builder.iac_manifests(iac_version)
                git = builder.git_server()
                proxy = builder.fault_proxy()
                official = "official-image"
                ctrls = builder.controller_set(flux, (irc_version, irc, official), (iac_version, iac, official))
                progress(f"[assets] ready: {irc}, {iac} and {registry} (online; kind needs no etcd, "
                         "kube-apiserver or stress image)")
                return ControllerAssets(irc_version, flux, irc, registry, manifests, "online",
                                        git_image=git, proxy_image=proxy, iac_version=iac_version, iac_image=iac,
                                        iac_manifests_dir=iac_manifests, controllers=ctrls)
        if mode == "online":
            raise BackendError(f"online mode: {irc}, {iac} or {registry} is not available; "
                               "use --fluxchaos-assets=offline to build them")
        return ensure_assets(flux_version, mode="offline", progress=progress)
    except AssetError as exc:
        raise BackendError(str(exc)) from None
