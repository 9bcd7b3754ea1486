"""The registry's fault proxy image: Toxiproxy (TCP faults) in front of the registry liar
(HTTP lies, our own Go program in ``registry_liar/``), one container.

The liar has no dependency outside Go's standard library, so its build asks the module
proxy for nothing; it is built like the other Go programs (``CGO_ENABLED=0``,
``-trimpath``, a stamp under ``<cache>/stamps``, the binary under ``<cache>/bin``), keyed
by a hash of its sources, so an edit rebuilds it and nothing else does.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from . import program_images, versions

if TYPE_CHECKING:
    from .build import Builder

LIAR_DIR = Path(__file__).with_name("registry_liar")
LIAR_MODULE = "fluxchaos.local/registry-liar"
LIAR_KEY = "bin-registry-liar"

#: The container's entrypoint: both servers; the container ends when either ends, so the
#: backend's wait sees a stopped container rather than half a proxy.
ENTRYPOINT = """#!/bin/bash
# The registry's fault proxy: Toxiproxy (admin :8474, its proxy "registry" on :5000 is
# created through the admin API) forwards to the registry liar on 127.0.0.1:5001 (admin
# :8475), which forwards to $LIAR_UPSTREAM, the registry.
set -u
toxiproxy-server -host 0.0.0.0 -port 8474 &
registry-liar -listen 127.0.0.1:5001 -admin 0.0.0.0:8475 -upstream "${LIAR_UPSTREAM:?the registry URL}" &
trap 'kill $(jobs -p) 2>/dev/null' TERM INT
wait -n
status=$?
kill $(jobs -p) 2>/dev/null
exit $status
"""


def liar_sources() -> dict[str, str]:
    """The liar's go.mod and Go files (tests excluded), by name."""
    files = {p.name: p.read_text() for p in sorted(LIAR_DIR.glob("*.go")) if not p.name.endswith("_test.go")}
    files["go.mod"] = (LIAR_DIR / "go.mod").read_text()
    return files


def liar_version() -> str:
    digest = hashlib.sha256()
    for name, text in sorted(liar_sources().items()):
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    return f"src-{digest.hexdigest()[:12]}"


def liar_binary(b: Builder) -> Path:
    """``registry-liar`` built from the package's sources (cached while they are unchanged)."""
    files = liar_sources()
    gomod = files.pop("go.mod")
    inputs = {"module": LIAR_MODULE, "version": liar_version()}
    if not program_images.bin_current(b, LIAR_KEY, inputs, ["registry-liar"]):
        with b.step(f"building the registry liar {inputs['version']} ({LIAR_DIR.name}/, standard library only)"):
            b.go_build(LIAR_KEY, "building the registry liar", gomod, files, {"registry-liar": "."},
                       ldflags=["-s", "-w"], inputs=inputs)
    return b.cache / "bin" / f"registry-liar-{inputs['version']}"


def inputs(version: str = versions.TOXIPROXY_VERSION) -> dict[str, str]:
    """What the proxy image is made of, recorded with an asset set: a set whose proxy was
    made of something else is completed again rather than reused."""
    return {"toxiproxy": version, "liar": liar_version(), "entrypoint": hashlib.sha256(ENTRYPOINT.encode()).hexdigest()}


def registry_proxy(b: Builder, base_id: str, version: str = versions.TOXIPROXY_VERSION) -> str:
    """The image ``<prefix>/registry-proxy:<toxiproxy version>-liar-<liar version>``."""
    bins = {"toxiproxy-server": program_images.toxiproxy_binary(b, version), "registry-liar": liar_binary(b)}
    keys = {"toxiproxy-server": f"bin-toxiproxy-{version}", "registry-liar": LIAR_KEY}
    tail = ("COPY registry-proxy.sh /usr/local/bin/registry-proxy.sh\n"
            "USER 65534:65534\nEXPOSE 5000 8474 8475\n"
            'ENTRYPOINT ["bash", "/usr/local/bin/registry-proxy.sh"]\n')
    return program_images.program_image(b, "registry-proxy", f"{version}-liar-{liar_version()}", base_id, bins,
                                        keys, tail, {"registry-proxy.sh": ENTRYPOINT})
