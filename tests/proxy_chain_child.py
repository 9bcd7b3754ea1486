"""Run inside a private network namespace by tests/test_registry_proxy_chain.py: the proxy
image's entrypoint (``assets/registry_proxy.ENTRYPOINT``) as shipped, with its real
binaries, in front of a real registry, and what the chain does; one JSON line out.

    python proxy_chain_child.py <workdir> <registry> <toxiproxy-server> <registry-liar>
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from pytest_fluxchaos.assets.registry_proxy import ENTRYPOINT
from pytest_fluxchaos.domain import ProxyToxic, RegistryLie
from pytest_fluxchaos.registry import RegistryClient
from pytest_fluxchaos.registry_liar import RegistryLiarClient
from pytest_fluxchaos.toxiproxy import ToxiproxyClient, timed_get
from pytest_fluxchaos.waiting import wait_until

CONFIG = """version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: %s}, delete: {enabled: true}}
http: {addr: "127.0.0.1:5002", secret: chain}
"""


def alive(pid: str) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


def main(work: Path, registry: str, toxiproxy: str, liar: str) -> dict[str, object]:
    bindir = work / "bin"
    bindir.mkdir()
    for name, src in (("toxiproxy-server", toxiproxy), ("registry-liar", liar)):
        os.symlink(src, bindir / name)
    (work / "registry.yml").write_text(CONFIG % (work / "storage"))
    (work / "registry-proxy.sh").write_text(ENTRYPOINT)
    env = {**os.environ, "OTEL_TRACES_EXPORTER": "none"}
    procs = [subprocess.Popen([registry, "serve", str(work / "registry.yml")], env=env,
                              stdout=(work / "registry.log").open("wb"), stderr=subprocess.STDOUT),
             subprocess.Popen(["bash", str(work / "registry-proxy.sh")],
                              env={**env, "PATH": f"{bindir}:{env['PATH']}", "LIAR_UPSTREAM": "http://127.0.0.1:5002"},
                              stdout=(work / "proxy.log").open("wb"), stderr=subprocess.STDOUT)]
    out: dict[str, object] = {}
    try:
        tox, lies = ToxiproxyClient("http://127.0.0.1:8474"), RegistryLiarClient("http://127.0.0.1:8475")
        t0 = time.monotonic()
        wait_until(lambda: tox.answers() and lies.answers(), 15, what="both admin APIs", interval=0.05)
        out["admin_apis_s"] = round(time.monotonic() - t0, 3)
        out["upstream"] = tox.create_proxy("registry", "0.0.0.0:5000", "127.0.0.1:5001").upstream
        wait_until(lambda: requests.get("http://127.0.0.1:5002/v2/", timeout=2).ok, 15, what="the registry",
                   retry_on=(requests.RequestException,))
        direct, via = RegistryClient("http://127.0.0.1:5002"), RegistryClient("http://127.0.0.1:5000", page_size=2)
        for tag in ("1.0.0", "1.1.0", "1.2.0"):
            direct.push_tag("ns/app", tag)
        out["through"] = via.list_tags("ns/app")
        lies.set_lie(RegistryLie("t", "truncate", "ns/*", {"keep": 1}))
        out["through_truncated"], out["direct"] = via.list_tags("ns/app"), direct.list_tags("ns/app")
        out["lies_logged"] = [e.lied for e in lies.log(0, "t").entries]
        lies.clear_lie("t")
        out["probe_s"] = timed_get("http://127.0.0.1:5000/v2/")
        tox.add_toxic("registry", ProxyToxic("slow", "latency", attributes={"latency": 500, "jitter": 0}))
        out["probe_latency_s"] = timed_get("http://127.0.0.1:5000/v2/")
        children = subprocess.run(["pgrep", "-P", str(procs[1].pid)], capture_output=True, text=True).stdout.split()
        names = {pid: Path(f"/proc/{pid}/comm").read_text().strip() for pid in children}
        os.kill(int(next(pid for pid, name in names.items() if name == "registry-liar")), signal.SIGKILL)
        out["entrypoint_exit"] = procs[1].wait(timeout=10)
        others = [pid for pid, name in names.items() if name != "registry-liar"]
        out["toxiproxy_ended"] = wait_until(lambda: not any(alive(pid) for pid in others), 10,
                                            what="Toxiproxy to end with the entrypoint", interval=0.05)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=10)
    return out


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), *sys.argv[2:5])))
