"""A real ``registry`` (distribution v3.1.2) and the registry liar as host processes on
127.0.0.1, for tests that need no Docker: the liar is built by the asset step itself
(``assets/registry_proxy.liar_binary``, under the asset cache); the registry binary is
``$FLUXCHAOS_REGISTRY_BIN`` or the asset step's (built from the module proxy if missing).
A failed build raises: the test fails, it is never skipped."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import requests

from pytest_fluxchaos.assets import program_images, registry_proxy, versions
from pytest_fluxchaos.assets.build import Builder, default_cache_dir
from pytest_fluxchaos.backends.ports import free_port
from pytest_fluxchaos.domain import BackendError
from pytest_fluxchaos.waiting import wait_until

REGISTRY_CONFIG = """version: 0.1
log: {{level: warn}}
storage:
  filesystem: {{rootdirectory: {root}}}
  delete: {{enabled: true}}
http: {{addr: "127.0.0.1:{port}", secret: fluxchaos-liar-test}}
"""


def binaries() -> tuple[Path, Path]:
    """(registry, registry-liar), building what is missing into the asset cache."""
    b = Builder(default_cache_dir(), progress=print)
    given = os.environ.get("FLUXCHAOS_REGISTRY_BIN")
    registry = Path(given) if given else program_images.registry_binary(b)
    return registry, registry_proxy.liar_binary(b)


@dataclass
class HostStack:
    workdir: Path
    registry_bin: Path
    liar_bin: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    registry_url: str = ""
    liar_url: str = ""
    admin_url: str = ""

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        out = (self.workdir / f"{name}.out").open("wb")
        err = (self.workdir / f"{name}.err").open("wb")
        env = {**os.environ, "OTEL_TRACES_EXPORTER": "none"}  # distribution v3 exports traces otherwise
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
        self.procs[name] = proc
        return proc

    def _alive(self, name: str) -> None:
        code = self.procs[name].poll()
        if code is not None:
            tail = (self.workdir / f"{name}.err").read_text(errors="replace")[-800:]
            raise BackendError(f"{name} exited with {code}: {tail}")

    def start_registry(self, port: int | None = None) -> None:
        """Start (or, on its old ``port``, restart) the registry; its storage stays."""
        version = subprocess.run([str(self.registry_bin), "--version"], capture_output=True, text=True, timeout=30)
        assert versions.REGISTRY_VERSION in version.stdout, version.stdout
        port = port or free_port()
        config = self.workdir / "registry.yml"
        config.write_text(REGISTRY_CONFIG.format(root=self.workdir / "storage", port=port))
        self._spawn("registry", [str(self.registry_bin), "serve", str(config)])
        self.registry_url = f"http://127.0.0.1:{port}"

        def answers() -> bool:
            self._alive("registry")
            return requests.get(f"{self.registry_url}/v2/", timeout=2).status_code == 200

        wait_until(answers, 30, what="the host registry to answer", interval=0.1,
                   retry_on=(requests.RequestException,))

    def start_liar(self, listen: str = "127.0.0.1:0", admin: str = "127.0.0.1:0") -> str:
        """Start (or restart) the liar; returns its boot id from its ready line."""
        out = self.workdir / "liar.out"
        out.write_bytes(b"")
        self._spawn("liar", [str(self.liar_bin), "-listen", listen, "-admin", admin, "-upstream", self.registry_url])

        def ready() -> dict[str, str] | None:
            self._alive("liar")
            line = out.read_text()
            return json.loads(line) if line.endswith("\n") else None

        info = wait_until(ready, 15, what="the registry liar's ready line", interval=0.05, retry_on=())
        self.liar_url, self.admin_url = f"http://{info['listen']}", f"http://{info['admin']}"
        return info["boot"]

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def close(self) -> None:
        for name in list(self.procs):
            self.stop(name)
