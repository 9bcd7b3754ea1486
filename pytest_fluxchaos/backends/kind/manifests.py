"""The IRC install objects for one variant namespace, from the release manifests.

``<manifests_dir>`` is the assets' copy of the controller's own ``config/``: ``crds/``,
``rbac/`` and ``deployment.yaml`` (the same files the docker backend reads). The
release's kustomization prefixes names with ``image-reflector-`` and binds the roles
to the ``image-reflector-controller`` ServiceAccount; here every variant namespace gets
its own ServiceAccount and bindings (one Lease and one controller per namespace, with
``--watch-all-namespaces=false``), so variants share one cluster without interfering.
"""

from __future__ import annotations

from typing import Any

from ...domain import BackendError
from ..install_manifests import RBAC_GROUP, ROLE_PREFIX, crd_files, rbac_objects

__all__ = ["RBAC_GROUP", "ROLE_PREFIX", "claim_names", "crd_files", "leader_election_enabled",
           "rbac_objects", "selector_of"]


def claim_names(deployment: dict[str, Any]) -> list[str]:
    """PersistentVolumeClaims the Deployment's pods mount."""
    volumes = ((deployment.get("spec") or {}).get("template") or {}).get("spec", {}).get("volumes") or []
    return [v["persistentVolumeClaim"]["claimName"] for v in volumes
            if isinstance(v.get("persistentVolumeClaim"), dict)
            and v["persistentVolumeClaim"].get("claimName")]


def selector_of(deployment: dict[str, Any]) -> str:
    """The Deployment's ``matchLabels`` as a label selector string."""
    labels = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    if not labels:
        raise BackendError("the Deployment has no spec.selector.matchLabels")
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def leader_election_enabled(deployment: dict[str, Any]) -> bool:
    containers = deployment["spec"]["template"]["spec"].get("containers") or []
    manager = next((c for c in containers if c.get("name") == "manager"), containers[0] if containers else {})
    return any(a in ("--enable-leader-election", "--enable-leader-election=true")
               for a in manager.get("args") or [])
