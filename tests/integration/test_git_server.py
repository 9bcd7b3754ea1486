"""The environment's Git server on the docker backend, for real.

Issue 11 (image automation writes the rolled-back tag to Git) needs a smart-HTTP Git
server that image-automation-controller clones from and pushes to inside the
environment. Here: the host pushes a first commit (dulwich), a container on the
environment's network clones it through ``cluster_url`` with the git CLI and pushes a
second; the host sees it. A stop makes the server unreachable, a start brings it back
with both commits; teardown leaves no container, network or volume (anonymous ones too).
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import docker
import pytest
from dulwich import porcelain
from dulwich.repo import Repo
from realenv import require_assets

from pytest_fluxchaos.backends.docker.backend import DockerBackend
from pytest_fluxchaos.backends.docker.client import Containers
from pytest_fluxchaos.backends.docker.labels import LABEL_RUN

pytestmark = pytest.mark.docker

AUTHOR = b"fluxchaos test <test@fluxchaos.invalid>"


def host_commit(path: Path, message: str) -> Repo:
    """A local repository on ``main`` with one commit of ``README``."""
    repo = porcelain.init(str(path))
    repo.refs.set_symbolic_ref(b"HEAD", b"refs/heads/main")
    (path / "README").write_text(message + "\n")
    porcelain.add(repo, [str(path / "README")])
    porcelain.commit(repo, message=message.encode(), author=AUTHOR, committer=AUTHOR)
    return repo


def host_messages(url: str, target: Path) -> list[str]:
    """The commit messages of ``main`` as a fresh clone from the host sees them."""
    repo = porcelain.clone(url, str(target), checkout=False, errstream=io.BytesIO())
    try:
        walker = repo.get_walker(include=[repo.refs[b"refs/heads/main"]])
        return [entry.commit.message.decode().strip() for entry in walker]
    finally:
        repo.close()


def volume_names(client: docker.DockerClient) -> set[str]:
    return {v["Name"] for v in (client.api.volumes() or {}).get("Volumes") or []}


def test_push_clone_outage_and_teardown(tmp_path: Path) -> None:
    assets = require_assets()
    client = docker.from_env()
    volumes_before = volume_names(client)
    backend = DockerBackend(assets, install_signal_handlers=False)
    try:
        t0 = time.monotonic()
        backend.provision()
        print(f"provision {time.monotonic() - t0:.1f}s")
        git = backend.git_server()
        assert git.host_url.startswith("http://127.0.0.1:")
        assert git.cluster_url == f"http://{backend.prefix}-git:8080/git"
        backend.create_git_repo("fleet")
        backend.create_git_repo("fleet")  # idempotent
        assert backend.git_reachable()

        local = host_commit(tmp_path / "local", "first from the host")
        porcelain.push(local, git.repo_url("fleet", host=True), b"refs/heads/main", errstream=io.BytesIO())
        local.close()

        inside = (f"set -e; git clone -q {git.repo_url('fleet', host=False)} /tmp/w; cd /tmp/w; "
                  "test \"$(git log -1 --format=%s)\" = 'first from the host'; "
                  "echo second > SECOND; git add SECOND; "
                  "git -c user.name=inside -c user.email=inside@fluxchaos.invalid commit -q -m 'second from inside'; "
                  "git push -q origin main")
        code, out = Containers(backend._docker, backend.labels).run_to_end(
            f"{backend.prefix}-git-client", assets.git_image, 60, network=backend.network_name,
            entrypoint=["sh", "-c", inside], user="www-data", environment={"HOME": "/tmp"})
        assert code == 0, out
        assert host_messages(git.repo_url("fleet", host=True), tmp_path / "seen") == [
            "second from inside", "first from the host"]

        # a push cut by the outage leaves its ref lock behind; the heal must clear it
        api = backend._docker.api
        api.exec_start(api.exec_create(f"{backend.prefix}-git", ["touch", "/srv/git/fleet.git/refs/heads/main.lock"],
                                       user="www-data")["Id"])
        backend.stop_git()
        assert not backend.git_reachable()
        with pytest.raises(Exception):  # noqa: B017 - any transport error: the server is down
            porcelain.ls_remote(git.repo_url("fleet", host=True))
        t1 = time.monotonic()
        backend.start_git()
        print(f"start_git {time.monotonic() - t1:.2f}s")
        assert backend.git_reachable()
        assert backend.git_server() == git  # same name and port
        assert host_messages(git.repo_url("fleet", host=True), tmp_path / "after") == [
            "second from inside", "first from the host"]
        code, out = Containers(backend._docker, backend.labels).run_to_end(
            f"{backend.prefix}-git-client2", assets.git_image, 60, network=backend.network_name,
            entrypoint=["sh", "-c", inside.replace("/tmp/w", "/tmp/w2").replace("second", "third")
                        .replace("test \"$(git log -1 --format=%s)\" = 'first from the host'; ", "")],
            user="www-data", environment={"HOME": "/tmp"})
        assert code == 0, out  # without the heal's clean-up: "failed to update ref"
    finally:
        backend.teardown()
    label = {"label": f"{LABEL_RUN}={backend.run_id}"}
    assert client.api.containers(all=True, filters=label) == []
    assert client.api.networks(filters=label) == []
    assert volume_names(client) == volumes_before  # named and anonymous


def test_git_outage_through_the_nemesis(tmp_path: Path) -> None:
    """The git-outage fault on the real server, as a suite's step injects it: confirmed
    down, healed after its duration, the repository intact."""
    from pytest_fluxchaos.backends.kube_environment import KubeEnvironment
    from pytest_fluxchaos.history import Fault, History
    from pytest_fluxchaos.nemesis import Nemesis
    from pytest_fluxchaos.scenario import FaultAction

    assets = require_assets()
    backend = DockerBackend(assets, install_signal_handlers=False)
    backend.provision()
    env = KubeEnvironment(backend, irc_version=assets.irc_version, flux_version=assets.flux_version,
                          manifests_dir=assets.manifests_dir)
    try:
        env.create_git_repo("fleet")
        local = host_commit(tmp_path / "local", "before the outage")
        porcelain.push(local, env.git_server().repo_url("fleet", host=True), b"refs/heads/main",
                       errstream=io.BytesIO())
        local.close()
        history = History()
        nemesis = Nemesis(env, "default", history)
        fault = nemesis.inject(FaultAction(kind="git-outage", duration=0.5, confirm_timeout=10))
        assert not env.git_reachable()
        nemesis.heal_all()
        assert fault.healed and env.git_reachable()
        outcomes = {e.phase: e.outcome for e in history.of(Fault)}
        assert (outcomes["confirm"], outcomes["heal"]) == ("ok", "ok")
        assert host_messages(env.git_server().repo_url("fleet", host=True), tmp_path / "seen") == [
            "before the outage"]
    finally:
        env.close()
