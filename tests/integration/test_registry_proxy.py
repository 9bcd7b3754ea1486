"""The registry's fault proxy on the docker backend, with the real IRC.

Provision (the Toxiproxy container starts beside the registry), deploy the ``single``
variant, let an ImageRepository scan *through the proxy* (its spec names the proxy, the
proxy's log shows the controller's connection, Ready is True), then inject
``registry-latency`` through the nemesis: it must be confirmed by the proxy (toxic listed,
a request through it slower), healed, and teardown must leave no container, network or
volume of the run. Timings are printed with ``-s``.

Marked ``docker``; skipped when Docker is unreachable or the images are not built.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from realenv import FLUX_VERSION, require_assets, run_leftovers

from pytest_fluxchaos.backends.docker import DockerBackend
from pytest_fluxchaos.backends.kube_environment import KubeEnvironment
from pytest_fluxchaos.history import Fault, History
from pytest_fluxchaos.nemesis import Nemesis
from pytest_fluxchaos.scenario import FaultAction, Scenario
from pytest_fluxchaos.variants import PRESETS
from pytest_fluxchaos.waiting import wait_until

pytestmark = pytest.mark.docker

NS = "proxy-single"
SCENARIO = {
    "name": "through-the-proxy",
    "images": [{"name": "app", "tags": ["1.0.0", "1.1.0"]}],
    "repositories": [{"name": "app", "image": "app", "interval": "10s"}],
    "policies": [{"name": "app", "repository": "app", "policy": {"semver": {"range": ">=1.0.0"}}}],
    "steps": [{"push": {"image": "app", "tags": ["1.0.0", "1.1.0"]}}],
}


def _container_ip(backend: DockerBackend, container_id: str) -> str:
    info: dict[str, Any] = backend._docker.api.inspect_container(container_id)
    return str(info["NetworkSettings"]["Networks"][backend.network_name]["IPAddress"])


def test_irc_scans_through_the_proxy_and_registry_latency_lands() -> None:
    assets = require_assets(FLUX_VERSION)
    assert assets.proxy_image, "the asset set names no fault-proxy image"
    backend = DockerBackend(assets, flux_version=assets.flux_version)
    run_id = backend.run_id
    env: KubeEnvironment | None = None
    try:
        t0 = time.monotonic()
        backend.provision(print)
        print(f"\n[measure] provision: {time.monotonic() - t0:.2f}s; proxy: docker run "
              f"{backend.timings['proxy_run_s']:.2f}s, then (after the control plane) admin API up and "
              f"proxy created {backend.timings['proxy_wait_s']:.2f}s")
        env = KubeEnvironment(backend, irc_version=assets.irc_version, flux_version=assets.flux_version,
                              manifests_dir=assets.manifests_dir, assets=assets)
        proxy_name = f"{backend.prefix}-proxy"
        assert env.registry_endpoint.cluster_host == f"{proxy_name}:5000"
        assert env.registry_endpoint.host_url == backend.registry_direct().host_url
        state = env.registry_proxy()
        # Toxiproxy forwards to the registry liar in the same container, which forwards to the registry.
        assert (state.name, state.upstream, state.enabled, state.toxics) == ("registry", "127.0.0.1:5001", True, ())
        assert env.registry_liar().lies == ()
        assert state.listen.endswith(":5000"), state.listen

        env.deploy(NS, PRESETS["single"], print)
        scenario = Scenario.model_validate(SCENARIO)
        history = History()
        stop_observing = env.observe(NS, history)
        for tag in ("1.0.0", "1.1.0"):
            env.push_tag(NS, "app", tag)  # straight to the registry
        env.apply_objects(NS, scenario, PRESETS["single"])
        t_scan = time.monotonic()
        repo = env.kube.wait_image_ready("ImageRepository", NS, "app", timeout=60)
        print(f"[measure] ImageRepository Ready through the proxy: {time.monotonic() - t_scan:.2f}s")
        assert repo["spec"]["image"] == f"{proxy_name}:5000/{NS}/app"
        ready = env.kube.ready_condition(repo)
        assert ready is not None and ready["status"] == "True", ready
        assert repo["status"]["lastScanResult"]["tagCount"] == 2

        # The scan went through the proxy: its log shows the controller's connection.
        pod = env.pods(NS)[0]
        irc_ip = _container_ip(backend, backend.pod_record(NS, pod.name).container_id or "")
        logs = backend._docker.api.logs(proxy_name).decode(errors="replace")
        assert any("Accepted client" in ln and f'"client":"{irc_ip}:' in ln for ln in logs.splitlines()), \
            f"no connection from IRC ({irc_ip}) in the proxy's log: {logs[-1500:]}"

        nemesis = Nemesis(env, NS, history)
        fault = nemesis.inject(FaultAction(kind="registry-latency", duration=5, confirm_timeout=30,
                                           latency="1500ms"))  # type: ignore[call-arg]
        confirm = next(e for e in history.of(Fault) if e.phase == "confirm")
        print(f"[measure] registry-latency confirm: {confirm.outcome} {confirm.detail}")
        assert confirm.outcome == "ok", confirm.detail
        assert confirm.detail["toxic_active"] is True and confirm.detail["added_s"] >= 0.75
        assert [t.name for t in env.registry_proxy().toxics] == ["fluxchaos-registry-latency"]

        # Under the toxic the controller still scans, slowly, through the proxy.
        scanned = repo["status"]["lastScanResult"]["scanTime"]

        def rescanned() -> dict | None:
            now = env.kube.get_image_repository(NS, "app") or {}
            result = (now.get("status") or {}).get("lastScanResult") or {}
            cond = env.kube.ready_condition(now) or {}
            return now if result.get("scanTime") != scanned and cond.get("status") == "True" else None

        t_rescan = time.monotonic()
        env.request_reconcile(NS, "ImageRepository", "app")
        wait_until(rescanned, 30, what="a new scan through the slow proxy, Ready")
        print(f"[measure] reconcile request -> new scan Ready, with 1.5s latency: {time.monotonic() - t_rescan:.2f}s")

        nemesis.heal_all()
        heal = next(e for e in history.of(Fault) if e.phase == "heal")
        assert fault.healed and heal.outcome == "ok", heal.detail
        assert env.registry_proxy().toxics == ()
        after_heal = env.registry_proxy_probe()
        print(f"[measure] GET /v2/ through the proxy after the heal: {after_heal:.3f}s")
        assert after_heal < 0.75
        assert stop_observing() == []
    finally:
        if env is not None:
            env.close()
        else:
            backend.teardown()
    assert run_leftovers(run_id) == {"containers": [], "networks": [], "volumes": []}
