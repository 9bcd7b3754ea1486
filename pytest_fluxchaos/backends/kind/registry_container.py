"""The registry of a kind cluster: start or reuse, wire, stop/start, remove.

The data (names, ``docker run`` arguments, containerd ``certs.d`` files, the KEP-1755
ConfigMap) is in :mod:`.registry`; this module runs it. Two containers: the *holder*
``<cluster>-registry`` owns the name, the IP on the nodes' network (where pods reach it
as ``<name>:5000``) and the port published on ``127.0.0.1:<free port>`` for the plugin;
the registry process runs in ``<name>-server``, in the holder's network namespace. An
outage stops only the server, so the name and the IP survive it (kind's network refuses
``--ip``; a restarted container could get another address, and CoreDNS caches answers
for 30 s). The heal waits until the registry answers from the host and from every node
through CoreDNS, as pods resolve it (:meth:`RegistryContainer.wait_in_cluster`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from ...domain import BackendError, RegistryEndpoint, WaitTimeout, one_line
from ...waiting import wait_until
from ..ports import free_port
from ..registry_wait import wait_registry
from . import commands as cmd
from .guard import container_is_ours
from .publish import run_publishing
from .registry import (REGISTRY_PORT, certs_d_entries, local_registry_hosting,
                       registry_name, run_holder_args, run_registry_args, server_name)

Progress = Callable[[str], None]
HOSTING = ("local-registry-hosting", "kube-public")


class RegistryContainer:
    """One cluster's registry container and what this session wrote for it."""

    def __init__(self, run: Callable[..., cmd.Result], cluster: str, wait_timeout: float = 30.0) -> None:
        self.run = run
        self.cluster = cluster
        self.name = registry_name(cluster)
        self.server = server_name(self.name)
        self.wait_timeout = wait_timeout
        self.port: int | None = None
        self.created = False  # started by this session (so an allowed foreign cluster loses it)
        self.wrote_hosting = False
        self.certs_written: list[str] = []

    @property
    def host_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def endpoint(self) -> RegistryEndpoint:
        return RegistryEndpoint(host_url=self.host_url, cluster_host=f"{self.name}:{REGISTRY_PORT}",
                                insecure=True)

    # -- start or reuse -----------------------------------------------------------------------

    def ensure(self, image: str | None, network: str, progress: Progress) -> None:
        """Reuse this cluster's registry container (started if stopped), else run a new one."""
        name = self.name
        if container_is_ours(self.run, name, self.cluster, "registry"):
            for container in (name, self.server):
                running = self.run(cmd.inspect_container(container, "{{.State.Running}}"), timeout=30,
                                   check=False)
                if running.stdout.strip() != "true":
                    self.run(cmd.docker_start(container), timeout=60, what=f"docker start {container}")
            self.port = self.published_port()
            self.run([cmd.DOCKER, "network", "connect", network, name], timeout=30, check=False)
            progress(f"kind: reusing registry {name} on 127.0.0.1:{self.port}")
        else:
            self.port = self._run_new(image, network)
            self.created = True
            progress(f"kind: registry {name} on 127.0.0.1:{self.port} and network {network}")
        self.wait()

    def _run_new(self, image: str | None, network: str) -> int:
        if not image:
            raise BackendError("no registry image: resolve the assets before provisioning")
        (port,) = run_publishing(self.run, self.name, "the registry", lambda: (free_port(),),
                                 lambda ports: [cmd.DOCKER, *run_holder_args(self.name, image, ports[0],
                                                                             self.cluster, network)])
        server = self.run([cmd.DOCKER, *run_registry_args(self.name, image, self.cluster, secrets.token_hex(16))],
                          timeout=120, check=False)
        if server.returncode == 0:
            return port
        self.remove()
        raise BackendError(f"cannot start the registry {self.server} ({image}): {one_line(server.stderr, 200)}")

    def upstream_url(self, network: str) -> str:
        """The registry by the holder's address on ``network`` (the holder is never stopped,
        so the address holds across outages), for the fault proxy: no DNS is needed, so it
        works on a network without Docker's resolver too."""
        ip = self.run(cmd.container_ip(self.name, network), timeout=30,
                      what=f"docker inspect {self.name}").stdout.strip()
        if not ip:
            raise BackendError(f"the registry {self.name} has no address on network {network}")
        return f"http://{ip}:{REGISTRY_PORT}"

    def published_port(self) -> int:
        out = self.run([cmd.DOCKER, "port", self.name, f"{REGISTRY_PORT}/tcp"], timeout=30,
                       what=f"docker port {self.name}").stdout
        for line in out.splitlines():
            _host, _, port = line.strip().rpartition(":")
            if port.isdigit():
                return int(port)
        raise BackendError(f"the registry {self.name} publishes no port for {REGISTRY_PORT}/tcp")

    def wait(self) -> None:
        """Until the registry answers ``GET /v2/`` from the host."""
        def logs() -> str:
            out = self.run([cmd.DOCKER, "logs", "--tail", "5", self.server], timeout=30, check=False)
            return one_line(out.stderr + out.stdout, 300)

        wait_registry(self.host_url, self.wait_timeout, logs=logs)

    # -- wiring into the nodes and the cluster ------------------------------------------------

    def wire(self, nodes: list[str], kube: Any, created_by_plugin: bool, progress: Progress) -> None:
        """containerd ``certs.d`` on every node, and the KEP-1755 ConfigMap (unless another
        tool's registry owns it on a foreign cluster)."""
        assert self.port is not None
        entries = certs_d_entries(self.name, self.port)
        for node in nodes:
            for path, content in entries.items():
                self.run(cmd.write_node_file(node, path), input=content, timeout=30,
                         what=f"write {path} on {node}")
        self.certs_written = sorted({p.rsplit("/", 1)[0] for p in entries})
        try:
            current = kube.core.read_namespaced_config_map(*HOSTING, _request_timeout=10)
            ours = self.name in (current.data or {}).get("localRegistryHosting.v1", "")
        except Exception:  # noqa: BLE001 - absent
            current, ours = None, True
        if current is None or ours or created_by_plugin:
            kube.apply_manifest(local_registry_hosting(self.name, self.port))
            self.wrote_hosting = True
        progress(f"kind: containerd on {', '.join(nodes)} pulls "
                 f"localhost:{self.port} and {self.name}:{REGISTRY_PORT} over HTTP")

    def unwire(self, nodes: list[str], kube: Any) -> None:
        """Remove what :meth:`wire` wrote (an allowed foreign cluster keeps running)."""
        for node in nodes:
            if self.certs_written:
                self.run(cmd.remove_node_paths(node, self.certs_written), timeout=30, check=False)
        if self.wrote_hosting and kube is not None:
            try:
                kube.core.delete_namespaced_config_map(*HOSTING)
            except Exception:  # noqa: BLE001
                pass

    # -- the outage primitives, and removal ---------------------------------------------------

    def stop(self) -> None:
        """The outage: the registry process stops; the holder keeps the name and the IP."""
        self.run(cmd.docker_stop(self.server), timeout=60, what=f"docker stop {self.server}")

    def start(self) -> None:
        self.run(cmd.docker_start(self.server), timeout=60, what=f"docker start {self.server}")
        self.wait()

    def wait_in_cluster(self, nodes: list[str], kube: Any, timeout: float = 60.0) -> None:
        """Until every node reaches ``<name>:5000/v2/`` resolving the name through CoreDNS
        (the kube-dns Service), as a pod does; a cached NXDOMAIN or a stale address would
        keep this waiting, not the controller's next scan failing."""
        dns = dns_service_ip(kube)
        url = f"http://{self.name}:{REGISTRY_PORT}/v2/"
        last: dict[str, str] = {}

        def answers() -> bool:
            for node in nodes:
                res = self.run(cmd.curl_via_dns(node, dns, url), timeout=15, check=False)
                if res.returncode != 0:
                    last["why"] = f"{node}: exit {res.returncode} {one_line(res.stderr or res.stdout, 160)}"
                    return False
            return True

        try:
            wait_until(answers, timeout, interval=0.5,
                       what=f"the registry {self.name}:{REGISTRY_PORT} to answer inside the cluster")
        except WaitTimeout as exc:
            raise BackendError(f"{exc} (last: {last.get('why', '?')})") from None

    def remove(self) -> None:
        for container in (self.server, self.name):
            try:
                self.run([cmd.DOCKER, "rm", "-f", "-v", container], timeout=60, check=False)
            except BaseException:  # noqa: BLE001 - teardown: best effort
                pass


def dns_service_ip(kube: Any) -> str:
    """The cluster DNS Service's ClusterIP (kube-system/kube-dns, CoreDNS in kind)."""
    try:
        svc = kube.core.read_namespaced_service("kube-dns", "kube-system", _request_timeout=10)
        return str(svc.spec.cluster_ip)
    except Exception as exc:  # noqa: BLE001
        raise BackendError(f"cannot read the cluster DNS Service kube-system/kube-dns: {one_line(exc, 160)}") from None
