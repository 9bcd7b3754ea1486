"""Label-based cleanup: complete, idempotent, and finished even after Ctrl-C."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_fluxchaos.backends.docker.cleanup import remove_labelled


class FakeAPI:
    def __init__(self, interrupt_on: str | None = None) -> None:
        self.containers_ = {f"c{i}": {"run": "r1"} for i in range(5)} | {"other": {"run": "r2"}}
        self.networks_ = {"n1": "r1", "n2": "r2"}
        self.volumes_ = {"v1": "r1", "v2": "r1", "v3": "r2"}
        self.interrupt_on = interrupt_on

    def _match(self, run: str, filters: dict) -> bool:
        return filters["label"] in (f"io.fluxchaos.run={run}", "io.fluxchaos.managed=true")

    def containers(self, all: bool, filters: dict) -> list[dict]:  # noqa: A002
        return [{"Id": k} for k, v in self.containers_.items() if self._match(v["run"], filters)]

    def remove_container(self, cid: str, force: bool, v: bool) -> None:
        if self.interrupt_on == cid:
            self.interrupt_on = None
            raise KeyboardInterrupt
        if cid not in self.containers_:
            raise RuntimeError("404 No such container")
        del self.containers_[cid]

    def networks(self, filters: dict) -> list[dict]:
        return [{"Id": k, "Name": k} for k, run in self.networks_.items() if self._match(run, filters)]

    def remove_network(self, nid: str) -> None:
        if self.interrupt_on == nid:
            self.interrupt_on = None
            raise KeyboardInterrupt
        del self.networks_[nid]

    def volumes(self, filters: dict) -> dict[str, Any]:
        return {"Volumes": [{"Name": k} for k, run in self.volumes_.items() if self._match(run, filters)]}

    def remove_volume(self, name: str, force: bool) -> None:
        del self.volumes_[name]


class FakeDocker:
    def __init__(self, api: FakeAPI) -> None:
        self.api = api


def test_removes_only_the_run() -> None:
    api = FakeAPI()
    removed = remove_labelled(FakeDocker(api), "io.fluxchaos.run=r1")
    assert len(removed["containers"]) == 5 and removed["networks"] == ["n1"]
    assert set(api.containers_) == {"other"} and set(api.volumes_) == {"v3"}
    assert remove_labelled(FakeDocker(api), "io.fluxchaos.run=r1") == {"containers": [], "networks": [], "volumes": []}


@pytest.mark.parametrize("where", ["c2", "n1"])
def test_keyboard_interrupt_mid_way_still_sweeps(where: str) -> None:
    api = FakeAPI(interrupt_on=where)
    with pytest.raises(KeyboardInterrupt):
        remove_labelled(FakeDocker(api), "io.fluxchaos.run=r1")
    assert set(api.containers_) == {"other"}
    assert set(api.networks_) == {"n2"} and set(api.volumes_) == {"v3"}


def test_gc_all_runs() -> None:
    from pytest_fluxchaos.backends.docker import gc

    api = FakeAPI()
    removed = gc(all_runs=True, docker=FakeDocker(api))
    assert not api.containers_ and not api.networks_ and not api.volumes_
    assert len(removed["containers"]) == 6
    with pytest.raises(ValueError):
        gc(all_runs=False)


def test_docker_not_running_is_actionable(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from pytest_fluxchaos.domain import BackendError
    from pytest_fluxchaos.backends.docker import DockerBackend, connect_docker

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    with pytest.raises(BackendError, match="Docker is not running or not reachable") as exc:
        connect_docker(timeout=2)
    assert "\n" not in str(exc.value)
    b = DockerBackend(object(), install_signal_handlers=False)
    with pytest.raises(BackendError, match="Docker is not running"):
        b.provision()
    b.teardown()  # nothing to do, no error
