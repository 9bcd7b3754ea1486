"""The IRC install objects every backend applies, from the release manifests.

``<manifests_dir>`` is the assets' copy of the controller's own ``config/``: ``crds/``,
``rbac/`` and ``deployment.yaml``. The release's kustomization prefixes names with
``image-reflector-`` and binds the roles to one ServiceAccount; here every variant
namespace gets its own ServiceAccount and bindings (one Lease and one controller per
namespace, with ``--watch-all-namespaces=false``), so variants share one control plane.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from ..kube import load_manifests
from ..domain import BackendError

ROLE_PREFIX = "image-reflector-"
RBAC_GROUP = "rbac.authorization.k8s.io"

_LEADER_ELECTION_ROLE: dict[str, Any] = {
    "apiVersion": f"{RBAC_GROUP}/v1",
    "kind": "Role",
    "metadata": {"name": f"{ROLE_PREFIX}leader-election-role"},
    "rules": [
        {"apiGroups": [""], "resources": ["configmaps"],
         "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
         "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
    ],
}


def crd_files(manifests_dir: Path) -> list[Path]:
    crd_dir = Path(manifests_dir) / "crds"
    files = sorted(crd_dir.glob("*.yaml")) + sorted(crd_dir.glob("*.yml"))
    if not files:
        raise BackendError(f"no CRDs in {crd_dir}; run `python -m pytest_fluxchaos.assets build`")
    return files


def rbac_objects(manifests_dir: Path, namespace: str, service_account: str,
                 labels: dict[str, str] | None = None, role_prefix: str = ROLE_PREFIX) -> list[dict[str, Any]]:
    """Namespace, ServiceAccount, the controller's ClusterRole(s) and Role, and bindings.

    End-user editor/viewer roles are skipped; the upstream bindings (to ``system``'s
    ``default`` SA) are replaced by ones naming this namespace's ServiceAccount.
    ClusterRoleBindings are named ``<role>-<namespace>`` so uninstalling one variant
    removes exactly its own.
    """
    rbac_dir = Path(manifests_dir) / "rbac"
    docs: list[dict[str, Any]] = []
    for f in sorted(rbac_dir.glob("*.y*ml")):
        docs += load_manifests(f)
    subject = [{"kind": "ServiceAccount", "name": service_account, "namespace": namespace}]
    out: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": namespace, "labels": dict(labels or {})}},
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": service_account, "namespace": namespace}},
    ]
    cluster_roles: list[str] = []
    roles: list[dict[str, Any]] = []
    for doc in docs:
        kind = doc.get("kind")
        name = (doc.get("metadata") or {}).get("name", "")
        if kind not in ("ClusterRole", "Role") or not name:
            continue
        if name.endswith(("-editor-role", "-viewer-role")):
            continue
        if not name.startswith(role_prefix):
            name = role_prefix + name
        doc = copy.deepcopy(doc)
        doc["metadata"] = {"name": name}
        if kind == "ClusterRole":
            out.append(doc)
            cluster_roles.append(name)
        else:
            roles.append(doc)
    if not cluster_roles:
        raise BackendError(f"no ClusterRole in {rbac_dir}; run `python -m pytest_fluxchaos.assets build`")
    if not any("leases" in (rule.get("resources") or []) for r in roles for rule in r.get("rules") or []):
        role = copy.deepcopy(_LEADER_ELECTION_ROLE)
        role["metadata"]["name"] = f"{role_prefix}leader-election-role"
        roles.append(role)
    for cr in cluster_roles:
        out.append({"apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRoleBinding",
                    "metadata": {"name": f"{cr}-{namespace}"},
                    "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": cr},
                    "subjects": subject})
    for role in roles:
        role["metadata"]["namespace"] = namespace
        out.append(role)
        out.append({"apiVersion": f"{RBAC_GROUP}/v1", "kind": "RoleBinding",
                    "metadata": {"name": role["metadata"]["name"] + "-binding", "namespace": namespace},
                    "roleRef": {"apiGroup": RBAC_GROUP, "kind": "Role", "name": role["metadata"]["name"]},
                    "subjects": subject})
    return out
