"""Go programs from the module proxy: wrapper modules, go build, go mod tidy, binary hashes."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from . import tools
from .errors import AssetError
from .stamps import min_free_gib as _min_free_gib
from .stamps import now as _now
from .stamps import sha256_of as _sha256

if TYPE_CHECKING:
    from .build import Builder

def go_env(b: Builder) -> dict[str, str]:
    env = tools.go_env()
    if not b._go_checked:
        tools.require_go()
        b._go_checked = True
    return env

def check_disk(b: Builder, what: str) -> None:
    paths = [b.cache]
    env = tools.go_env()
    for var in ("GOMODCACHE", "GOCACHE"):
        if env.get(var):
            paths.append(Path(env[var]))
    paths += [Path.home() / "go", Path.home() / ".cache"]
    tools.check_free_space(paths, _min_free_gib(), what)

def module_info(b: Builder, path: str, version: str, log_key: str) -> dict:
    env = b.go_env()
    scratch = b.cache / "work" / "_download"
    scratch.mkdir(parents=True, exist_ok=True)
    return tools.go_mod_download(path, version, log=b.log(log_key), env=env, cwd=scratch)

def go_build(
    b: Builder,
    key: str,
    what: str,
    gomod_text: str,
    files: dict[str, str],
    packages: dict[str, str],
    *,
    ldflags: Sequence[str] = (),
    tags: str = "",
    inputs: dict,
) -> dict[str, Path]:
    """Build ``packages`` (binary name -> package path) in a wrapper module.

    Returns binary name -> path under ``<cache>/bin``.  Skips the build when
    a stamp for the same inputs exists and the binaries are still there.
    """
    bindir = b.cache / "bin"
    outs = {name: bindir / f"{name}-{inputs['version']}" for name in packages}
    st = b.read_stamp(key)
    if st and st.get("inputs") == inputs and all(p.exists() for p in outs.values()):
        return outs
    env = b.go_env()
    b.check_disk(what)
    log = b.log(key)
    wdir = b.cache / "work" / key
    shutil.rmtree(wdir, ignore_errors=True)
    wdir.mkdir(parents=True)
    (wdir / "go.mod").write_text(gomod_text)
    for name, text in files.items():
        (wdir / name).write_text(text)
    go = tools.require_go()
    t0 = time.monotonic()
    substitutions = b.tidy(wdir, what, log, env)
    t_tidy = time.monotonic() - t0
    sha = {}
    for name, pkg in packages.items():
        tmp = outs[name].with_name(outs[name].name + ".tmp")
        cmd = [go, "build", "-trimpath", "-o", str(tmp)]
        if tags:
            cmd.append(f"-tags={tags}")
        if ldflags:
            cmd.append("-ldflags=" + " ".join(ldflags))
        cmd.append(pkg)
        tools.run(cmd, what=f"{what}: go build {pkg}", log=log, cwd=wdir, env=env, timeout=7200, kind="go")
        tmp.replace(outs[name])
        sha[name] = _sha256(outs[name])
    b.write_stamp(key, {
        "inputs": inputs, "outputs": {n: str(p) for n, p in outs.items()}, "sha256": sha,
        "built_at": _now(), "seconds": round(time.monotonic() - t0, 1),
        "tidy_seconds": round(t_tidy, 1), "go": tools.go_version(env),
        "substitutions": substitutions,
    })
    return outs

def tidy(b: Builder, wdir: Path, what: str, log: Path, env: dict[str, str]) -> list[dict]:
    """``go mod tidy`` in a wrapper, substituting module versions the proxy refuses.

    The Go module proxy reachable from the project's machines serves only
    some versions of some modules.  When tidy fails because one exact
    dependency version is refused (403/404/410), the wrapper gets a
    ``replace`` to the nearest served version of that module (the lowest
    newer one, else the highest older one), the substitution is logged,
    recorded in the stamp and printed, and tidy is retried.  Set
    FLUXCHAOS_NO_SUBSTITUTE=1 to fail instead.
    """
    go = tools.require_go()
    subs: list[dict] = []
    left: dict[str, list[str]] = {}  # each substituted module's untried candidates
    for _ in range(25):
        try:
            tools.run([go, "mod", "tidy"], what=f"{what}: go mod tidy", log=log, cwd=wdir, env=env,
                      timeout=3600, kind="go")
            return subs
        except AssetError as exc:
            text = log.read_text(errors="replace").rsplit("\n$ ", 1)[-1]
            too_new = tools.needs_newer_go(text)
            if too_new and too_new[0] in left and left[too_new[0]] and \
                    not os.environ.get("FLUXCHAOS_NO_SUBSTITUTE"):
                # the substitute we picked needs a newer Go than this machine's: take the next
                mod_path, pick = too_new[0], left[too_new[0]].pop(0)
                sub = next(s for s in subs if s["module"] == mod_path)
                b.say(f"  {mod_path}@{too_new[1]} needs a newer Go; substituting {pick} instead")
                sub["used"] = pick
            else:
                refused = tools.refused_module(text)
                if not refused or os.environ.get("FLUXCHAOS_NO_SUBSTITUTE") or \
                        any(s["module"] == refused[0] for s in subs):
                    raise exc
                mod_path, wanted = refused
                served = tools.served_versions(mod_path, env=env, cwd=b.cache / "work" / "_download", log=log)
                picks = tools.substitutes(wanted, served)
                if not picks:
                    raise exc
                pick, left[mod_path] = picks[0], picks[1:]
                b.say(f"  {mod_path}@{wanted} is not served by the Go module proxy; "
                      f"substituting {pick} (served: {' '.join(served)})")
                subs.append({"module": mod_path, "wanted": wanted, "used": pick})
            tools.run([go, "mod", "edit", f"-replace={mod_path}={mod_path}@{pick}"],
                      what=f"{what}: go mod edit", log=log, cwd=wdir, env=env, timeout=60, kind="go")
    raise AssetError(f"{what}: too many module substitutions needed (full log: {log})")

def bin_sha(b: Builder, key: str, name: str) -> str:
    st = b.read_stamp(key) or {}
    return (st.get("sha256") or {}).get(name, "")
