"""Shared fixtures of the backend tests.

Tests that need a Docker engine are marked ``docker`` and skipped (with the reason)
only when the engine cannot be reached; tests that need the built images skip with
the command that builds them.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from realenv import docker_reason

_DOCKER_REASON: list[str | None] = []


def docker_unavailable() -> str | None:
    if not _DOCKER_REASON:
        _DOCKER_REASON.append(docker_reason())
    return _DOCKER_REASON[0]


_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE not in Path(str(item.path)).resolve().parents:
            continue  # only this directory's tests
        if item.get_closest_marker("docker") is not None:
            reason = docker_unavailable()
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


# A Deployment shaped like image-reflector-controller's (written for the tests).
_DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "image-reflector-controller", "labels": {"control-plane": "controller"}},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "image-reflector-controller"}},
        "template": {
            "metadata": {"labels": {"app": "image-reflector-controller"}},
            "spec": {
                "terminationGracePeriodSeconds": 10,
                "serviceAccountName": "image-reflector-controller",
                "securityContext": {"fsGroup": 1337},
                "containers": [
                    {
                        "name": "manager",
                        "image": "ghcr.io/fluxcd/image-reflector-controller:v1.2.4",
                        "securityContext": {
                            "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True,
                            "runAsNonRoot": True,
                            "capabilities": {"drop": ["ALL"]},
                        },
                        "ports": [
                            {"containerPort": 8080, "name": "http-prom"},
                            {"containerPort": 9440, "name": "healthz"},
                        ],
                        "env": [
                            {"name": "RUNTIME_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                            {
                                "name": "GOMEMLIMIT",
                                "valueFrom": {"resourceFieldRef": {"containerName": "manager", "resource": "limits.memory"}},
                            },
                        ],
                        "args": ["--watch-all-namespaces=false", "--log-level=info", "--enable-leader-election"],
                        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "healthz"}},
                        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "healthz"}},
                        "resources": {
                            "limits": {"cpu": "1000m", "memory": "1Gi"},
                            "requests": {"cpu": "100m", "memory": "64Mi"},
                        },
                        "volumeMounts": [
                            {"name": "temp", "mountPath": "/tmp"},
                            {"name": "data", "mountPath": "/data"},
                        ],
                    }
                ],
                "volumes": [{"name": "temp", "emptyDir": {}}, {"name": "data", "emptyDir": {}}],
            },
        },
    },
}


@pytest.fixture
def deployment() -> dict[str, Any]:
    return copy.deepcopy(_DEPLOYMENT)
