"""The Debian layers every image builds on: debootstrap, a CA-certificates base, the stress helper."""

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
        tools.run([deb, "--variant=minbase", suite, str(root), versions.DEBIAN_MIRROR],
                  what=f"debootstrap {suite}", log=log, timeout=3600)
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
        tar = subprocess.Popen(["tar", "--numeric-owner", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        try:
            imp = subprocess.run(
                [docker, "import",
                 "--change", f'LABEL {LABEL}="true" io.fluxchaos.name="debian" io.fluxchaos.version="{suite}"',
                 "--change", 'CMD ["/bin/bash"]', "-", b.DEBIAN_TAG],
                stdin=tar.stdout, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=tools.docker_env(),
            )
        finally:
            tar.stdout.close()  # type: ignore[union-attr]
            tar.wait()
        out = imp.stdout.decode("utf-8", "replace")
        with log.open("a") as fh:
            fh.write(f"\n$ tar -c {root} | docker import - {b.DEBIAN_TAG}\n{out}\n")
        if imp.returncode != 0 or tar.returncode != 0:
            raise tools.classify_docker_failure("docker import of the Debian rootfs", out, log)
        subprocess.run(["rm", "-rf", "--one-file-system", str(root)], check=False)
        image_id = tools.image_ids([b.DEBIAN_TAG]).get(b.DEBIAN_TAG)
        if not image_id:
            raise AssetError(f"docker import finished but {b.DEBIAN_TAG} is missing (full log: {log})")
        b.record_image(key, b.DEBIAN_TAG, image_id, inputs, time.monotonic() - t0, "offline-build")
    return image_id

def base(b: Builder, debian_id: str) -> str:
    key = f"base-{versions.DEBIAN_SUITE}"
    inputs = {"from": debian_id, "packages": ["ca-certificates"]}
    if b.current_image(key, b.BASE_TAG, inputs):
        return b.current_image(key, b.BASE_TAG, inputs)  # type: ignore[return-value]
    df = (
        f"FROM {b.DEBIAN_TAG}\n"
        "RUN apt-get update \\\n"
        " && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates \\\n"
        " && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb\n"
        + b.labels("base", versions.DEBIAN_SUITE)
    )
    with b.step(f"building {b.BASE_TAG} (+ca-certificates)"):
        return b.build_image(key, b.BASE_TAG, df, {}, inputs, f"building {b.BASE_TAG}")

def stress(b: Builder, debian_id: str) -> str:
    key = f"stress-{versions.DEBIAN_SUITE}"
    pkgs = ["stress-ng", "util-linux", "procps"]
    inputs = {"from": debian_id, "packages": pkgs}
    if b.current_image(key, b.STRESS_TAG, inputs):
        return b.STRESS_TAG
    df = (
        f"FROM {b.DEBIAN_TAG}\n"
        "RUN apt-get update \\\n"
        f" && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {' '.join(pkgs)} \\\n"
        " && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb\n"
        'CMD ["stress-ng", "--version"]\n'
        + b.labels("stress", versions.DEBIAN_SUITE)
    )
    with b.step(f"building {b.STRESS_TAG} (stress-ng, util-linux, procps)"):
        b.build_image(key, b.STRESS_TAG, df, {}, inputs, f"building {b.STRESS_TAG}")
    return b.STRESS_TAG
