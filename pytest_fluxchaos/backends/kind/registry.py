"""kind's documented local-registry pattern, as data (kind.sigs.k8s.io/docs/user/local-registry).

* a registry container, published on ``127.0.0.1:<port>`` for the plugin, joined to
  the ``kind`` Docker network so nodes and pods reach it as ``<name>:5000`` (pods
  resolve container names through CoreDNS -> the node's resolver -> Docker's DNS);
* containerd on every node reads ``/etc/containerd/certs.d`` (``config_path``, set by
  ``kind-config.yaml``'s ``containerdConfigPatches``); one ``hosts.toml`` per name the
  registry is known by, pointing at ``http://<name>:5000`` (plain HTTP, so images can
  be pulled from it without TLS);
* the ``local-registry-hosting`` ConfigMap in ``kube-public`` (KEP-1755) tells tools
  where to push.

The image-reflector-controller does not go through containerd: it scans
``<name>:5000`` itself, so ImageRepositories set ``spec.insecure: true``.
"""

from __future__ import annotations

from typing import Any

REGISTRY_PORT = 5000
CERTS_DIR = "/etc/containerd/certs.d"
KIND_NETWORK = "kind"
LABEL_MANAGED = "io.fluxchaos.managed"
LABEL_CLUSTER = "io.fluxchaos.kind-cluster"
LABEL_ROLE = "io.fluxchaos.role"

CONTAINERD_PATCH = (
    '[plugins."io.containerd.grpc.v1.cri".registry]\n'
    f'  config_path = "{CERTS_DIR}"'
)


def registry_name(cluster: str) -> str:
    """The registry container of a cluster (one per cluster, so clusters never share tags)."""
    return f"{cluster}-registry"


def hosts_toml(endpoint: str) -> str:
    """containerd's hosts.toml sending pulls for one registry name to ``endpoint``."""
    return (f'server = "{endpoint}"\n\n'
            f'[host."{endpoint}"]\n'
            '  capabilities = ["pull", "resolve"]\n')


def certs_d_entries(name: str, host_port: int) -> dict[str, str]:
    """``/etc/containerd/certs.d/<host>/hosts.toml`` files for every name of the registry.

    ``localhost:<port>`` is what a developer pushes to on the host; ``<name>:5000`` is
    what pods and ImageRepositories use. Both go to the container on the kind network.
    """
    endpoint = f"http://{name}:{REGISTRY_PORT}"
    return {
        f"{CERTS_DIR}/localhost:{host_port}/hosts.toml": hosts_toml(endpoint),
        f"{CERTS_DIR}/{name}:{REGISTRY_PORT}/hosts.toml": hosts_toml(endpoint),
    }


def local_registry_hosting(name: str, host_port: int) -> dict[str, Any]:
    """The KEP-1755 ConfigMap, as kind's local-registry script writes it."""
    value = (f'host: "localhost:{host_port}"\n'
             f'hostFromContainerRuntime: "{name}:{REGISTRY_PORT}"\n'
             f'hostFromClusterNetwork: "{name}:{REGISTRY_PORT}"\n'
             'help: "https://kind.sigs.k8s.io/docs/user/local-registry/"\n')
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "local-registry-hosting", "namespace": "kube-public"},
        "data": {"localRegistryHosting.v1": value},
    }


def registry_environment(secret: str) -> dict[str, str]:
    """Same settings as the docker backend's registry (deletes on, plain HTTP on :5000)."""
    return {
        "REGISTRY_HTTP_ADDR": f"0.0.0.0:{REGISTRY_PORT}",
        "REGISTRY_STORAGE_DELETE_ENABLED": "true",
        "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": "/var/lib/registry",
        "REGISTRY_LOG_LEVEL": "warn",
        "REGISTRY_HTTP_SECRET": secret,
        "OTEL_TRACES_EXPORTER": "none",
    }


def server_name(name: str) -> str:
    """The container running the registry process inside the holder's network namespace."""
    return f"{name}-server"


def _labels(cluster: str, role: str) -> list[str]:
    return ["--label", f"{LABEL_MANAGED}=true", "--label", f"{LABEL_CLUSTER}={cluster}",
            "--label", f"{LABEL_ROLE}={role}"]


def run_holder_args(name: str, image: str, host_port: int, cluster: str,
                    network: str = KIND_NETWORK) -> list[str]:
    """``docker run`` arguments of the registry's *holder*: the container that owns the
    name, the IP on the kind network and the published port, like a pod's sandbox.

    kind's network has no user-configured IPv4 subnet, so ``--ip`` is refused and a
    stopped container may come back with another IP; the holder is never stopped, so an
    outage (which stops only :func:`server_name`) keeps the name resolvable and the IP.
    """
    return (["run", "-d", "--name", name, "--network", network, "-p", f"127.0.0.1:{host_port}:{REGISTRY_PORT}",
             *_labels(cluster, "registry-holder"), "--entrypoint", "sleep", image, "infinity"])


def run_registry_args(name: str, image: str, cluster: str, secret: str) -> list[str]:
    """``docker run`` arguments of the registry process, in the holder's network namespace
    (no restart policy: an outage fault stops it, and it must stay down until healed)."""
    args = ["run", "-d", "--name", server_name(name), "--network", f"container:{name}",
            *_labels(cluster, "registry")]
    for key, value in registry_environment(secret).items():
        args += ["-e", f"{key}={value}"]
    return args + [image]
