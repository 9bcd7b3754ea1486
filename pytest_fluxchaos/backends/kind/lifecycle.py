"""Every exit path tears a live kind backend down, and what teardown removes.

Normal close, a provisioning failure, atexit and SIGTERM/SIGHUP all end in
:func:`teardown`: the cluster, the registry and the Git server are deleted, unless kept
(``--keep-cluster`` / ``--fluxchaos-keep``) or foreign (never deleted; only what this
session added to it is removed). Safe to call twice and from atexit.
"""

from __future__ import annotations

import logging
import shutil
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...domain import one_line
from .. import exit_hooks
from . import commands as cmd
from .options import KindOptions

if TYPE_CHECKING:
    from .backend import KindBackend

log = logging.getLogger(__name__)

_LIVE: weakref.WeakSet[KindBackend] = weakref.WeakSet()


def track(backend: KindBackend) -> None:
    """From now on, exiting the interpreter (or SIGTERM/SIGHUP) tears ``backend`` down."""
    _LIVE.add(backend)
    exit_hooks.track(backend, signals=True)


def untrack(backend: KindBackend) -> None:
    _LIVE.discard(backend)
    exit_hooks.untrack(backend)


def live_clusters() -> dict[str, str]:
    """Cluster name -> Flux version of the kind backends of this process not torn down yet."""
    return {b.cluster_name: b.flux_version or "" for b in list(_LIVE)}


# -- teardown ---------------------------------------------------------------------------------


def teardown(b: KindBackend) -> None:
    """Delete what ``b``'s session created (see the module docstring)."""
    plan = b.plan
    if plan is None or b._cluster is None:
        close_quietly(b._kube)  # refused or failed in preflight: nothing was created
    elif b.keep:
        log.warning("fluxchaos: kept kind cluster %s, registry %s, its fault proxy %s and Git server %s "
                    "(delete with: kind delete cluster --name %s; docker rm -f %s %s %s %s %s)", b.cluster_name,
                    b.registry_name, b.proxy_container.name, b.git_container.name, b.cluster_name,
                    b.registry_name, b.registry_container.server, b.proxy_container.name, b.git_container.name,
                    b.git_container.server)
        close_quietly(b._kube)
    elif plan.may_delete:  # created now, or created by the plugin and kept earlier
        close_quietly(b._kube)
        if b.export_logs_to is not None:
            export_logs(b.run, b.kind_path, b.cluster_name, b.export_logs_to)
        delete_cluster(b._cluster, b.run, b.kind_path, b.cluster_name)
        b.proxy_container.remove()
        b.registry_container.remove()
        b.git_container.remove()
        if not b.network_preexisted:
            remove_network_if_unused(b.run, "kind")
    else:  # an allowed foreign cluster: never deleted, only our additions removed
        if b._kube is not None:
            for ns in b.pod_view.namespaces():
                try:
                    b.installer.delete_namespace(ns, wait=10.0)
                except BaseException:  # noqa: BLE001
                    pass
            b.registry_container.unwire(b.nodes, b._kube)
        close_quietly(b._kube)
        b.proxy_container.remove()
        if b.registry_container.created:
            b.registry_container.remove()
        if b.git_container.created:
            b.git_container.remove()
    deleted = plan is not None and b._cluster is not None and plan.may_delete and not b.keep
    remove_empty_workdir(b.options, deleted_cluster=deleted)


def close_quietly(kube: Any) -> None:
    if kube is not None:
        try:
            kube.close()
        except BaseException:  # noqa: BLE001
            pass


def export_logs(run: Callable[..., cmd.Result], kind: Path | None, name: str, directory: Path) -> None:
    """``kind export logs`` (nodes' journals, kubelet, containerd, every pod's logs) before
    the cluster goes: the only chance to see what the cluster saw after a failed item."""
    if kind is None:
        return
    try:
        directory.mkdir(parents=True, exist_ok=True)
        res = run(cmd.kind_export_logs(str(kind), name, str(directory)), timeout=180, check=False)
        if res.returncode == 0:
            log.warning("fluxchaos: an item failed; kind logs of %s exported to %s", name, directory)
        else:
            log.warning("fluxchaos: kind export logs of %s failed: %s", name, one_line(res.stderr, 160))
    except BaseException as exc:  # noqa: BLE001 - teardown goes on
        log.warning("fluxchaos: kind export logs of %s failed: %s", name, one_line(exc, 160))


def delete_cluster(cluster: Any, run: Callable[..., cmd.Result], kind: Path | None, name: str) -> None:
    """pytest-kind's ``delete()``; on failure ``kind delete cluster`` once more, then a hint."""
    def by_cli() -> bool:
        if kind is None:
            return False
        res = run([str(kind), "delete", "cluster", "--name", name], timeout=300, check=False)
        return res.returncode == 0

    try:
        if cluster is not None:
            cluster.delete()
        else:
            by_cli()
    except BaseException as exc:  # noqa: BLE001 - try the CLI once more, then report
        if not by_cli():
            log.warning("fluxchaos: could not delete kind cluster %s (%s); run: kind delete cluster --name %s",
                        name, one_line(exc, 120), name)


def remove_network_if_unused(run: Callable[..., cmd.Result], name: str) -> None:
    """``docker network rm`` unless a container (another cluster, someone's) still uses it."""
    try:
        used = run([cmd.DOCKER, "network", "inspect", "-f", "{{range .Containers}}{{.Name}} {{end}}", name],
                   timeout=30, check=False)
        if used.returncode == 0 and not used.stdout.strip():
            run([cmd.DOCKER, "network", "rm", name], timeout=60, check=False)
    except BaseException:  # noqa: BLE001 - teardown: best effort
        pass


def remove_run_dir(path: Path | None) -> None:
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)


def remove_empty_workdir(options: KindOptions, *, deleted_cluster: bool) -> None:
    """pytest-kind's KindCluster makes ``.pytest-kind/<name>`` in the cwd (with kind's
    kubeconfig of a deleted cluster when no --kubeconfig was given); drop it if empty."""
    d = options.workdir / options.cluster_name
    if options.kubeconfig is None and deleted_cluster:
        try:
            (d / "kubeconfig").unlink()
        except OSError:
            pass
    for path in (d, options.workdir):
        try:
            path.rmdir()
        except OSError:
            break
