"""etcd + kube-apiserver as containers on the run's private network, and a kubeconfig.

An envtest-style control plane: etcd on tmpfs without fsync (speed; nothing outlives
the run), kube-apiserver with RBAC, client-certificate admin and a service-account
issuer, published on 127.0.0.1 only. The kubeconfig goes into the run directory.
"""

from __future__ import annotations

import base64
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import tenacity
import yaml

from ...domain import BackendError, one_line
from .certs import SERVICE_CLUSTER_IP_RANGE, ControlPlanePKI
from .client import Containers
from .labels import LABEL_ROLE

APISERVER_PORT = 6443
PKI_MOUNT = "/etc/fluxchaos/pki"


class _NotReady(Exception):
    pass


class ControlPlane:
    """The run's etcd and kube-apiserver containers."""

    def __init__(self, containers: Containers, prefix: str, network: str, *, timeout: float) -> None:
        self.c = containers
        self.network = network
        self.etcd_name = f"{prefix}-etcd"
        self.apiserver_name = f"{prefix}-apiserver"
        self.timeout = timeout
        self.port: int | None = None
        self.pki: ControlPlanePKI | None = None

    def start(self, etcd_image: str, apiserver_image: str, run_dir: Path, requested_port: int | None) -> Path:
        """Start both and return the PKI directory (the apiserver is not yet waited for)."""
        self.pki = ControlPlanePKI.generate(self.apiserver_name)
        pki_dir = self.pki.write(run_dir / "pki")
        self._start_etcd(etcd_image)
        self._start_apiserver(apiserver_image, pki_dir, requested_port)
        return pki_dir

    def _start_etcd(self, image: str) -> None:
        args = ["--name=fluxchaos", "--data-dir=/var/lib/etcd/data",
                "--listen-client-urls=http://0.0.0.0:2379",
                f"--advertise-client-urls=http://{self.etcd_name}:2379",
                "--listen-peer-urls=http://127.0.0.1:2380",
                "--initial-advertise-peer-urls=http://127.0.0.1:2380",
                "--initial-cluster=fluxchaos=http://127.0.0.1:2380",
                "--unsafe-no-fsync=true", "--log-level=warn"]
        self.c.run(self.etcd_name, image, network=self.network, labels=self.c.label(**{LABEL_ROLE: "etcd"}),
                   tmpfs={"/var/lib/etcd": "rw,size=1g,mode=1777"},
                   **self.c.command_for(image, "etcd", args))

    def _start_apiserver(self, image: str, pki_dir: Path, requested_port: int | None) -> None:
        p = PKI_MOUNT
        args = [f"--etcd-servers=http://{self.etcd_name}:2379", "--bind-address=0.0.0.0",
                f"--secure-port={APISERVER_PORT}",
                f"--tls-cert-file={p}/apiserver.crt", f"--tls-private-key-file={p}/apiserver.key",
                f"--client-ca-file={p}/client-ca.crt",
                "--service-account-issuer=https://kubernetes.default.svc",
                f"--service-account-key-file={p}/sa.pub", f"--service-account-signing-key-file={p}/sa.key",
                f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                "--authorization-mode=RBAC", "--disable-admission-plugins=ServiceAccount",
                "--allow-privileged=true", "--enable-priority-and-fairness=false", "--profiling=false",
                "--cert-dir=/tmp/apiserver-certs", "--v=1"]
        aliases = [self.apiserver_name, "kubernetes", "kubernetes.default", "kubernetes.default.svc"]
        _, self.port = self.c.run_published(
            self.apiserver_name, image, APISERVER_PORT, requested_port, network=self.network,
            labels=self.c.label(**{LABEL_ROLE: "apiserver"}),
            volumes={str(pki_dir): {"bind": PKI_MOUNT, "mode": "ro"}},
            # More in-cluster names for the apiserver on the private network.
            networking_config={self.network: self.c.api.create_endpoint_config(aliases=aliases)},
            **self.c.command_for(image, "kube-apiserver", args))

    def wait_ready(self, pki_dir: Path) -> None:
        """GET /readyz (admin client cert) until 200; fail at once if a container exits."""
        ctx = ssl.create_default_context(cafile=str(pki_dir / "ca.crt"))
        ctx.load_cert_chain(str(pki_dir / "admin.crt"), str(pki_dir / "admin.key"))
        url = f"https://127.0.0.1:{self.port}/readyz"

        def probe() -> None:
            for name in (self.apiserver_name, self.etcd_name):
                state = self.c.state(name)
                if not state.get("Running"):  # fatal: not retried
                    raise BackendError(f"{name} exited with code {state.get('ExitCode')} before the apiserver "
                                       f"was ready; last log lines: {self.c.logs_tail(name)}")
            try:
                with urllib.request.urlopen(url, context=ctx, timeout=3) as resp:
                    if resp.status != 200:
                        raise _NotReady(f"HTTP {resp.status}")
            except urllib.error.HTTPError as exc:
                raise _NotReady(f"HTTP {exc.code}") from None
            except (OSError, ssl.SSLError) as exc:
                raise _NotReady(one_line(exc, 120)) from None

        try:
            tenacity.Retrying(stop=tenacity.stop_after_delay(self.timeout), wait=tenacity.wait_fixed(0.25),
                              retry=tenacity.retry_if_exception_type(_NotReady), reraise=True)(probe)
        except _NotReady as exc:
            raise BackendError(f"kube-apiserver not ready within {self.timeout:g}s ({exc}); "
                               f"last log lines: {self.c.logs_tail(self.apiserver_name)}") from None

    def write_kubeconfig(self, path: Path) -> None:
        assert self.pki is not None

        def b64(data: bytes) -> str:
            return base64.b64encode(data).decode()

        cfg: dict[str, Any] = {
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "fluxchaos", "cluster": {
                "server": f"https://127.0.0.1:{self.port}",
                "certificate-authority-data": b64(self.pki.ca.cert_pem)}}],
            "users": [{"name": "fluxchaos-admin", "user": {
                "client-certificate-data": b64(self.pki.admin.cert_pem),
                "client-key-data": b64(self.pki.admin.key_pem)}}],
            "contexts": [{"name": "fluxchaos", "context": {"cluster": "fluxchaos", "user": "fluxchaos-admin"}}],
            "current-context": "fluxchaos",
        }
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        path.chmod(0o600)
