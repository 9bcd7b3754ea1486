"""Preflight and cluster setup: the kind binary, the guard's facts, create or reuse, ready.

Preflight only reads (tools, versions, which clusters exist, the ownership marker);
the decision itself is :func:`.guard.plan_cluster`. Setup runs pytest-kind's
``KindCluster.create`` under a bound, waits for the node, CoreDNS and the local-path
provisioner, and loads the controller image into the nodes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...domain import BackendError, one_line
from ...waiting import wait_until
from . import commands as cmd
from .guard import OWNER_CONFIGMAP, OWNER_NAMESPACE, ClusterPlan, plan_cluster
from .options import INSTALL_HINT, KIND_VERSION, KindOptions, check_kind_version, resolve_kind_binary

Progress = Callable[[str], None]
Run = Callable[..., cmd.Result]
MarkerReader = Callable[[Path], "tuple[dict[str, Any] | None, str | None]"]
READY_DEPLOYMENTS = (("kube-system", "coredns"), ("local-path-storage", "local-path-provisioner"))


# -- preflight: reads only ------------------------------------------------------------------


@dataclass(frozen=True)
class KindTool:
    path: Path
    source: str  # "--kind-bin", "PATH", "pytest-kind download of v0.30.0", ...
    version: tuple[int, int, int] | None


def resolve_kind(options: KindOptions, run: Run, *, offline: bool, progress: Progress) -> KindTool:
    """The kind binary (given, on PATH, or pytest-kind's pinned download) and Docker."""
    path, source = resolve_kind_binary(options)
    if path is None and offline:
        raise BackendError(f"kind not found on PATH (offline mode does not download it); {INSTALL_HINT}")
    try:
        run(cmd.docker_server_version(), timeout=30, what="docker version")
    except BackendError as exc:
        raise BackendError(f"Docker is not usable ({exc}); {cmd.DOCKER_HINT}") from None
    if path is None:  # online: pytest-kind's download of the pinned version (one-line errors)
        from .cluster import make_cluster

        cluster = make_cluster(options, None, allow_download=True)
        cluster.ensure_kind()
        path, source = Path(cluster.kind_path), f"pytest-kind download of {KIND_VERSION}"
    out = run([str(path), "version"], timeout=30, what="kind version")
    version = check_kind_version(out.stdout, path)
    progress(f"kind: {out.stdout.strip() or 'kind'} ({source})")
    return KindTool(path, source, version)


def read_owner_marker(kubeconfig: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The ownership ConfigMap of the cluster behind ``kubeconfig`` (None if absent),
    or why it could not be read."""
    from kubernetes.client.exceptions import ApiException

    from ...kube import KubeClient, KubeError

    try:
        kube = KubeClient(kubeconfig, request_timeout=10)
    except KubeError as exc:
        return None, str(exc)
    try:
        cm = kube.core.read_namespaced_config_map(OWNER_CONFIGMAP, OWNER_NAMESPACE, _request_timeout=10)
        return kube.api_client.sanitize_for_serialization(cm), None
    except ApiException as exc:
        if exc.status == 404:
            return None, None
        return None, f"HTTP {exc.status} {exc.reason}"
    except Exception as exc:  # noqa: BLE001 - unreachable API: cannot verify
        return None, one_line(exc, 160)
    finally:
        kube.close()


def write_kubeconfig(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o600)


def plan_for(run: Run, kind: Path, cluster: str, kubeconfig: Path, marker_reader: MarkerReader,
             allow_cluster: str | None) -> ClusterPlan:
    """Create, reuse or foreign (refused unless allowed): the guard on what exists."""
    clusters = cmd.parse_cluster_list(
        run(cmd.kind_get_clusters(str(kind)), timeout=60, what="kind get clusters").stdout)
    exists = cluster in clusters
    marker: dict[str, Any] | None = None
    marker_error: str | None = None
    if exists:
        got = run(cmd.kind_get_kubeconfig(str(kind), cluster), timeout=60, check=False)
        if got.returncode != 0 or not got.stdout.strip():
            marker_error = ("`kind get kubeconfig` failed: "
                            + (one_line(got.stderr or got.stdout, 160) or f"exit {got.returncode}"))
        else:
            write_kubeconfig(kubeconfig, got.stdout)
            marker, marker_error = marker_reader(kubeconfig)
    return plan_cluster(cluster, exists=exists, marker=marker, marker_error=marker_error,
                        allow_cluster=allow_cluster)


def node_image_missing(image: str, why: str) -> str:
    return (f"kind node image {image} is not present and could not be pulled ({why}); on a "
            f"machine with internet: `docker pull {image}` (or `docker save`/`docker load` it "
            "here), or pass --kind-image=<a local node image>")


def ensure_node_image(run: Run, image: str, *, offline: bool, progress: Progress) -> None:
    if run(cmd.inspect_image(image), timeout=30, check=False).returncode == 0:
        return
    if offline:
        raise BackendError(node_image_missing(image, "offline mode does not pull it"))
    progress(f"kind: pulling node image {image}")
    pulled = run([cmd.DOCKER, "pull", image], timeout=900, check=False)
    if pulled.returncode != 0:
        raise BackendError(node_image_missing(image, one_line(pulled.stderr or pulled.stdout, 200)))


# -- setup -----------------------------------------------------------------------------------


def create_cluster(cluster: Any, options: KindOptions, timeout: float) -> None:
    """pytest-kind's ``create()`` has no timeout of its own: bound it with a thread."""
    done: dict[str, BaseException] = {}

    def target() -> None:
        try:
            cluster.create(config_file=options.config_file)
        except BaseException as exc:  # noqa: BLE001 - reported below
            done["error"] = exc

    thread = threading.Thread(target=target, name="fluxchaos-kind-create", daemon=True)
    thread.start()
    thread.join(timeout)
    what = f"`kind create cluster --name {options.cluster_name}`"
    if thread.is_alive():
        raise BackendError(f"{what} did not finish within {timeout:g}s")
    if "error" in done:
        code = getattr(done["error"], "returncode", None)
        raise BackendError(f"{what} failed" + (f" (exit {code}); kind's output is above" if code is not None
                                               else f": {one_line(done['error'])}"))


def reuse_cluster(cluster: Any, run: Run, kind: Path, options: KindOptions) -> None:
    """pytest-kind reuses a cluster without writing its kubeconfig: write it first."""
    path = Path(cluster.kubeconfig_path)
    if not path.exists() or path.stat().st_size == 0:
        got = run(cmd.kind_get_kubeconfig(str(kind), options.cluster_name), timeout=60,
                  what="kind get kubeconfig")
        write_kubeconfig(path, got.stdout)
    try:
        cluster.create(config_file=options.config_file)
    except Exception as exc:  # noqa: BLE001
        raise BackendError(f"kind cluster {options.cluster_name}: {one_line(exc)}") from None


def bring_up(cluster: Any, plan: ClusterPlan, run: Run, kind: Path, options: KindOptions,
             kubeconfig: Path, timeout: float, progress: Progress) -> None:
    """Create (bounded by ``timeout``) or reuse the cluster; write the plugin's kubeconfig."""
    if plan.action == "create":
        progress(f"kind: creating cluster {options.cluster_name} ({options.node_image}, "
                 f"config {options.config_file})")
        create_cluster(cluster, options, timeout)
    else:
        progress(f"kind: reusing cluster {options.cluster_name} ({plan.detail})")
        reuse_cluster(cluster, run, kind, options)
    got = run(cmd.kind_get_kubeconfig(str(kind), options.cluster_name), timeout=60, what="kind get kubeconfig")
    write_kubeconfig(kubeconfig, got.stdout)


def wait_cluster_ready(kube: Any, cluster: str, timeout: float, progress: Progress) -> None:
    from kubernetes import client as k8s

    progress("kind: waiting for the node, CoreDNS and the local-path provisioner")
    core, apps = kube.core, k8s.AppsV1Api(kube.api_client)

    def nodes_ready() -> bool:
        nodes = core.list_node(_request_timeout=10).items
        return bool(nodes) and all(
            any(c.type == "Ready" and c.status == "True" for c in (n.status.conditions or []))
            for n in nodes)

    wait_until(nodes_ready, timeout, what=f"the nodes of {cluster} to be Ready", interval=1.0)
    for ns, name in READY_DEPLOYMENTS:
        def available(ns: str = ns, name: str = name) -> bool:
            dep = apps.read_namespaced_deployment(name, ns, _request_timeout=10)
            return bool(dep.status and (dep.status.available_replicas or 0) >= 1)

        wait_until(available, timeout, what=f"deployment {ns}/{name} to be available", interval=1.0)


def node_names(run: Run, kind: Path, cluster: str) -> list[str]:
    out = run(cmd.kind_get_nodes(str(kind), cluster), timeout=60, what="kind get nodes").stdout
    nodes = [ln.strip() for ln in out.splitlines() if ln.strip() and " " not in ln.strip()]
    if not nodes:
        raise BackendError(f"kind cluster {cluster} has no nodes")
    return nodes


def node_network(run: Run, node: str) -> str:
    out = run(cmd.inspect_container(node, "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}"),
              timeout=30, what=f"docker inspect {node}").stdout.split()
    return "kind" if "kind" in out or not out else out[0]


# What `kind load docker-image` prints when Docker's containerd image store (Docker >= 29,
# Docker Desktop) saves a multi-arch image whose other platforms' blobs are absent
# (kubernetes-sigs/kind#3795): ctr's import with --all-platforms finds no content for them.
CONTAINERD_STORE_ERRORS = ("content digest", "not found", "failed to import", "mismatched image rootfs")


def load_image(run: Run, kind: Path, cluster: str, image: str, timeout: float, progress: Progress,
               nodes: list[str] | None = None) -> float:
    """``kind load docker-image`` into every node; returns the seconds it took.

    Under Docker's containerd image store kind's load fails for a multi-arch image; then
    the image is saved for the host's platform only and imported on each node with
    ``ctr -n k8s.io images import`` (kind's own import, without ``--all-platforms``).
    """
    t0 = time.monotonic()
    progress(f"kind: loading {image} into {cluster}")
    res = run(cmd.kind_load_image(str(kind), cluster, image), timeout=timeout, check=False,
              what=f"kind load docker-image {image}")
    if res.returncode == 0:
        return time.monotonic() - t0
    text = one_line(res.stderr or res.stdout, 300)
    if not nodes or not any(w in text for w in CONTAINERD_STORE_ERRORS):
        raise BackendError(f"`kind load docker-image {image}` failed (exit {res.returncode}): {text}")
    progress(f"kind: `kind load docker-image` failed ({text[:120]}); Docker's containerd image store? "
             "importing the host platform's image with ctr instead")
    import_with_ctr(run, image, nodes, timeout)
    return time.monotonic() - t0


def import_with_ctr(run: Run, image: str, nodes: list[str], timeout: float) -> None:
    """``docker save`` (one platform where the CLI can) -> each node -> ``ctr images import``."""
    import tempfile

    platform = run([cmd.DOCKER, "version", "-f", "{{.Server.Os}}/{{.Server.Arch}}"], timeout=30,
                   what="docker version").stdout.strip() or "linux/amd64"
    with tempfile.TemporaryDirectory(prefix="fluxchaos-load-") as tmp:
        archive = f"{tmp}/image.tar"
        saved = run(cmd.docker_save(image, archive, platform), timeout=timeout, check=False)
        if saved.returncode != 0 and "platform" in (saved.stderr or ""):
            saved = run(cmd.docker_save(image, archive, None), timeout=timeout, check=False)
        if saved.returncode != 0:
            raise BackendError(f"`docker save {image}` failed: {one_line(saved.stderr, 200)}")
        for node in nodes:
            target = "/fluxchaos-image.tar"  # the node's rootfs: `docker cp` cannot write into its /tmp tmpfs
            run([cmd.DOCKER, "cp", archive, f"{node}:{target}"], timeout=timeout, what=f"docker cp to {node}")
            try:
                run(cmd.ctr_import(node, target), timeout=timeout, what=f"ctr images import on {node}")
            except BackendError as exc:
                raise BackendError(f"cannot load {image} into {node}, not with kind load nor with ctr import "
                                   f"({one_line(exc, 200)}); with Docker's containerd image store, pull a "
                                   f"single-platform image (`docker pull --platform {platform} {image}`)") from None
            finally:
                run(cmd.remove_node_paths(node, [target]), timeout=30, check=False)
