"""image-automation-controller (IAC) beside IRC in a variant's namespace: its Deployment and RBAC.

IAC writes the tag IRC resolves to Git, so the rolled-back tag of flux2#4984 reaches
Git only through it. It runs like flux2 installs it (its own ServiceAccount, leader
election on, one replica), watching only its namespace so variants can share one
control plane, exactly as IRC does here.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..domain import AUTOMATION, CONTROLLERS
from ..variants import set_arg
from .install_manifests import rbac_objects

NAME = CONTROLLERS[AUTOMATION]
SERVICE_ACCOUNT = NAME
ROLE_PREFIX = "image-automation-"


def render_automation(upstream: Mapping[str, Any], *, namespace: str, image: str | None,
                      leader_election: Mapping[str, str] | None = None) -> dict[str, Any]:
    """IAC's upstream Deployment for ``namespace``: one replica, leader election on,
    ``--watch-all-namespaces=false``; ``leader_election`` sets the lease flags (e.g.
    ``{"--leader-election-lease-duration": "8s"}``) like the variant does for IRC."""
    deployment = copy.deepcopy(dict(upstream))
    deployment.setdefault("metadata", {})["namespace"] = namespace
    deployment["spec"]["replicas"] = 1
    pod = deployment["spec"]["template"]["spec"]
    pod["serviceAccountName"] = SERVICE_ACCOUNT
    containers = pod["containers"]
    container = next((c for c in containers if c.get("name") == "manager"), containers[0])
    if image:
        container["image"] = image
        container["imagePullPolicy"] = "IfNotPresent"
    args = set_arg(list(container.get("args", [])), "--watch-all-namespaces", "false")
    args = set_arg(args, "--enable-leader-election", None) + ["--enable-leader-election"]
    for flag, value in (leader_election or {}).items():
        args = set_arg(args, flag, value)
    container["args"] = args
    return deployment


def automation_rbac(manifests_dir: Path, namespace: str, labels: Mapping[str, str] | None = None,
                    service_account: str = SERVICE_ACCOUNT) -> list[dict[str, Any]]:
    """IAC's ServiceAccount, roles and bindings in ``namespace`` (names prefixed
    ``image-automation-`` so they never collide with IRC's)."""
    return rbac_objects(manifests_dir, namespace, service_account, dict(labels or {}), role_prefix=ROLE_PREFIX)
