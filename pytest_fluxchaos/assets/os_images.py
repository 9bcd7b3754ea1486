"""The Debian layers every image builds on: debootstrap, a CA-certificates base, the stress helper.

Every package is installed by debootstrap on the host (`--include`), never by `apt-get` in a
RUN step: a Docker daemon without a default bridge network cannot reach a mirror from a
build container, and builds must not depend on it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from typing import TYPE_CHECKING

from . import tools, versions
from .errors import AssetError
from .stamps import LABEL

if TYPE_CHECKING:
    from .build import Builder

def debian(b: Builder, online: bool = False) -> str:
    suite = versions.DEBIAN_SUITE
    key = f"debian-{suite}"
    if online:
        inputs = {"suite": suite, "method": f"official debian:{suite}"}
        cur = b.current_image(key, b.DEBIAN_TAG, inputs)
        if cur:
            return cur
        with b.step(f"tagging official debian:{suite} as {b.DEBIAN_TAG}"):
            if not b.official(f"debian:{suite}"):
                raise AssetError(f"online mode: debian:{suite} is neither present nor pullable; use --mode offline")
            return b.build_image(key, b.DEBIAN_TAG, f"FROM debian:{suite}\n" + b.labels("debian", suite, "online"),
                                    {}, inputs, f"tagging debian:{suite}", "online")
    inputs = {"suite": suite, "method": "debootstrap --variant=minbase", "mirror": versions.DEBIAN_MIRROR}
    cur = b.current_image(key, b.DEBIAN_TAG, inputs)
    if cur:
        return cur
    with b.step(f"building {b.DEBIAN_TAG} (debootstrap {suite})"):
        return rootfs_image(b, key, b.DEBIAN_TAG, inputs, [], {}, [
            f'LABEL {LABEL}="true" io.fluxchaos.name="debian" io.fluxchaos.version="{suite}"',
            'CMD ["/bin/bash"]'])


def rootfs_image(b: Builder, key: str, tag: str, inputs: dict, include: list[str], files: dict[str, str],
                 changes: list[str], owners: dict[str, int] | None = None) -> str:
    """debootstrap (with ``include`` packages) + ``files`` + ``docker import``.

    Packages are installed on the host, never by a RUN inside a container: Docker daemons
    without a bridge network (or any network) can build every image. ``owners`` chowns
    rootfs paths to a uid (= gid) before the import.
    """
    suite = versions.DEBIAN_SUITE
    if os.geteuid() != 0:
        raise AssetError("debootstrap needs root: run the asset build as root (CI and the dev machines are root)")
    deb = shutil.which("debootstrap")
    if not deb:
        raise AssetError("debootstrap not found: `apt-get install debootstrap` (scripts/ensure-docker.sh installs it)")
    docker = tools.require_docker()
    b.check_disk("debootstrap")
    t0 = time.monotonic()
    log = b.log(key)
    root = b.cache / "work" / key / "rootfs"
    if root.exists():
        subprocess.run(["rm", "-rf", "--one-file-system", str(root)], check=False)
    root.parent.mkdir(parents=True, exist_ok=True)
    debs = b.cache / "debs"  # downloaded once for every image built this way
    debs.mkdir(parents=True, exist_ok=True)
    args = [deb, "--variant=minbase", f"--cache-dir={debs}"]
    if include:
        args.append("--include=" + ",".join(include))
    tools.run([*args, suite, str(root), versions.DEBIAN_MIRROR],
              what=f"debootstrap {suite} {' '.join(include)}".strip(), log=log, timeout=3600)
    mirror = versions.DEBIAN_MIRROR.rstrip("/")
    security = mirror.rsplit("/", 1)[0] + "/debian-security" if mirror.endswith("/debian") else None
    lines = [f"deb {mirror} {suite} main", f"deb {mirror} {suite}-updates main"]
    if security:
        lines.append(f"deb {security} {suite}-security main")
    (root / "etc/apt/sources.list").write_text("\n".join(lines) + "\n")
    for p in (root / "var/cache/apt/archives").glob("*.deb"):
        p.unlink()
    shutil.rmtree(root / "var/lib/apt/lists", ignore_errors=True)
    (root / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        dest = root / rel.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(content)
    for rel, uid in (owners or {}).items():
        dest = root / rel.lstrip("/")
        dest.mkdir(parents=True, exist_ok=True)
        os.chown(dest, uid, uid)
    cmd = [docker, "import"]
    for change in changes:
        cmd += ["--change", change]
    tar = subprocess.Popen(["tar", "--numeric-owner", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
    try:
        imp = subprocess.run([*cmd, "-", tag], stdin=tar.stdout, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, env=tools.docker_env())
    finally:
        tar.stdout.close()  # type: ignore[union-attr]
        tar.wait()
    out = imp.stdout.decode("utf-8", "replace")
    with log.open("a") as fh:
        fh.write(f"\n$ tar -c {root} | docker import - {tag}\n{out}\n")
    if imp.returncode != 0 or tar.returncode != 0:
        raise tools.classify_docker_failure(f"docker import of the rootfs of {tag}", out, log)
    subprocess.run(["rm", "-rf", "--one-file-system", str(root)], check=False)
    image_id = tools.image_ids([tag]).get(tag)
    if not image_id:
        raise AssetError(f"docker import finished but {tag} is missing (full log: {log})")
    b.record_image(key, tag, image_id, inputs, time.monotonic() - t0, "offline-build")
    return image_id

def base(b: Builder, debian_id: str) -> str:
    """Debian + ca-certificates, installed by debootstrap (no network inside a container).

    ``debian_id`` is kept for the callers; the base no longer derives from that image."""
    key = f"base-{versions.DEBIAN_SUITE}"
    pkgs = ["ca-certificates"]
    inputs = {"suite": versions.DEBIAN_SUITE, "method": "debootstrap --variant=minbase --include",
              "mirror": versions.DEBIAN_MIRROR, "packages": pkgs}
    cur = b.current_image(key, b.BASE_TAG, inputs)
    if cur:
        return cur
    with b.step(f"building {b.BASE_TAG} (debootstrap +ca-certificates)"):
        return rootfs_image(b, key, b.BASE_TAG, inputs, pkgs, {}, [
            _label_change("base", versions.DEBIAN_SUITE), 'CMD ["/bin/bash"]'])


def stress(b: Builder, debian_id: str) -> str:
    key = f"stress-{versions.DEBIAN_SUITE}"
    pkgs = ["stress-ng", "util-linux", "procps"]
    inputs = {"suite": versions.DEBIAN_SUITE, "method": "debootstrap --variant=minbase --include",
              "mirror": versions.DEBIAN_MIRROR, "packages": pkgs}
    if b.current_image(key, b.STRESS_TAG, inputs):
        return b.STRESS_TAG
    with b.step(f"building {b.STRESS_TAG} (debootstrap +stress-ng, util-linux, procps)"):
        rootfs_image(b, key, b.STRESS_TAG, inputs, pkgs, {}, [
            _label_change("stress", versions.DEBIAN_SUITE), 'CMD ["stress-ng", "--version"]'])
    return b.STRESS_TAG


def _label_change(name: str, version: str) -> str:
    return (f'LABEL {LABEL}="true" io.fluxchaos.name="{name}" io.fluxchaos.version="{version}" '
            'io.fluxchaos.source="offline-build"')
