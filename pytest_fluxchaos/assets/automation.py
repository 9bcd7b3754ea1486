"""image-automation-controller (IAC): its program image and manifests, built like IRC's.

IAC writes the tag IRC resolved to Git, so a rolled-back policy only hurts
once IAC runs next to IRC.  Its module is built offline in a wrapper module;
its CRDs, RBAC and Deployment are copied from that module, and the
GitRepository CRD it watches from a served source-controller module
(source-controller itself need not run).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import gomod, provenance, tools, versions
from .errors import AssetError
from .program_images import bin_current, program_image
from .stamps import STAMP_SCHEMA, now as _now

if TYPE_CHECKING:
    from .build import Builder

NAME = "image-automation-controller"


def iac(b: Builder, base_id: str, version: str) -> str:
    """The ``<prefix>/image-automation-controller:<version>`` image, built from the module proxy."""
    mod, api = versions.IAC_MODULE, versions.IAC_API_MODULE
    key = f"bin-{NAME}-{version}"
    inputs = {"module": mod, "version": version}
    if not bin_current(b, key, inputs, [NAME]):
        with b.step(f"building {NAME} {version} ({mod})"):
            try:
                info = b.module_info(mod, version, key)
            except AssetError as exc:
                if "does not serve" not in str(exc):
                    raise
                raise AssetError(
                    f"{NAME} {version} cannot be built offline: the Go module proxy does not serve "
                    f"{mod}@{version}; offline-buildable here: {', '.join(versions.OFFLINE_BUILDABLE_IAC)}; "
                    f"use --mode online ({versions.official_iac_image(version)}) (full log: {b.log(key)})"
                ) from None
            gm = Path(info["GoMod"]).read_text()
            up = gomod.parse_gomod(gm)
            text = gomod.render_wrapper_gomod(
                f"fluxchaos.local/build/{NAME}", up.go or "1.22", {mod: version, api: version},
                gomod.carried_replaces(gm), up.godebug)
            b.go_build(key, f"building {NAME} {version}", text, {"tools.go": gomod.render_tools_go([mod])},
                       {NAME: mod}, inputs=inputs)
    bins = {NAME: b.cache / "bin" / f"{NAME}-{version}"}
    tail = f'USER 65534:65534\nENTRYPOINT ["{NAME}"]\n'
    return program_image(b, NAME, version, base_id, bins, key, tail)


def substitutions(b: Builder, name: str, version: str) -> list[dict]:
    """The module substitutions recorded when ``name`` was built offline (empty if none / not built)."""
    st = b.read_stamp(f"bin-{name}-{version}") or {}
    return list(st.get("substitutions") or [])


def manifests(b: Builder, version: str, source_version: str = versions.SOURCE_CONTROLLER_VERSION) -> Path:
    """``<cache>/iac/<version>/``: crds/ (IAC's and GitRepository), rbac/, deployment.yaml, manifest.json."""
    out = b.cache / "iac" / version
    try:
        st = json.loads((out / "manifest.json").read_text())
        if st.get("schema") == STAMP_SCHEMA and st.get("source_controller") == source_version \
                and all((out / f).exists() for f in st.get("files", [])):
            return out
    except (OSError, json.JSONDecodeError):
        pass
    with b.step(f"collecting manifests for {NAME} {version} (+ GitRepository CRD from "
                f"source-controller {source_version})"):
        key = f"manifests-{NAME}-{version}"
        tmp = out.with_name(out.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        (tmp / "crds").mkdir(parents=True)
        (tmp / "rbac").mkdir()
        files: list[str] = []
        src = Path(b.module_info(versions.IAC_MODULE, version, key)["Dir"]) / "config"
        for p in sorted((src / "crd" / "bases").glob("*.yaml")):
            shutil.copyfile(p, tmp / "crds" / p.name)
            files.append(f"crds/{p.name}")
        for p in sorted((src / "rbac").glob("*.yaml")):
            if p.name != "kustomization.yaml":
                shutil.copyfile(p, tmp / "rbac" / p.name)
                files.append(f"rbac/{p.name}")
        shutil.copyfile(src / "manager" / "deployment.yaml", tmp / "deployment.yaml")
        files.append("deployment.yaml")
        sc = Path(b.module_info(versions.SOURCE_CONTROLLER_MODULE, source_version, key)["Dir"])
        git_crd = sc / "config" / "crd" / "bases" / "source.toolkit.fluxcd.io_gitrepositories.yaml"
        if not git_crd.exists():
            raise AssetError(f"source-controller {source_version} has no GitRepository CRD at {git_crd}")
        shutil.copyfile(git_crd, tmp / "crds" / git_crd.name)
        files.append(f"crds/{git_crd.name}")
        if not any(f.startswith("crds/image.toolkit") for f in files):
            raise AssetError(f"{NAME} {version}: no CRDs under config/crd/bases of its module")
        os.chmod(tmp, 0o755)
        for f in files:
            os.chmod(tmp / f, 0o644)
        (tmp / "manifest.json").write_text(json.dumps({
            "schema": STAMP_SCHEMA, "iac_version": version, "source_controller": source_version,
            "method": "module", "files": files, "created_at": _now(),
        }, indent=2) + "\n")
        shutil.rmtree(out, ignore_errors=True)
        tmp.replace(out)
    return out


def controller_set(b: Builder, flux_version: str | None, irc: tuple[str, str, str],
                   iac: tuple[str, str, str]) -> dict[str, Any]:
    """Provenance of the (version, image, source) of IRC and IAC, as stored in the set."""
    pinned_irc = versions.FLUX_TO_IRC.get(flux_version or "")
    pinned_iac = versions.FLUX_TO_IAC.get(flux_version or "")
    ctrls = []
    for name, (ver, image, source), pinned in ((provenance.IRC, irc, pinned_irc),
                                               (provenance.IAC, iac, pinned_iac)):
        subs = substitutions(b, name, ver) if source == provenance.OFFLINE_BUILD else []
        ctrls.append(provenance.Controller(name, ver, image, source, pinned, tuple(subs)))
    cs = provenance.ControllerSet(flux_version, tuple(ctrls))
    for c in cs.controllers:
        for sub in c.substitutions:
            b.say(f"  {c.name} {c.version}: module substitution {sub['module']} "
                     f"{sub['wanted']} -> {sub['used']}")
    if cs.mixed:
        b.say(f"  {cs.summary()}")
    return cs.as_dict()


def offline_iac(b: Builder, base_id: str, irc_version: str, flux_version: str | None) -> tuple[str, str, str]:
    """(version, image, source) of IAC on the offline path: the pinned version when the
    proxy serves it or its official image is loaded, else the newest served version."""
    pinned = versions.pinned_iac(flux_version, irc_version)
    if pinned and pinned not in versions.OFFLINE_BUILDABLE_IAC and not os.environ.get("FLUXCHAOS_IAC_VERSION") \
            and tools.image_exists(versions.official_iac_image(pinned)):
        b.say(f"  using the local official image {versions.official_iac_image(pinned)}")
        return pinned, versions.official_iac_image(pinned), provenance.OFFICIAL_IMAGE
    version = versions.offline_iac(pinned)
    if pinned and version != pinned:
        b.say(f"  image-automation-controller {pinned} (pinned by Flux {flux_version or '?'}) is not "
                 f"served by the Go module proxy; building {version} instead")
    return version, iac(b, base_id, version), provenance.OFFLINE_BUILD
