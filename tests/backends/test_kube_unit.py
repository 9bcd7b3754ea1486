"""pytest_fluxchaos.kube helpers that need no cluster."""

from __future__ import annotations

import time

import pytest

from pytest_fluxchaos.domain import WaitTimeout
from pytest_fluxchaos.kube import KubeClient, KubeError, holder_pod, load_manifests
from pytest_fluxchaos.waiting import wait_until


def test_holder_pod() -> None:
    assert holder_pod("image-reflector-controller-7d9f8c6b5d-x2x4q_1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d") == (
        "image-reflector-controller-7d9f8c6b5d-x2x4q"
    )
    assert holder_pod("a_b_c") == "a_b"
    assert holder_pod("plain") == "plain"
    assert holder_pod(None) is None and holder_pod("") is None


def test_load_manifests_flattens_lists() -> None:
    text = """
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Namespace, metadata: {name: a}}
- {apiVersion: v1, kind: Namespace, metadata: {name: b}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: c, namespace: a}
---
"""
    assert [d["metadata"]["name"] for d in load_manifests(text)] == ["a", "b", "c"]
    assert load_manifests({"kind": "X", "metadata": {"name": "x"}})[0]["kind"] == "X"


def test_wait_until_returns_value_and_times_out() -> None:
    calls = iter([None, 0, "ok"])
    assert wait_until(lambda: next(calls), 5, what="x", interval=0.01) == "ok"
    t0 = time.monotonic()
    with pytest.raises(WaitTimeout, match=r"timed out after 0.3s waiting for the thing \(last: None\)"):
        wait_until(lambda: None, 0.3, what="the thing", interval=0.05)
    assert time.monotonic() - t0 < 2

    def boom():
        raise ValueError("nope")

    with pytest.raises(WaitTimeout, match="last: ValueError: nope"):
        wait_until(boom, 0.2, what="boom", interval=0.05)
    with pytest.raises(KeyError):  # not in retry_on: propagates at once
        wait_until(lambda: {}["k"], 5, what="k", retry_on=(ValueError,))


def test_latest_tag_both_api_versions() -> None:
    assert KubeClient.latest_tag({"status": {"latestRef": {"name": "r/app", "tag": "1.2.3"}}}) == "1.2.3"
    assert KubeClient.latest_tag({"status": {"latestImage": "reg:5000/app:1.2.3"}}) == "1.2.3"
    assert KubeClient.latest_tag({"status": {"latestImage": "reg:5000/app"}}) is None
    assert KubeClient.latest_tag(None) is None


# -- wait_image_ready: Flux patches the Ready condition and the status fields separately ------

READY = {"type": "Ready", "status": "True", "reason": "Succeeded"}
NOT_READY = {"type": "Ready", "status": "False", "reason": "ProgressingWithRetry"}
SCAN = {"tagCount": 2, "scanTime": "2026-01-01T00:00:00Z", "latestTags": ["1.1.0", "1.0.0"]}


class FakeCustomObjects:
    """The CustomObjectsApi calls wait_image_ready makes: a scripted GET per plural."""

    def __init__(self, answers: dict[str, list[dict | None]]) -> None:
        self.answers = answers
        self.gets: list[str] = []

    def get_namespaced_custom_object(self, group, version, namespace, plural, name, **kw):
        from kubernetes.client.exceptions import ApiException

        self.gets.append(plural)
        queue = self.answers[plural]
        obj = queue.pop(0) if len(queue) > 1 else queue[0]
        if obj is None:
            raise ApiException(status=404, reason="Not Found")
        return obj


def _obj(kind: str, conditions: list[dict], **status) -> dict:
    return {"kind": kind, "metadata": {"name": "app", "namespace": "ns"},
            "status": {"conditions": conditions, **status}}


@pytest.fixture
def offline_kube(tmp_path) -> KubeClient:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("""
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
""")
    kube = KubeClient(kubeconfig)
    kube._image_versions = {"imagerepositories": "v1", "imagepolicies": "v1"}  # no CRD discovery
    yield kube
    kube.close()


@pytest.mark.parametrize("kind,plural,fields", [
    ("ImageRepository", "imagerepositories", {"lastScanResult": SCAN}),
    ("ImagePolicy", "imagepolicies", {"latestRef": {"name": "reg/app", "tag": "1.1.0"}}),
])
def test_wait_image_ready_waits_for_the_status_fields_patch(offline_kube: KubeClient, kind: str,
                                                            plural: str, fields: dict) -> None:
    """Ready=True without the fields (the conditions patch landed first) is not ready yet.

    Kills: accepting Ready=True alone for either kind (the ImageRepository case was the bug).
    """
    fake = FakeCustomObjects({plural: [
        None,                               # not created yet (404)
        _obj(kind, [NOT_READY]),            # reconciling
        _obj(kind, [READY]),                # conditions patch applied, status fields not yet
        _obj(kind, [READY], **fields),      # second patch
    ]})
    offline_kube.custom = fake
    obj = offline_kube.wait_image_ready(kind, "ns", "app", timeout=10)
    assert obj["status"] == {"conditions": [READY], **fields}
    assert fake.gets == [plural] * 4


@pytest.mark.parametrize("kind,plural,field", [
    ("ImageRepository", "imagerepositories", "status.lastScanResult"),
    ("ImagePolicy", "imagepolicies", "status.latestRef"),
])
def test_wait_image_ready_times_out_naming_the_missing_field(offline_kube: KubeClient, kind: str,
                                                             plural: str, field: str) -> None:
    offline_kube.custom = FakeCustomObjects({plural: [_obj(kind, [READY])]})
    with pytest.raises(WaitTimeout, match=rf"waiting for {kind} ns/app to be Ready with {field}"):
        offline_kube.wait_image_ready(kind, "ns", "app", timeout=0.6)


def test_wait_image_ready_rejects_an_unknown_kind(offline_kube: KubeClient) -> None:
    with pytest.raises(KubeError, match="unknown kind 'ImageUpdateAutomation'"):
        offline_kube.wait_image_ready("ImageUpdateAutomation", "ns", "app", timeout=1)
