"""Observer + registry client against a real control plane (docker backend).

1. Record latency: etcd + kube-apiserver from the docker backend, the image CRDs from
   the assets' manifests, an ImagePolicy / ImageRepository / Lease written by hand;
   their status is patched and the time until the observer records the change is
   measured (goal: p99 <= 1 s). Printed with ``-s``.
2. The real image-reflector-controller: tags pushed with RegistryClient to the
   backend's registry, the observer records scans, the policy's latest tag, the leader
   Lease, the controller container and Kubernetes events.

Marked ``docker``; skipped when Docker is unreachable or the images are not built.
"""

from __future__ import annotations

import copy
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from realenv import FLUX_VERSION, require_assets

from pytest_fluxchaos.assets import Assets
from pytest_fluxchaos.backends.docker import DockerBackend
from pytest_fluxchaos.history import (Event, History, LeaseHolder, Note, PodState, PolicyLatest,
                                      PolicyReady, PolicySpec, RepositoryReady, RepositoryScan)
from pytest_fluxchaos.observe import IMAGE_GROUP, LEASE_NAME, Observer, summarize
from pytest_fluxchaos.registry import RegistryClient

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = int(os.environ.get("FLUXCHAOS_TEST_LATENCY_SAMPLES", "100"))


@pytest.fixture(scope="module")
def assets() -> Assets:
    return require_assets(FLUX_VERSION)


@pytest.fixture(scope="module")
def backend(assets: Assets) -> Iterator[DockerBackend]:
    b = DockerBackend(assets, install_signal_handlers=False)
    try:
        b.provision(lambda m: None)
        kube = b.kube
        crds = sorted((Path(assets.manifests_dir) / "crds").glob("*.yaml"))
        names = [o["metadata"]["name"] for f in crds for o in kube.apply_manifest(f)
                 if o.get("kind") == "CustomResourceDefinition"]
        kube.wait_crds_established(names, timeout=30)
        yield b
    finally:
        b.teardown()


class Arrivals:
    """monotonic time at which each matching history event was appended."""

    def __init__(self, history: History) -> None:
        self.cond = threading.Condition()
        self.events: list[tuple[float, Event]] = []
        history.subscribe(self._on)

    def _on(self, ev: Event) -> None:
        with self.cond:
            self.events.append((time.monotonic(), ev))
            self.cond.notify_all()

    def wait(self, match: Callable[[Event], bool], timeout: float = 5.0, since: float = 0.0) -> float:
        """Monotonic arrival time of the first matching event appended after ``since``."""
        def found() -> bool:
            return any(t >= since and match(e) for t, e in self.events)

        with self.cond:
            assert self.cond.wait_for(found, timeout), f"not observed within {timeout}s"
            return next(t for t, e in self.events if t >= since and match(e))


def _now_rfc3339() -> str:
    from datetime import datetime, timezone
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _micro_now() -> str:
    from datetime import datetime, timezone
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_record_latency_of_status_writes(backend: Any) -> None:
    from kubernetes import client as k8s

    kube = backend.kube
    ns = "observe-latency"
    kube.ensure_namespace(ns)
    version = kube.image_api_version()
    custom = k8s.CustomObjectsApi(kube.api_client)
    coord = k8s.CoordinationV1Api(kube.api_client)
    custom.create_namespaced_custom_object(IMAGE_GROUP, version, ns, "imagepolicies", {
        "apiVersion": f"{IMAGE_GROUP}/{version}", "kind": "ImagePolicy",
        "metadata": {"name": "app", "namespace": ns},
        "spec": {"imageRepositoryRef": {"name": "app"}, "policy": {"semver": {"range": ">=1.0.0"}}}})
    custom.create_namespaced_custom_object(IMAGE_GROUP, version, ns, "imagerepositories", {
        "apiVersion": f"{IMAGE_GROUP}/{version}", "kind": "ImageRepository",
        "metadata": {"name": "app", "namespace": ns},
        "spec": {"image": "127.0.0.1:5000/app", "interval": "1m"}})

    history = History()
    arrivals = Arrivals(history)
    observer = Observer(kube.api_client, [ns], history, api_version=version).start(sync_timeout=15)
    try:
        assert len(history.of(PolicySpec)) == 1
        sent: list[float] = []  # request start -> recorded
        acked: list[float] = []  # response received -> recorded (negative: recorded first)
        for i in range(SAMPLES):
            tag = f"1.0.{i}"
            body = {"status": {
                "latestRef": {"name": "127.0.0.1:5000/app", "tag": tag},
                "observedGeneration": 1,
                "conditions": [{"type": "Ready", "status": "True" if i % 2 else "False",
                                "reason": "Succeeded" if i % 2 else "Failure",
                                "message": f"Latest image tag for 127.0.0.1:5000/app resolved to {tag}",
                                "lastTransitionTime": _now_rfc3339(), "observedGeneration": 1}]}}
            t0 = time.monotonic()
            custom.patch_namespaced_custom_object_status(
                IMAGE_GROUP, version, ns, "imagepolicies", "app", body,
                field_manager="image-reflector-controller", _content_type="application/merge-patch+json")
            t1 = time.monotonic()
            seen = arrivals.wait(lambda e, tag=tag: isinstance(e, PolicyLatest) and e.tag == tag)
            sent.append(seen - t0)
            acked.append(seen - t1)
        # repository scans and lease handovers
        scan_lat: list[float] = []
        for i in range(20):
            t0 = time.monotonic()
            custom.patch_namespaced_custom_object_status(
                IMAGE_GROUP, version, ns, "imagerepositories", "app",
                {"status": {"lastScanResult": {"revision": str(1000 + i), "tagCount": i,
                                               "scanTime": _now_rfc3339(), "latestTags": ["1.0.0"]}}},
                _content_type="application/merge-patch+json")
            seen = arrivals.wait(lambda e, i=i: isinstance(e, RepositoryScan) and e.revision == str(1000 + i))
            scan_lat.append(seen - t0)
        lease_lat: list[float] = []
        coord.create_namespaced_lease(ns, {"metadata": {"name": LEASE_NAME}, "spec": {
            "holderIdentity": "irc-0_init", "leaseDurationSeconds": 35}})
        arrivals.wait(lambda e: isinstance(e, LeaseHolder) and e.identity == "irc-0_init")
        for i in range(20):
            identity = f"irc-{i % 2}_{i}"
            t0 = time.monotonic()
            coord.patch_namespaced_lease(LEASE_NAME, ns, {"spec": {
                "holderIdentity": identity, "acquireTime": _micro_now(), "renewTime": _micro_now(),
                "leaseTransitions": i + 1}})
            seen = arrivals.wait(lambda e, identity=identity: isinstance(e, LeaseHolder)
                                 and e.identity == identity)
            lease_lat.append(seen - t0)
        t0 = time.monotonic()
        coord.delete_namespaced_lease(LEASE_NAME, ns)
        lease_lat.append(arrivals.wait(lambda e: isinstance(e, LeaseHolder) and e.holder is None) - t0)
    finally:
        t_stop = time.monotonic()
        errors = observer.stop()
        stop_s = time.monotonic() - t_stop

    report = {
        "policy-latest (patch sent -> recorded)": summarize(sent),
        "policy-latest (patch acked -> recorded)": summarize(acked),
        "repository-scan (patch sent -> recorded)": summarize(scan_lat),
        "lease-holder (patch sent -> recorded)": summarize(lease_lat),
        "probe (object timestamps, resolution-limited)": observer.latency.summary(),
        "stop() seconds": round(stop_s, 3),
    }
    print("\n[observe latency, real kube-apiserver]")
    for k, v in report.items():
        print(f"  {k}: {v}")
    assert errors == []
    assert stop_s < 2.0
    assert summarize(sent)["p99"] <= 1.0
    assert summarize(scan_lat)["p99"] <= 1.0 and summarize(lease_lat)["p99"] <= 1.0
    ready = history.of(PolicyReady)
    assert len(ready) == SAMPLES  # Ready flips each time
    tags = [e.tag for e in history.of(PolicyLatest)]
    assert tags == [f"1.0.{i}" for i in range(SAMPLES)]
    lease_probe = [s for s in observer.latency.samples if s.kind == "lease-holder"]
    assert lease_probe and all(s.resolution < 0.001 for s in lease_probe)


def _deployment(assets: Any) -> dict[str, Any]:
    dep = copy.deepcopy(yaml.safe_load((Path(assets.manifests_dir) / "deployment.yaml").read_text()))
    dep["spec"]["replicas"] = 1
    spec = dep["spec"]["template"]["spec"]
    spec["serviceAccountName"] = "image-reflector-controller"
    c = spec["containers"][0]
    c["image"] = assets.irc_image
    args = [a for a in c.get("args", []) if not a.startswith("--watch-all-namespaces")]
    c["args"] = args + ["--watch-all-namespaces=false", "--leader-election-lease-duration=8s",
                        "--leader-election-renew-deadline=5s", "--leader-election-retry-period=1s"]
    return dep


def test_observes_the_real_controller(backend: Any, assets: Any) -> None:
    from pytest_fluxchaos.domain import InstallRequest

    ns = "observe-irc"
    backend.install_flux(InstallRequest(namespace=ns, deployment=_deployment(assets),
                                        irc_version=assets.irc_version), lambda m: None)
    kube = backend.kube
    reg = backend.registry()
    registry = RegistryClient(reg.host_url)
    registry.ping()
    digests = {t: registry.push_tag("observe/app", t) for t in ("1.0.0", "1.1.0", "1.0.5")}
    assert len(set(digests.values())) == 3

    history = History()
    arrivals = Arrivals(history)
    version = kube.image_api_version()
    observer = Observer(kube.api_client, [ns], history, api_version=version,
                        pods_fn=backend.pods).start(sync_timeout=15)
    try:
        arrivals.wait(lambda e: isinstance(e, LeaseHolder) and e.holder is not None, timeout=30)
        assert history.of(PodState) and history.of(PodState)[0].state == "running"
        kube.create_image_repository(ns, "app", f"{reg.cluster_host}/observe/app", interval="10m",
                                     insecure=reg.insecure)
        kube.create_image_policy(ns, "app", "app", {"semver": {"range": ">=1.0.0"}})
        arrivals.wait(lambda e: isinstance(e, PolicyLatest) and e.tag == "1.1.0", timeout=60)
        # a new tag, then a reconcile request: the scan and the policy move forward
        registry.push_tag("observe/app", "1.2.0")
        kube.request_reconcile("ImageRepository", ns, "app")
        arrivals.wait(lambda e: isinstance(e, PolicyLatest) and e.tag == "1.2.0", timeout=60)
        # delete the newest tag: the next scan drops it and the policy goes back to 1.1.0
        deleted_at = time.monotonic()
        registry.delete_tag("observe/app", "1.2.0")
        assert sorted(registry.list_tags("observe/app")) == ["1.0.0", "1.0.5", "1.1.0"]
        kube.request_reconcile("ImageRepository", ns, "app", token="after-delete")
        arrivals.wait(lambda e: isinstance(e, RepositoryScan) and e.tag_count == 3,
                      timeout=60, since=deleted_at)
        arrivals.wait(lambda e: isinstance(e, PolicyLatest) and e.tag == "1.1.0"
                      and e.previous == "1.2.0", timeout=60, since=deleted_at)
        # the controller container dies: the poller sees it restart
        pod = backend.pods(ns)[0]
        killed_at = time.monotonic()
        backend.signal_container(ns, pod.name)
        # The first restart is immediate (kubelet-like), so a 0.3 s poller may see the
        # terminated state or only the restarted container with its last exit code.
        arrivals.wait(lambda e: isinstance(e, PodState) and e.exit_code == 137
                      and (e.state == "terminated" or e.restart_count >= 1), timeout=30, since=killed_at)
        arrivals.wait(lambda e: isinstance(e, PodState) and e.restart_count >= 1
                      and e.state == "running", timeout=60, since=killed_at)
        # the restarted process takes the lease again (new identity, same pod)
        arrivals.wait(lambda e: isinstance(e, LeaseHolder) and e.holder == pod.name
                      and e.identity is not None, timeout=60, since=killed_at)
    finally:
        errors = observer.stop()
        registry.close()
    scans = history.of(RepositoryScan)
    assert scans and scans[0].tag_count == 3
    latest = [(e.tag, e.previous) for e in history.of(PolicyLatest)]
    assert latest[:3] == [("1.1.0", None), ("1.2.0", "1.1.0"), ("1.1.0", "1.2.0")]
    assert any(e.status == "True" for e in history.of(RepositoryReady))
    assert any(e.status == "True" and e.reason == "Succeeded" for e in history.of(PolicyReady))
    notes = [n for n in history.of(Note) if n.data.get("observer") == "Event"]
    assert notes, "Kubernetes events of the controller are kept as notes"
    assert errors == []
    print("\n[observed story]")
    for ev in history:
        if not isinstance(ev, Note):
            print(f"  {ev.t:8.3f} {ev.kind} {ev.to_dict()}")
