"""Flux's manifests (CRDs, RBAC, Deployment) copied from the IRC module at build time."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from . import gomod, tools, versions
from .errors import AssetError
from .stamps import STAMP_SCHEMA, now as _now

if TYPE_CHECKING:
    from .build import Builder



def manifests(b: Builder, irc_version: str) -> Path:
    out = b.cache / "irc" / irc_version
    stamp = out / "manifest.json"
    try:
        st = json.loads(stamp.read_text())
        if st.get("schema") == STAMP_SCHEMA and all((out / f).exists() for f in st.get("files", [])) \
                and any(f.startswith("crds/") for f in st.get("files", [])):
            return out
    except (OSError, json.JSONDecodeError):
        pass
    with b.step(f"collecting Flux manifests for image-reflector-controller {irc_version}"):
        key = f"manifests-{irc_version}"
        tmp = out.with_name(out.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        (tmp / "crds").mkdir(parents=True)
        (tmp / "rbac").mkdir()
        files: list[str] = []
        method = "module"
        try:
            info = b.module_info(versions.IRC_MODULE, irc_version, key)
        except AssetError as exc:
            info = None
            module_error = str(exc)
        if info:
            src = Path(info["Dir"])
            for p in sorted((src / "config" / "crd" / "bases").glob("*.yaml")):
                shutil.copyfile(p, tmp / "crds" / p.name)
                files.append(f"crds/{p.name}")
            for p in sorted((src / "config" / "rbac").glob("*.yaml")):
                if p.name != "kustomization.yaml":
                    shutil.copyfile(p, tmp / "rbac" / p.name)
                    files.append(f"rbac/{p.name}")
            dep = src / "config" / "manager" / "deployment.yaml"
            if dep.exists():
                shutil.copyfile(dep, tmp / "deployment.yaml")
                files.append("deployment.yaml")
        if not any(f.startswith("crds/") for f in files):
            method = "controller-gen"
            if info is None:
                b.say(f"  controller module not available ({module_error}); generating CRDs from its api module")
            files += generate_crds(b, irc_version, tmp / "crds")
        borrowed: dict[str, str] = {}
        if not any(f.startswith("rbac/") for f in files) or "deployment.yaml" not in files:
            # RBAC and the Deployment are not generated from the api module;
            # take them from the nearest version whose module is served (the
            # controller's RBAC needs and Deployment args did not change
            # between v0.32 and v1.2).
            donor = versions.OFFLINE_BUILDABLE_IRC[-1]
            dsrc = Path(b.module_info(versions.IRC_MODULE, donor, key)["Dir"]) / "config"
            if not any(f.startswith("rbac/") for f in files):
                for p in sorted((dsrc / "rbac").glob("*.yaml")):
                    if p.name != "kustomization.yaml":
                        shutil.copyfile(p, tmp / "rbac" / p.name)
                        files.append(f"rbac/{p.name}")
                borrowed["rbac"] = donor
            if "deployment.yaml" not in files and (dsrc / "manager" / "deployment.yaml").exists():
                shutil.copyfile(dsrc / "manager" / "deployment.yaml", tmp / "deployment.yaml")
                files.append("deployment.yaml")
                borrowed["deployment.yaml"] = donor
            b.say(f"  RBAC/Deployment for {irc_version} borrowed from {donor}: {', '.join(borrowed)}")
        os.chmod(tmp, 0o755)
        for f in files:
            os.chmod(tmp / f, 0o644)
        (tmp / "manifest.json").write_text(json.dumps({
            "schema": STAMP_SCHEMA, "irc_version": irc_version, "method": method,
            "files": files, "borrowed": borrowed, "created_at": _now(),
        }, indent=2) + "\n")
        shutil.rmtree(out, ignore_errors=True)
        tmp.replace(out)
    return out

def generate_crds(b: Builder, irc_version: str, dest: Path) -> list[str]:
    """controller-gen the CRDs from the IRC api module (for versions whose module lacks them)."""
    env = b.go_env()
    go = tools.require_go()
    key = f"crdgen-{irc_version}"
    log = b.log(key)
    ct_ver = versions.CONTROLLER_TOOLS_VERSION
    gobin = b.cache / "work" / f"controller-tools-{ct_ver}"
    cg = gobin / "controller-gen"
    if not cg.exists():
        tools.run([go, "install", f"{versions.CONTROLLER_TOOLS_MODULE}/cmd/controller-gen@{ct_ver}"],
                  what=f"building controller-gen {ct_ver}", log=log, env={**env, "GOBIN": str(gobin)},
                  timeout=3600, kind="go")
    api = versions.IRC_API_MODULE
    info = b.module_info(api, irc_version, key)
    gm = Path(info["GoMod"]).read_text()
    up = gomod.parse_gomod(gm)
    pkgs = sorted({
        api + ("/" + str(p.parent.relative_to(info["Dir"])) if str(p.parent.relative_to(info["Dir"])) != "." else "")
        for p in Path(info["Dir"]).rglob("*types.go")
    })
    wdir = b.cache / "work" / key
    shutil.rmtree(wdir, ignore_errors=True)
    wdir.mkdir(parents=True)
    (wdir / "go.mod").write_text(gomod.render_wrapper_gomod(
        "fluxchaos.local/build/crdgen", up.go or "1.22", {api: irc_version}, gomod.carried_replaces(gm)))
    (wdir / "tools.go").write_text(gomod.render_tools_go(pkgs))
    tools.run([go, "mod", "tidy"], what="controller-gen wrapper: go mod tidy", log=log, cwd=wdir, env=env,
              timeout=1800, kind="go")
    tools.run([str(cg), "crd", *[f"paths={p}" for p in pkgs], f"output:crd:dir={dest}"],
              what=f"controller-gen CRDs for {api}@{irc_version}", log=log, cwd=wdir, env=env,
              timeout=1800, kind="go")
    files = [f"crds/{p.name}" for p in sorted(dest.glob("*.yaml"))]
    if not files:
        raise AssetError(f"controller-gen produced no CRDs for {api}@{irc_version} (full log: {log})")
    return files

