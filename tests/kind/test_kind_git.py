"""The kind backend's Git server, for real.

* ``test_holder_and_server_on_a_docker_network`` (Docker only): the holder/server pair of
  :mod:`pytest_fluxchaos.backends.kind.git_container` on a throw-away network standing in
  for kind's: the host pushes (dulwich), a container on the network clones by the
  holder's IP and pushes, an outage stops only the server (the IP stays), the heal brings
  the commits back, and ``remove`` leaves nothing.
* ``test_a_pod_clones_and_pushes`` (a real kind cluster): a pod running the Git server
  image clones through ``cluster_url`` and pushes; the host sees its commit.
"""

from __future__ import annotations

import io
import secrets
import subprocess
import time
from pathlib import Path

import pytest
from dulwich import porcelain
from realenv import require_assets, warm_assets

from pytest_fluxchaos.assets import cached_kind
from pytest_fluxchaos.backends.kind import commands as cmd
from pytest_fluxchaos.backends.kind.git_container import GitContainer
from pytest_fluxchaos.waiting import wait_until

AUTHOR = b"fluxchaos test <test@fluxchaos.invalid>"
FLUX_VERSION = "2.9.4"


def _docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


def push_first(tmp: Path, url: str, force: bool = False) -> None:
    repo = porcelain.init(str(tmp))
    repo.refs.set_symbolic_ref(b"HEAD", b"refs/heads/main")
    (tmp / "README").write_text("first\n")
    porcelain.add(repo, [str(tmp / "README")])
    porcelain.commit(repo, message=b"first from the host", author=AUTHOR, committer=AUTHOR)
    porcelain.push(repo, url, b"refs/heads/main", errstream=io.BytesIO(), force=force)
    repo.close()


def messages(url: str, target: Path) -> list[str]:
    repo = porcelain.clone(url, str(target), checkout=False, errstream=io.BytesIO())
    try:
        return [e.commit.message.decode().strip()
                for e in repo.get_walker(include=[repo.refs[b"refs/heads/main"]])]
    finally:
        repo.close()


def clone_commit_push(url: str) -> str:
    return (f"set -e; export HOME=/tmp; git clone -q {url} /tmp/w; cd /tmp/w; echo x > X; git add X; "
            "git -c user.name=inside -c user.email=inside@fluxchaos.invalid commit -q -m 'second from inside'; "
            "git push -q origin main")


@pytest.mark.docker
def test_holder_and_server_on_a_docker_network(tmp_path: Path) -> None:
    assets = require_assets()
    cluster = f"fc-git-{secrets.token_hex(2)}"
    network = f"{cluster}-net"
    created = _docker("network", "create", "--label", "io.fluxchaos.managed=true", network)
    assert created.returncode == 0, created.stderr
    git = GitContainer(cmd.Runner(), cluster)
    try:
        t0 = time.monotonic()
        git.ensure(assets.git_image, network, lambda _m: None)
        print(f"holder+server up and answering in {time.monotonic() - t0:.1f}s")
        ep = git.endpoint()
        assert ep.cluster_url == f"http://{git.ip}:8080/git"
        git.create_repo("fleet")
        git.create_repo("fleet")
        push_first(tmp_path / "local", ep.repo_url("fleet", host=True))
        out = _docker("run", "--rm", "--network", network, "--label", "io.fluxchaos.managed=true",
                      "-u", "www-data", "--entrypoint", "sh", assets.git_image, "-c",
                      clone_commit_push(ep.repo_url("fleet", host=False)))
        assert out.returncode == 0, out.stderr
        assert messages(ep.repo_url("fleet", host=True), tmp_path / "a") == ["second from inside",
                                                                              "first from the host"]
        ip = git.ip
        # a push cut by the outage leaves its ref lock behind; the heal must clear it
        _docker("exec", "-u", "www-data", git.server, "touch", "/srv/git/fleet.git/refs/heads/main.lock")
        git.stop()
        assert not git.reachable()
        git.start()
        assert git.reachable() and git._ip(network) == ip
        assert messages(ep.repo_url("fleet", host=True), tmp_path / "b") == ["second from inside",
                                                                              "first from the host"]
        push_first(tmp_path / "again", ep.repo_url("fleet", host=True), force=True)
        # the forced push replaced the history (a left lock: "failed to update ref", nothing moves)
        assert messages(ep.repo_url("fleet", host=True), tmp_path / "c") == ["first from the host"]
    finally:
        git.remove()
        _docker("network", "rm", network)
    names = _docker("ps", "-a", "--format", "{{.Names}}").stdout.split()
    assert not [n for n in names if n.startswith(cluster)]


@pytest.mark.docker
@pytest.mark.kind
def test_a_pod_clones_and_pushes(tmp_path: Path) -> None:
    from pytest_fluxchaos.backends.kind import KindOptions
    from pytest_fluxchaos.backends.kind import provision as setup
    from pytest_fluxchaos.backends.kind_environment import create_kind_environment
    from pytest_fluxchaos.settings import Settings

    if cached_kind() is None:
        pytest.fail("the kind assets are not built: run `python -m pytest_fluxchaos.assets build --kind`",
                    pytrace=False)
    assets = warm_assets(FLUX_VERSION)
    if assets is None:
        pytest.fail("the controller images are not built: run `python -m pytest_fluxchaos.assets build`",
                    pytrace=False)
    settings = Settings(backend="kind", variants=None, flux_versions=[FLUX_VERSION], artifacts=None, keep=False,
                        seed=None, timeout=None, converge=None, assets="auto", allow_cluster=None)
    cluster = f"fc-git-{secrets.token_hex(2)}"
    env = create_kind_environment(settings, FLUX_VERSION, lambda _m: None,
                                  options=KindOptions(cluster_name=cluster))
    try:
        b = env.backend
        env.create_git_repo("fleet")
        ep = env.git_server()
        push_first(tmp_path / "local", ep.repo_url("fleet", host=True))
        setup.load_image(b.run, b.kind_path, cluster, assets.git_image, 300, lambda _m: None, nodes=b.nodes)
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "git-client", "namespace": "default"},
               "spec": {"restartPolicy": "Never", "containers": [{
                   "name": "git", "image": assets.git_image, "imagePullPolicy": "Never",
                   "securityContext": {"runAsUser": 33},
                   "command": ["sh", "-c", clone_commit_push(ep.repo_url("fleet", host=False))]}]}}
        env.kube.core.create_namespaced_pod("default", pod)

        def phase() -> str | None:
            p = env.kube.core.read_namespaced_pod("git-client", "default").status.phase
            return p if p in ("Succeeded", "Failed") else None

        assert wait_until(phase, 120, what="the git client pod to finish") == "Succeeded", \
            env.kube.core.read_namespaced_pod_log("git-client", "default")
        assert messages(ep.repo_url("fleet", host=True), tmp_path / "seen") == ["second from inside",
                                                                                 "first from the host"]
    finally:
        env.close()
    names = _docker("ps", "-a", "--format", "{{.Names}}").stdout.split()
    assert not [n for n in names if n.startswith(cluster)], "containers of the cluster left behind"
