"""pytest_fluxchaos.kube helpers that need no cluster."""

from __future__ import annotations

import time

import pytest

from pytest_fluxchaos.domain import WaitTimeout
from pytest_fluxchaos.kube import KubeClient, holder_pod, load_manifests
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
