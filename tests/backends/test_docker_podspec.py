"""Deployment -> container translation (pure, no Docker)."""

from __future__ import annotations

import random
import re

import pytest

from pytest_fluxchaos.domain import BackendError
from pytest_fluxchaos.backends.docker import kubelet_oom_score_adj
from pytest_fluxchaos.backends.docker.podspec import SA_MOUNT_PATH, translate_deployment
from pytest_fluxchaos.backends.docker.quantities import (cpu_millis, memory_bytes, parse_quantity, pod_name,
                                                         pod_template_hash)

GIB = 2**30


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1Gi", GIB), ("512Mi", 512 * 2**20), ("2Gi", 2 * GIB), ("1G", 10**9), ("64Mi", 64 * 2**20),
     ("1e3", 1000), ("1500k", 1_500_000), (1073741824, GIB), ("0.5Gi", GIB // 2)],
)
def test_memory_quantities(text, expected) -> None:
    assert memory_bytes(text) == expected


@pytest.mark.parametrize(("text", "expected"), [("1000m", 1000), ("1", 1000), ("0.5", 500), ("100m", 100), ("2", 2000)])
def test_cpu_quantities(text, expected) -> None:
    assert cpu_millis(text) == expected


@pytest.mark.parametrize("bad", ["", "1GB", "abc", "1.2.3", "Gi"])
def test_bad_quantity(bad) -> None:
    with pytest.raises(BackendError):
        parse_quantity(bad)


def _config(tmpl, **kw):
    args = dict(
        pod_name="image-reflector-controller-abc-xyz12",
        pod_uid="uid-1",
        container_name="c",
        image="fluxchaos/image-reflector-controller:v1.2.4",
        image_user="65534:65534",
        apiserver_host="fluxchaos-x-apiserver",
        apiserver_port=6443,
        network="net",
        volume_names={m.volume: f"vol-{m.volume}" for m in tmpl.mounts},
        sa_dir="/run/sa",
        labels={"l": "v"},
    )
    args.update(kw)
    return tmpl.container_config(**args)


def test_translation_basics(deployment) -> None:
    t = translate_deployment(deployment, "variant-a")
    cfg = _config(t)
    env = cfg["environment"]
    assert env["RUNTIME_NAMESPACE"] == "variant-a"  # fieldRef metadata.namespace
    assert env["GOMEMLIMIT"] == str(GIB)  # resourceFieldRef limits.memory, in bytes
    assert env["KUBERNETES_SERVICE_HOST"] == "fluxchaos-x-apiserver"
    assert env["KUBERNETES_SERVICE_PORT"] == "6443"
    assert cfg["command"] == ["--watch-all-namespaces=false", "--log-level=info", "--enable-leader-election"]
    assert "entrypoint" not in cfg  # the image's ENTRYPOINT runs, as in Kubernetes
    assert cfg["user"] == "65534:65534"
    assert cfg["group_add"] == ["1337"]  # fsGroup
    assert cfg["read_only"] is True
    assert cfg["mem_limit"] == GIB and cfg["memswap_limit"] == GIB
    assert cfg["nano_cpus"] == 1_000_000_000
    assert cfg["cap_drop"] == ["ALL"]
    assert cfg["security_opt"] == ["no-new-privileges"]
    assert cfg["hostname"] == "image-reflector-controller-abc-xyz12"
    assert cfg["restart_policy"] == {"Name": "no"}
    assert cfg["volumes"]["vol-data"] == {"bind": "/data", "mode": "rw"}
    assert cfg["volumes"]["vol-temp"] == {"bind": "/tmp", "mode": "rw"}
    assert cfg["volumes"]["/run/sa"] == {"bind": SA_MOUNT_PATH, "mode": "ro"}
    assert "ports" not in cfg  # nothing published
    assert t.readiness is not None and (t.readiness.path, t.readiness.port) == ("/readyz", 9440)
    assert t.grace_period == 10
    assert t.empty_dirs == ["data", "temp"] and t.pvc_claims == []


def test_memory_limit_variants(deployment) -> None:
    deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] = "512Mi"
    t = translate_deployment(deployment, "ns")
    cfg = _config(t)
    assert cfg["mem_limit"] == 512 * 2**20 == cfg["memswap_limit"]
    assert cfg["environment"]["GOMEMLIMIT"] == str(512 * 2**20)


def test_resource_field_divisor(deployment) -> None:
    c = deployment["spec"]["template"]["spec"]["containers"][0]
    c["env"].append({"name": "MEM_MI", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}})
    c["env"].append({"name": "CPUS", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu"}}})
    c["env"].append({"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}})
    c["env"].append({"name": "GREETING", "value": "pod $(POD) in $(RUNTIME_NAMESPACE) costs $$1"})
    env = _config(translate_deployment(deployment, "ns"))["environment"]
    assert env["MEM_MI"] == "1024"
    assert env["CPUS"] == "1"  # 100m rounded up to one core
    assert env["POD"] == "image-reflector-controller-abc-xyz12"
    assert env["GREETING"] == "pod image-reflector-controller-abc-xyz12 in ns costs $1"


def test_run_as_user_override_and_image_user(deployment) -> None:
    t = translate_deployment(deployment, "ns")
    assert _config(t, image_user=None)["user"] == "65534:65534"  # nobody when the image says nothing
    deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"] = 1000
    t = translate_deployment(deployment, "ns")
    assert _config(t)["user"] == "1000:65534"
    assert t.volume_owner("65534:65534") == (1000, 1337)


def test_shared_pvc_vs_emptydir(deployment) -> None:
    spec = deployment["spec"]["template"]["spec"]
    spec["volumes"][1] = {"name": "data", "persistentVolumeClaim": {"claimName": "irc-data"}}
    t = translate_deployment(deployment, "ns")
    assert t.pvc_claims == ["irc-data"]
    assert t.empty_dirs == ["temp"]


def test_unsupported_volume_and_env(deployment) -> None:
    spec = deployment["spec"]["template"]["spec"]
    spec["volumes"].append({"name": "cfg", "configMap": {"name": "x"}})
    spec["containers"][0]["volumeMounts"].append({"name": "cfg", "mountPath": "/cfg"})
    with pytest.raises(BackendError, match="configMap"):
        translate_deployment(deployment, "ns")


def test_secret_env_is_refused_unless_optional(deployment) -> None:
    c = deployment["spec"]["template"]["spec"]["containers"][0]
    c["env"].append({"name": "OPT", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k", "optional": True}}})
    env = _config(translate_deployment(deployment, "ns"))["environment"]
    assert "OPT" not in env
    c["env"].append({"name": "REQ", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}})
    with pytest.raises(BackendError, match="secretKeyRef"):
        _config(translate_deployment(deployment, "ns"))


def test_replicas_and_args_from_variant(deployment) -> None:
    deployment["spec"]["replicas"] = 2
    deployment["spec"]["template"]["spec"]["containers"][0]["args"] += ["--leader-election-lease-duration=10s"]
    t = translate_deployment(deployment, "ns")
    assert t.replicas == 2
    assert "--leader-election-lease-duration=10s" in _config(t)["command"]


def test_pod_names_look_like_a_replicaset(deployment) -> None:
    tmpl = deployment["spec"]["template"]
    h = pod_template_hash(tmpl)
    assert h == pod_template_hash(dict(tmpl))  # stable
    assert re.fullmatch(r"[bcdfghjklmnpqrstvwxz2456789]{6,10}", h)
    rng = random.Random(1)
    names = {pod_name("image-reflector-controller", h, rng) for _ in range(50)}
    assert len(names) == 50
    for n in names:
        assert re.fullmatch(rf"image-reflector-controller-{h}-[bcdfghjklmnpqrstvwxz2456789]{{5}}", n)
        assert len(n) <= 63
    other = dict(tmpl, metadata={"labels": {"app": "x"}})
    assert pod_template_hash(other) != h


def test_kubelet_oom_score_adj(deployment) -> None:
    t = translate_deployment(deployment, "ns")
    # Burstable: 1000 - 1000 * 64Mi / capacity
    assert kubelet_oom_score_adj(t, 16 * GIB) == 1000 - (1000 * 64 * 2**20) // (16 * GIB)
    c = deployment["spec"]["template"]["spec"]["containers"][0]
    c["resources"]["requests"] = dict(c["resources"]["limits"])
    g = translate_deployment(deployment, "ns")
    assert kubelet_oom_score_adj(g, 16 * GIB) == -997
    assert kubelet_oom_score_adj(g, 16 * GIB, can_lower=False) == 0
    c["resources"] = {}
    assert kubelet_oom_score_adj(translate_deployment(deployment, "ns"), 16 * GIB) == 1000
