"""Every fault kind once on a real kind cluster: the real kubelet, containerd and kernel.

One cluster for the module (``create_kind_environment``: the kind asset set, the guard,
``kind create cluster``, the registry and the controller image), one ``ha-emptydir``
namespace with an ImageRepository, and the faults through the real
:class:`~pytest_fluxchaos.nemesis.Nemesis`, exactly as a suite's steps inject them:

* ``oom-kill`` + ``keep-down`` on the leader: the kernel OOM-kills the controller in its
  pod's memory cgroup (pod status ``OOMKilled``/137 *and* the cgroup's ``oom_kill``
  counter), the restarted container is frozen (containerd's ``ctr tasks pause``) until
  the standby leads, then thawed;
* ``kill`` (SIGKILL: 137, not OOMKilled), ``pod-delete`` (a ReplicaSet replacement),
  ``lease-delete`` (a pod holds the Lease again);
* ``registry-outage``: the registry stops answering, the heal waits until it answers
  from inside the cluster through CoreDNS, its IP is unchanged, and the controller
  *scans it again* (a RepositoryScan after the heal listing a tag pushed after it);
* ``kind load``'s fallback for Docker's containerd image store (``docker save`` -> ``ctr
  images import`` on the node), forced here on the classic store.

Missing kind assets are a failure (build them), not a skip; without Docker the
``docker`` marker skips. About 4 minutes on 2 cores.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from realenv import warm_assets

from pytest_fluxchaos.assets import cached_kind
from pytest_fluxchaos.history import Fault, History, RepositoryScan
from pytest_fluxchaos.nemesis import Nemesis
from pytest_fluxchaos.scenario import FaultAction
from pytest_fluxchaos.waiting import wait_until

pytestmark = [pytest.mark.docker, pytest.mark.kind]
FLUX_VERSION = "2.9.4"


def _docker(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def world() -> Iterator[Any]:
    from pytest_fluxchaos.backends.kind import KindOptions
    from pytest_fluxchaos.backends.kind_environment import create_kind_environment
    from pytest_fluxchaos.settings import Settings
    from pytest_fluxchaos.variants import resolve

    if cached_kind() is None:
        pytest.fail("the kind assets are not built: run `python -m pytest_fluxchaos.assets build --kind`",
                    pytrace=False)
    if warm_assets(FLUX_VERSION) is None:
        pytest.fail("the controller images are not built: run `python -m pytest_fluxchaos.assets build`",
                    pytrace=False)
    settings = Settings(backend="kind", variants=None, flux_versions=[FLUX_VERSION], artifacts=None, keep=False,
                        seed=None, timeout=None, converge=None, assets="auto", allow_cluster=None)
    lines: list[str] = []
    cluster = f"fc-faults-{secrets.token_hex(2)}"
    env = create_kind_environment(settings, FLUX_VERSION, lines.append, options=KindOptions(cluster_name=cluster))
    history = History()
    stop = None
    try:
        ns = f"fc-faults-{secrets.token_hex(2)}"
        env.deploy(ns, resolve("ha-emptydir"), lines.append)
        stop = env.observe(ns, history)
        env.push_tag(ns, "app", "1.0.0")
        env.kube.create_image_repository(ns, "app", env.image_ref(ns, "app"), interval="5m", insecure=True)
        wait_until(lambda: history.of(RepositoryScan), 120, what="the first scan")
        yield type("World", (), {"env": env, "ns": ns, "history": history, "lines": lines,
                                 "nemesis": Nemesis(env, ns, history), "cluster": cluster})
    finally:
        if stop is not None:
            stop()
        env.close()
        assert not [n for n in _docker("ps", "-a", "--format", "{{.Names}}").stdout.split()
                    if n.startswith(cluster)], "containers of the cluster left behind"


def settled(world: Any) -> None:
    """Every pod runs a live process (after a kept-down OOM kill the kubelet may still be
    restarting the frozen container its liveness probe gave up on)."""
    def live() -> bool:
        pods = world.env.pods(world.ns)
        try:
            return len(pods) == 2 and all(p.state == "running" and world.env.backend.container_process(
                world.ns, p.name).pid > 0 for p in pods)
        except Exception:  # noqa: BLE001 - not yet
            return False

    wait_until(live, 180, what="both pods to run a live controller process", interval=1.0)


def confirmed(world: Any, action: FaultAction) -> dict[str, Any]:
    settled(world)
    fault = world.nemesis.inject(action)
    phases = {e.phase: e for e in world.history.of(Fault) if e.fault_id == fault.fault_id}
    confirm = phases["confirm"]
    assert confirm.outcome == "ok", (action.kind, confirm.detail)
    return {"confirm": confirm.detail, "heal": phases.get("heal"), "fault": fault}


def test_the_asset_set_was_used(world: Any) -> None:
    details = world.env.backend_details()
    assert details["asset_path"] == "offline-build" and details["node_image"] == cached_kind().node_image
    assert any(line.startswith(f"kind: node image {details['node_image']} (asset set (offline-build); "
                               "path: offline build)") for line in world.lines)


def test_oom_kill_with_keep_down_on_the_real_kubelet(world: Any) -> None:
    leader = world.env.leader(world.ns)
    got = confirmed(world, FaultAction(kind="oom-kill", target="leader", keep_down=True))
    facts = got["confirm"]
    assert facts["exit_code"] == 137 and facts["new_container_id"] != facts["old_container_id"]
    # The kernel's verdict is always read from the pod's memory cgroup (oom_kill counter).
    assert facts["victim"] == "controller" and facts["kernel_oom_kills"] >= 1
    assert facts["cgroup"].startswith("/") and "kubepods" in facts["cgroup"]
    # Pod status: usually lastState OOMKilled/137; measured once in four on this cgroup v1
    # host, containerd missed the OOM event and the kubelet reported "Error"/137, which
    # is why the counter, not the runtime's reason, is the confirmation of last resort.
    assert facts["oom_confirmed_by"] in ("runtime", "cgroup-counter")
    assert facts["oom_killed"] == (facts["reason"] == "OOMKilled") == (facts["oom_confirmed_by"] == "runtime")
    status = next(p for p in world.env.pods(world.ns) if p.name == leader)
    assert status.restart_count >= 1
    keep = got["heal"].detail["keep_down"]
    assert keep["applied"] and keep["new_leader"] not in (None, leader), keep  # frozen until the standby led
    wait_until(lambda: next(p for p in world.env.pods(world.ns) if p.name == leader).state == "running", 60,
               what="the thawed pod to run")


def test_sigkill_is_137_and_not_an_oom(world: Any) -> None:
    facts = confirmed(world, FaultAction(kind="kill", target="standby"))["confirm"]
    assert (facts["exit_code"], facts["oom_killed"]) == (137, False)


def test_pod_delete_gets_a_replacement(world: Any) -> None:
    before = {p.name for p in world.env.pods(world.ns)}
    got = confirmed(world, FaultAction(kind="pod-delete", target="pod-0"))
    after = {p.name for p in world.env.pods(world.ns)}
    assert got["fault"].resolved in before and got["fault"].resolved not in after and len(after) == 2


def test_lease_delete_is_reacquired(world: Any) -> None:
    wait_until(lambda: world.env.leader(world.ns), 120, what="a leader before the Lease deletion")
    confirmed(world, FaultAction(kind="lease-delete", target="leader"))
    assert wait_until(lambda: world.env.leader(world.ns), 60, what="a leader again")


def test_registry_outage_heals_inside_the_cluster_and_the_controller_scans_again(world: Any) -> None:
    backend = world.env.backend
    holder = backend.registry_container.name
    ip = lambda: _docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",  # noqa: E731
                         holder).stdout.strip()
    ip_before = ip()
    got = confirmed(world, FaultAction(kind="registry-outage", duration=5))
    assert got["confirm"].get("reachable") is False
    world.nemesis.heal_all()  # start_registry: host answers, then every node through CoreDNS
    heal = next(e for e in world.history.of(Fault) if e.fault_id == got["fault"].fault_id and e.phase == "heal")
    assert heal.outcome == "ok", heal.detail
    assert ip() == ip_before, "the registry's IP changed across the outage"
    world.env.push_tag(world.ns, "app", "1.1.0")
    world.env.request_reconcile(world.ns, "ImageRepository", "app")

    def scanned_after_heal() -> bool:
        return any(e.t > heal.t and "1.1.0" in e.latest_tags for e in world.history.of(RepositoryScan))

    wait_until(scanned_after_heal, 120, what="a RepositoryScan after the heal that lists 1.1.0")


def test_kind_load_fallback_imports_with_ctr_on_the_node(world: Any) -> None:
    from pytest_fluxchaos.backends.kind.provision import import_with_ctr

    backend = world.env.backend
    image = backend.assets.registry_image  # small, on the host, not yet in the node
    import_with_ctr(backend.run, image, backend.nodes, 300)
    listed = _docker("exec", backend.nodes[0], "crictl", "images", "-o", "json").stdout
    assert image.split("/")[-1].split(":")[0] in listed and image.rsplit(":", 1)[1] in listed
