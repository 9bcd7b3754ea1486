"""The kubelet-like supervisor against a fake Docker API (no engine needed)."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest

from pytest_fluxchaos.waiting import wait_until
from pytest_fluxchaos.backends.docker.backoff import BackoffPolicy, CrashLoop
from pytest_fluxchaos.backends.docker.podspec import translate_deployment
from pytest_fluxchaos.backends.docker.supervisor import (
    LABEL_POD,
    PodRecord,
    Supervisor,
    Termination,
    parse_docker_time,
)


class FakeAPI:
    def __init__(self) -> None:
        self.containers_: dict[str, dict[str, Any]] = {}
        self.removed: list[str] = []

    def containers(self, all: bool = True, filters: dict | None = None) -> list[dict]:  # noqa: A002
        wanted = [lbl for lbl in (filters or {}).get("label", [])]
        out = []
        for cid, c in self.containers_.items():
            if all or c["State"]["Running"]:
                labels = c["labels"]
                if all_match(labels, wanted):
                    out.append({"Id": cid, "State": "running" if c["State"]["Running"] else "exited"})
        return out

    def inspect_container(self, cid: str) -> dict:
        if cid not in self.containers_:
            raise RuntimeError("404 No such container")
        c = self.containers_[cid]
        return {"State": dict(c["State"]), "NetworkSettings": {"Networks": {"n": {"IPAddress": "10.1.0.2"}}}}

    def remove_container(self, cid: str, force: bool = False, v: bool = False) -> None:
        # Without v=True Docker keeps the container's anonymous volumes: a leak.
        assert v, f"container {cid[:12]} removed without its anonymous volumes"
        self.containers_.pop(cid, None)
        self.removed.append(cid)

    def exit(self, cid: str, code: int, oom: bool = False) -> None:
        st = self.containers_[cid]["State"]
        st.update(Running=False, ExitCode=code, OOMKilled=oom, FinishedAt="2026-01-01T00:00:05.5Z")


def all_match(labels: dict[str, str], wanted: list[str]) -> bool:
    for w in wanted:
        k, _, v = w.partition("=")
        if labels.get(k) != v:
            return False
    return True


class FakeDocker:
    def __init__(self) -> None:
        self.api = FakeAPI()


_ids = itertools.count(1)


def make_create(fake: FakeDocker, fail: list[bool] | None = None):
    def create(pod: PodRecord, docker: Any) -> tuple[str, str]:
        if fail and fail.pop(0):
            raise RuntimeError("image missing")
        cid = f"c{next(_ids):04d}" + "0" * 60
        fake.api.containers_[cid] = {
            "labels": {"io.fluxchaos.run": "r1", "io.fluxchaos.role": "pod", LABEL_POD: f"{pod.namespace}/{pod.name}"},
            "State": {"Running": True, "ExitCode": 0, "OOMKilled": False,
                      "StartedAt": "2026-01-01T00:00:00.123456789Z", "FinishedAt": "0001-01-01T00:00:00Z"},
        }
        return cid, f"name-{pod.attempts}"

    return create


@pytest.fixture
def setup(deployment):
    fake = FakeDocker()
    policy = BackoffPolicy(initial=0.3, maximum=0.6)
    sup = Supervisor("r1", lambda: fake, make_create(fake), backoff=policy, poll_interval=0.02)
    tmpl = translate_deployment(deployment, "ns")
    pod = PodRecord(namespace="ns", name="p-1", uid="u", index=0, template=tmpl, image="img",
                    volumes={}, owned_volumes=[], crash=CrashLoop(policy))
    sup.add(pod)
    sup.launch(pod, fake)
    return fake, sup, pod


def test_first_start(setup) -> None:
    fake, sup, pod = setup
    st = sup.statuses("ns")[0]
    assert st.state == "running" and st.restart_count == 0 and st.reason is None
    assert st.container_id == pod.container_id


def test_exit_restarts_with_new_container_and_last_state(setup) -> None:
    fake, sup, pod = setup
    first = pod.container_id
    fake.api.exit(first, 137)
    sup.tick()  # detects the exit, restarts at once (first exit)
    st = sup.statuses("ns")[0]
    assert st.state == "running"
    assert st.container_id != first
    assert st.restart_count == 1
    assert (st.reason, st.exit_code, st.oom_killed) == ("Error", 137, False)
    assert pod.last_termination and pod.last_termination.container_id == first
    assert pod.previous_container_id == first


def test_oom_reason(setup) -> None:
    fake, sup, pod = setup
    fake.api.exit(pod.container_id, 137, oom=True)
    sup.tick()
    st = sup.statuses("ns")[0]
    assert (st.reason, st.exit_code, st.oom_killed, st.restart_count) == ("OOMKilled", 137, True, 1)


def test_crash_loop_backoff(setup) -> None:
    fake, sup, pod = setup
    fake.api.exit(pod.container_id, 1)
    sup.tick()
    assert pod.restart_count == 1
    fake.api.exit(pod.container_id, 1)
    sup.tick()  # second consecutive exit: back off 0.3s
    st = sup.statuses("ns")[0]
    assert (st.state, st.reason, st.exit_code) == ("waiting", "CrashLoopBackOff", 1)
    sup.tick()
    assert pod.state == "waiting"
    time.sleep(0.35)
    sup.tick()
    assert pod.state == "running" and pod.restart_count == 2


def test_keeps_only_previous_container(setup) -> None:
    fake, sup, pod = setup
    ids = [pod.container_id]
    for _ in range(3):
        fake.api.exit(pod.container_id, 137)
        sup.tick()
        if pod.state != "running":
            time.sleep(0.65)
            sup.tick()
        ids.append(pod.container_id)
    assert set(fake.api.containers_) == {ids[-1], ids[-2]}


def test_background_thread_and_wait(setup) -> None:
    fake, sup, pod = setup
    sup.start()
    try:
        first = pod.container_id
        fake.api.exit(first, 137, oom=True)
        wait_until(lambda: pod.container_id != first and pod.state == "running", 5,
                   what="the restarted container", condition=sup.changed)
        assert pod.restart_count == 1 and pod.last_termination.oom_killed
    finally:
        sup.stop()
    assert not sup.running


def test_removed_pod_is_not_restarted(setup) -> None:
    fake, sup, pod = setup
    sup.remove("ns", "p-1")
    fake.api.exit(pod.container_id, 137)
    sup.tick()
    assert sup.statuses("ns") == []


def test_start_error_backs_off(deployment) -> None:
    fake = FakeDocker()
    policy = BackoffPolicy(initial=0.2, maximum=0.2)
    sup = Supervisor("r1", lambda: fake, make_create(fake, fail=[True]), backoff=policy)
    tmpl = translate_deployment(deployment, "ns")
    pod = PodRecord(namespace="ns", name="p", uid="u", index=0, template=tmpl, image="img",
                    volumes={}, owned_volumes=[], crash=CrashLoop(policy))
    sup.add(pod)
    sup.launch(pod, fake)
    st = sup.statuses("ns")[0]
    assert (st.state, st.reason) == ("waiting", "CreateContainerError")
    time.sleep(0.25)
    sup.tick()
    assert pod.state == "running"


def test_termination_from_inspect() -> None:
    t = Termination.from_inspect("c", {"ExitCode": 0, "OOMKilled": False, "StartedAt": "2026-01-01T00:00:00Z",
                                       "FinishedAt": "2026-01-01T00:01:00.5Z"})
    assert t.reason == "Completed" and t.ran_for == pytest.approx(60.5)
    assert parse_docker_time("0001-01-01T00:00:00Z") is None
    assert parse_docker_time("2026-11-28T04:09:53.05682011Z").microsecond == 56820
