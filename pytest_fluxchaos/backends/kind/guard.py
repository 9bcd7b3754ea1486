"""The foreign-cluster guard: chaos only on clusters the plugin created, or one named.

A cluster created by the plugin carries an ownership marker: the ConfigMap
``kube-system/fluxchaos-owner`` (label ``app.kubernetes.io/managed-by=pytest-fluxchaos``)
written right after ``kind create cluster``. A kept cluster (``--keep-cluster``) is
therefore recognised on the next run and reused. Any other existing cluster of the
requested name (made by hand, by pytest-kind's own fixture, by another tool, or one
whose API cannot be read) is *foreign*: the plugin refuses it with one line unless
``--fluxchaos-allow-cluster=<that name>``. An allowed foreign cluster is never deleted.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any

from ...domain import BackendError

OWNER_NAMESPACE = "kube-system"
OWNER_CONFIGMAP = "fluxchaos-owner"
MANAGED_BY = "pytest-fluxchaos"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"


class ForeignClusterError(BackendError):
    """The named cluster exists and the plugin did not create it."""


@dataclass(frozen=True)
class ClusterPlan:
    action: str  # "create" | "reuse" | "foreign"
    cluster: str
    created_by_plugin: bool
    detail: str = ""

    @property
    def may_delete(self) -> bool:
        """Only clusters the plugin made may ever be deleted by it."""
        return self.created_by_plugin


def owner_marker(cluster: str, run_id: str, plugin_version: str) -> dict[str, Any]:
    """The ConfigMap that marks a cluster as created by the plugin."""
    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": OWNER_CONFIGMAP, "namespace": OWNER_NAMESPACE,
                     "labels": {LABEL_MANAGED_BY: MANAGED_BY}},
        "data": {"cluster": cluster, "createdBy": MANAGED_BY, "createdAt": now,
                 "runId": run_id, "pluginVersion": plugin_version},
    }


def is_owner_marker(obj: dict[str, Any] | None, cluster: str) -> bool:
    """Whether ``obj`` (the ConfigMap as read) marks ``cluster`` as the plugin's."""
    if not obj:
        return False
    meta = obj.get("metadata") or {}
    data = obj.get("data") or {}
    return ((meta.get("labels") or {}).get(LABEL_MANAGED_BY) == MANAGED_BY
            and data.get("createdBy") == MANAGED_BY
            and data.get("cluster") == cluster)


def foreign_message(cluster: str, why: str) -> str:
    return (f"kind cluster {cluster!r} already exists and was not created by pytest-fluxchaos "
            f"({why}); refusing to inject faults into it. Pass "
            f"--fluxchaos-allow-cluster={cluster} to run against it anyway, or choose another "
            "--cluster-name")


def plan_cluster(cluster: str, *, exists: bool, marker: dict[str, Any] | None,
                 marker_error: str | None, allow_cluster: str | None) -> ClusterPlan:
    """Decide what to do with the requested cluster (pure: the I/O happens elsewhere).

    ``marker`` is the ownership ConfigMap as read (None if absent); ``marker_error``
    says why it could not be read (API unreachable...).
    """
    if not exists:
        return ClusterPlan("create", cluster, True, "created by this session")
    if is_owner_marker(marker, cluster):
        when = (marker or {}).get("data", {}).get("createdAt", "?")
        return ClusterPlan("reuse", cluster, True, f"created by pytest-fluxchaos at {when}")
    if marker_error:
        why = f"its ownership marker could not be read: {marker_error}"
    elif marker:
        why = f"ConfigMap {OWNER_NAMESPACE}/{OWNER_CONFIGMAP} does not name this cluster"
    else:
        why = f"no ConfigMap {OWNER_NAMESPACE}/{OWNER_CONFIGMAP}"
    if allow_cluster is not None and allow_cluster == cluster:
        return ClusterPlan("foreign", cluster, False,
                           f"not created by pytest-fluxchaos ({why}); allowed by "
                           f"--fluxchaos-allow-cluster={cluster}")
    if allow_cluster:
        why += f"; --fluxchaos-allow-cluster names {allow_cluster!r}, not {cluster!r}"
    raise ForeignClusterError(foreign_message(cluster, why))


def container_is_ours(run: Any, name: str, cluster: str, role: str) -> bool:
    """Whether a container named ``name`` exists and carries ``cluster``'s label (a kept
    session's registry, Git server or fault proxy): True, reuse or replace it; False, there
    is none. A container of that name without the label is someone else's: refused, never
    touched, like a cluster the plugin did not create."""
    from . import commands as cmd
    from .registry import LABEL_CLUSTER

    owner = run(cmd.inspect_container(name, f'{{{{index .Config.Labels "{LABEL_CLUSTER}"}}}}'), timeout=30,
                check=False)
    if owner.returncode != 0:
        return False
    if owner.stdout.strip() != cluster:
        raise BackendError(f"a container named {name} exists and is not this plugin's {role} for cluster "
                           f"{cluster}; remove it or choose another --cluster-name")
    return True
