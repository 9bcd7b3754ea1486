"""Deployment variants: named changes to the IRC Deployment, as users write them.

A variant is data: replicas, storage, memory limit, leader-election timings,
``digestReflectionPolicy`` and free-form strategic-merge patches (the kustomize
``patches:`` a Flux user keeps in their bootstrap repo). :func:`render` turns the
upstream Deployment plus a variant into the manifests to apply; the docker and kind
backends consume the same output, so a variant means the same thing everywhere.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field

from .durations import format_duration
from .scenario import Duration, Model

CONTAINER = "manager"
DATA_VOLUME = "data"
SHARED_CLAIM = "image-reflector-controller-data"


class LeaderElection(Model):
    lease_duration: Duration | None = Field(default=None, alias="lease-duration")
    renew_deadline: Duration | None = Field(default=None, alias="renew-deadline")
    retry_period: Duration | None = Field(default=None, alias="retry-period")


class Variant(Model):
    """A named deployment variant; fields left ``None`` inherit from ``base``."""

    name: str
    description: str = ""
    base: str | None = None
    replicas: Annotated[int, Field(ge=1, le=5)] | None = None
    storage: Literal["emptyDir", "shared", "pvc"] | None = None
    memory: Annotated[str, Field(pattern=r"^\d+(\.\d+)?(Ki|Mi|Gi|K|M|G)?$")] | None = None
    leader_election: LeaderElection | None = Field(default=None, alias="leader-election")
    digest_reflection_policy: Literal["Never", "IfNotPresent", "Always"] | None = Field(
        default=None, alias="digestReflectionPolicy")
    flux_version: str | None = Field(default=None, alias="flux-version")
    #: Run image-automation-controller beside IRC in the variant's namespace.
    automation: bool | None = None
    patches: list[dict[str, Any]] = Field(default_factory=list)


PRESETS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant(name="single", replicas=1, storage="emptyDir", memory="1Gi",
                description="Flux default: one replica, emptyDir /data"),
        Variant(name="ha-emptydir", replicas=2, storage="emptyDir", memory="1Gi",
                description="flux2#4984: two replicas, each with its own emptyDir"),
        Variant(name="ha-shared", replicas=2, storage="shared", memory="1Gi",
                description="two replicas sharing one /data volume (Badger lock)"),
        Variant(name="single-pvc", replicas=1, storage="pvc", memory="1Gi",
                description="one replica, /data on a persistent volume"),
    )
}


class VariantError(ValueError):
    pass


def resolve(name: str, custom: Mapping[str, Variant] | None = None) -> Variant:
    """Flatten a variant's ``base`` chain (custom suite variants, then presets)."""
    table = {**PRESETS, **(custom or {})}
    if name not in table:
        raise VariantError(
            f"unknown variant {name!r}; known: {', '.join(sorted(table))}")
    chain: list[Variant] = []
    seen: set[str] = set()
    current: Variant | None = table[name]
    while current is not None:
        if current.name in seen:
            raise VariantError(f"variant {name!r}: base chain loops at {current.name!r}")
        seen.add(current.name)
        chain.append(current)
        if current.base is None:
            current = None
        elif current.base not in table:
            raise VariantError(f"variant {current.name!r}: unknown base {current.base!r}")
        else:
            current = table[current.base]
    merged: dict[str, Any] = {"patches": []}
    for variant in reversed(chain):
        for key, value in variant.model_dump(exclude={"name", "base", "patches"},
                                             exclude_none=True).items():
            merged[key] = value
        merged["patches"] = merged["patches"] + list(variant.patches)
    merged.setdefault("replicas", 1)
    merged.setdefault("storage", "emptyDir")
    return Variant(name=name, **merged)


def strategic_merge(target: Any, patch: Any) -> Any:
    """A strategic-merge patch, the subset kustomize users write for Deployments.

    Maps merge recursively, ``null`` deletes a key, lists of maps with ``name`` merge
    item-by-item by name (``$patch: delete`` removes one), other lists replace.
    Hand-written: no Python library implements Kubernetes strategic merge.
    """
    if isinstance(target, dict) and isinstance(patch, dict):
        out = dict(target)
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            elif key in out:
                out[key] = strategic_merge(out[key], value)
            else:
                out[key] = _strip_directives(value)
        return out
    if (isinstance(target, list) and isinstance(patch, list)
            and all(isinstance(i, dict) and "name" in i for i in target + patch)):
        out_list = [copy.deepcopy(i) for i in target]
        for item in patch:
            index = next((n for n, cur in enumerate(out_list) if cur["name"] == item["name"]), None)
            if item.get("$patch") == "delete":
                if index is not None:
                    out_list.pop(index)
            elif index is None:
                out_list.append(_strip_directives(item))
            else:
                out_list[index] = strategic_merge(out_list[index], item)
        return out_list
    return _strip_directives(copy.deepcopy(patch))


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if k != "$patch"}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return value


def set_arg(args: list[str], flag: str, value: str | None) -> list[str]:
    """Replace or append ``--flag=value`` (None removes it)."""
    kept = [a for a in args if a != flag and not a.startswith(flag + "=")]
    return kept if value is None else kept + [f"{flag}={value}"]


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    return next((c for c in containers if c.get("name") == CONTAINER), containers[0])


def render(upstream: Mapping[str, Any], variant: Variant, *, namespace: str,
           image: str | None = None, watch_all_namespaces: bool = False) -> list[dict[str, Any]]:
    """Manifests (Deployment first, then any PVC) for ``variant`` in ``namespace``.

    Applies flux2's own install-time changes first (``GOMEMLIMIT`` from the memory
    limit, the service account, watching only its namespace so variants can share a
    control plane), then the variant's fields, then its free-form patches.
    """
    deployment = copy.deepcopy(dict(upstream))
    deployment.setdefault("metadata", {})["namespace"] = namespace
    pod = deployment["spec"]["template"]["spec"]
    pod["serviceAccountName"] = "image-reflector-controller"
    container = _container(deployment)
    if image:
        container["image"] = image
    env = [e for e in container.get("env", []) if e.get("name") != "GOMEMLIMIT"]
    env.append({"name": "GOMEMLIMIT", "valueFrom": {"resourceFieldRef": {
        "containerName": container["name"], "resource": "limits.memory"}}})
    container["env"] = env
    args = set_arg(list(container.get("args", [])), "--watch-all-namespaces",
                   "true" if watch_all_namespaces else "false")

    deployment["spec"]["replicas"] = variant.replicas or 1
    if variant.memory:
        container.setdefault("resources", {}).setdefault("limits", {})["memory"] = variant.memory
    if variant.leader_election:
        le = variant.leader_election
        for flag, value in (("--leader-election-lease-duration", le.lease_duration),
                            ("--leader-election-renew-deadline", le.renew_deadline),
                            ("--leader-election-retry-period", le.retry_period)):
            if value is not None:
                args = set_arg(args, flag, format_duration(value))
    container["args"] = args

    extra: list[dict[str, Any]] = []
    if variant.storage in ("shared", "pvc"):
        claim = SHARED_CLAIM
        pod["volumes"] = [v for v in pod.get("volumes", []) if v.get("name") != DATA_VOLUME] + [
            {"name": DATA_VOLUME, "persistentVolumeClaim": {"claimName": claim}}]
        extra.append({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": claim, "namespace": namespace},
            "spec": {"accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": "1Gi"}}},
        })
    for patch in variant.patches:
        deployment = strategic_merge(deployment, patch)
    # A bootstrap patch often says ``namespace: flux-system``; the variant's namespace wins.
    deployment.setdefault("metadata", {})["namespace"] = namespace
    return [deployment, *extra]
