"""Shared fixtures of the backend tests (the ``docker`` marker is enforced in tests/conftest.py)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

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
