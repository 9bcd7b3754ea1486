"""Every variant's manifests are accepted by a real kube-apiserver (server-side dry run).

Uses the plugin's own session environment on the docker backend (``fluxchaos_session``:
etcd + kube-apiserver + registry as containers, shared with the other docker-marked
tests of the session) and the real upstream Deployment of the built IRC version. The
CRDs and the namespace are applied for real; the Deployment and any PVC of each
variant only with ``dryRun=All``, so the API server runs defaulting, validation and
admission without storing anything.

Skipped with a reason when Docker is unreachable or the images are not built
(``python -m pytest_fluxchaos.assets build``; ``FLUXCHAOS_TEST_BUILD_ASSETS=1`` lets
the test build them).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest
from realenv import FLUX_VERSION, require_assets

from pytest_fluxchaos.kube import KubeError
from pytest_fluxchaos.variants import PRESETS, SHARED_CLAIM, Variant, resolve

pytestmark = pytest.mark.docker


CUSTOM: dict[str, Variant] = {v.name: v for v in (
    Variant(name="fast-election", base="ha-emptydir",
            leader_election={"lease-duration": "8s", "renew-deadline": "5s", "retry-period": "1s"}),
    Variant(name="tight", base="single", memory="96Mi"),
    Variant(name="big", base="ha-emptydir", memory="2Gi"),
    Variant(name="bootstrap-patch", base="ha-emptydir", patches=[{"spec": {"template": {"spec": {
        "containers": [{"name": "manager",
                        "args": ["--watch-all-namespaces=false", "--enable-leader-election",
                                 "--concurrent=4", "--log-level=debug"],
                        "env": [{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}],
                        "resources": {"limits": {"memory": "512Mi"}}}],
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "flux", "operator": "Exists", "effect": "NoSchedule"}],
    }}}}]),
    Variant(name="no-temp", base="single-pvc", patches=[{"spec": {"template": {"spec": {
        "volumes": [{"name": "temp", "$patch": "delete"}],
        "containers": [{"name": "manager", "volumeMounts": [{"name": "temp", "$patch": "delete"}]}],
    }}}}]),
)}


@pytest.fixture(scope="module")
def env(fluxchaos_session: Any) -> Any:
    """The session's docker environment with the IRC CRDs installed."""
    require_assets(FLUX_VERSION)
    environment = fluxchaos_session.environment(FLUX_VERSION, backend="docker")
    crds = sorted((Path(environment.manifests_dir) / "crds").glob("*.y*ml"))
    assert crds, f"no CRDs in {environment.manifests_dir}"
    names = [o["metadata"]["name"] for f in crds for o in environment.kube.apply_manifest(f)]
    environment.kube.wait_crds_established(names, timeout=30)
    return environment


@pytest.fixture(scope="module")
def namespace(env: Any) -> str:
    ns = f"fc-dryrun-{secrets.token_hex(3)}"
    env.kube.ensure_namespace(ns, {"app.kubernetes.io/part-of": "fluxchaos-tests"})
    return ns


def _dry_run(env: Any, namespace: str, variant: Variant) -> list[dict[str, Any]]:
    manifests = env.manifests(namespace, variant)
    return env.kube.apply_manifest(manifests, dry_run=True)


@pytest.mark.parametrize("name", sorted(PRESETS) + sorted(CUSTOM))
def test_variant_is_accepted_by_server_side_dry_run(env: Any, namespace: str, name: str) -> None:
    variant = resolve(name, CUSTOM)
    sent = env.manifests(namespace, variant)
    stored = _dry_run(env, namespace, variant)
    assert [o["kind"] for o in stored] == [o["kind"] for o in sent]
    dep = stored[0]
    assert dep["kind"] == "Deployment"
    assert dep["metadata"]["namespace"] == namespace
    assert dep["metadata"]["name"] == "image-reflector-controller"
    assert dep["spec"]["replicas"] == sent[0]["spec"]["replicas"]
    # Server defaulting ran (proof the object went through the real API machinery).
    assert dep["spec"]["strategy"]["type"] == "RollingUpdate"
    manager = next(c for c in dep["spec"]["template"]["spec"]["containers"] if c["name"] == "manager")
    assert manager["terminationMessagePolicy"] == "File"
    assert "--watch-all-namespaces=false" in manager["args"]
    if variant.storage in ("shared", "pvc"):
        pvc = stored[1]
        assert pvc["kind"] == "PersistentVolumeClaim"
        assert pvc["metadata"]["name"] == SHARED_CLAIM
        assert pvc["spec"]["volumeMode"] == "Filesystem"  # defaulted by the server
    # Nothing was stored.
    assert _get_deployment(env, namespace) is None


def _get_deployment(env: Any, namespace: str) -> dict[str, Any] | None:
    from kubernetes import client as k8s
    from kubernetes.client.exceptions import ApiException

    try:
        return k8s.AppsV1Api(env.kube.api_client).read_namespaced_deployment(
            "image-reflector-controller", namespace).to_dict()
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


@pytest.mark.parametrize("patch,needle", [
    ({"spec": {"replicas": "two"}}, "replicas"),
    ({"spec": {"template": {"spec": {"containers": [
        {"name": "manager", "resources": {"limits": {"memory": "lots"}}}]}}}}, "quantities must match"),
    # Dropping the data volume but not its mount: a dangling volumeMount.
    ({"spec": {"template": {"spec": {"volumes": [{"name": "data", "$patch": "delete"}]}}}},
     'volumeMounts[1].name: Not found: "data"'),
], ids=["replicas-string", "bad-quantity", "dangling-mount"])
def test_invalid_patch_is_rejected_with_a_clear_error(env: Any, namespace: str, patch: dict,
                                                       needle: str) -> None:
    variant = resolve("bad", {"bad": Variant(name="bad", base="ha-emptydir", patches=[patch])})
    with pytest.raises(KubeError) as info:
        _dry_run(env, namespace, variant)
    message = str(info.value)
    assert message.startswith("apply Deployment/image-reflector-controller in " + namespace + " failed: HTTP ")
    assert needle in message
    assert "\n" not in message  # one line
    assert _get_deployment(env, namespace) is None
