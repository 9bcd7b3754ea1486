"""The Git client seeds a repository and records each new commit with its markers.

These use dulwich's local transport against a bare repository on disk (fast, no
server); the smart-HTTP path against the environment's real Git server is exercised by
the backend tests and the automation scenarios.
"""

from __future__ import annotations

from pathlib import Path

from dulwich import porcelain
from dulwich.repo import Repo

from pytest_fluxchaos.automation import (SEED_TAG, git_repository, image_update_automation,
                                         repository_files)
from pytest_fluxchaos.gitrepo import GitError, GitRemote, GitWatcher
from pytest_fluxchaos.history import GitCommit, History
from pytest_fluxchaos.scenario import Scenario

import pytest

SCENARIO = {
    "name": "auto", "images": [{"name": "app", "tags": ["1.0.0", "1.1.0"]}],
    "repositories": [{"name": "app", "image": "app"}],
    "policies": [{"name": "app", "repository": "app", "policy": {"semver": {"range": ">=1.0.0"}}}],
    "automation": {"interval": "10s", "git": {"push": {"branch": "main"}}},
}


def controller_commit(remote: Path, tmp: Path, old: str, new: str) -> str:
    """What image-automation-controller does: clone, rewrite the marked line, push."""
    work = tmp / "clone"
    repo = porcelain.clone(str(remote), str(work), checkout=True, branch=b"main")
    path = work / "deploy" / "app.yaml"
    path.write_text(path.read_text().replace(f":{old} ", f":{new} "))
    porcelain.add(repo, [str(path)])
    sha = porcelain.commit(repo, message=f"app to {new}".encode(),
                           author=b"fluxcdbot <bot@example.com>",
                           committer=b"fluxcdbot <bot@example.com>")
    porcelain.push(repo, str(remote), b"refs/heads/main:refs/heads/main")
    repo.close()
    return sha.decode()


def test_seed_then_a_controller_commit_are_recorded_with_markers(tmp_path):
    scenario = Scenario.model_validate(SCENARIO)
    bare = tmp_path / "remote.git"
    Repo.init_bare(str(bare), mkdir=True).close()
    files = repository_files(scenario, "ns1", "reg:5000", lambda image: f"reg:5000/ns1/{image}")
    remote = GitRemote(str(bare), "main", workdir=tmp_path / "mirror")
    seed = remote.seed(files)
    history = History()
    watcher = GitWatcher(remote, history, "ns1", seed_sha=seed)
    assert watcher.poll() == 1
    sha = controller_commit(bare, tmp_path, SEED_TAG, "1.1.0")
    assert watcher.poll() == 1
    assert watcher.poll() == 0
    first, second = history.of(GitCommit)
    assert (first.sha, first.seed, second.sha, second.seed) == (seed, True, sha, False)
    assert second.parents == (seed,)
    [marker] = second.markers
    assert (marker["path"], marker["policy"], marker["tag"]) == ("deploy/app.yaml", "ns1/app", "1.1.0")
    assert first.markers[0]["tag"] == SEED_TAG
    assert second.message == "app to 1.1.0" and second.author.startswith("fluxcdbot")
    assert watcher.stop() == []


def test_an_unreachable_server_is_an_error_the_watcher_counts(tmp_path):
    remote = GitRemote("http://127.0.0.1:9/none.git", "main", workdir=tmp_path / "m")
    with pytest.raises(GitError, match="127.0.0.1:9"):
        remote.seed({"a.yaml": "x: 1\n"})
    watcher = GitWatcher(remote, History(), "r")
    assert watcher.poll() == 0
    assert len(watcher.errors) == 1 and "fetching http://127.0.0.1:9/none.git failed" in watcher.errors[0]
    remote.close()


def test_objects_follow_flux_names():
    spec = Scenario.model_validate(SCENARIO).automation
    assert spec is not None
    iua = image_update_automation("ns1", spec)
    assert iua["spec"]["git"] == {"checkout": {"ref": {"branch": "main"}},
                                  "commit": {"author": {"name": "fluxcdbot",
                                                        "email": "fluxcdbot@users.noreply.github.com"}},
                                  "push": {"branch": "main"}}
    assert iua["spec"]["interval"] == "10s" and iua["spec"]["update"] == {"path": "./",
                                                                        "strategy": "Setters"}
    repo = git_repository("ns1", "http://git:80/ns1.git", spec)
    assert repo["spec"]["url"] == "http://git:80/ns1.git" and repo["spec"]["ref"] == {"branch": "main"}


def test_declared_manifests_get_namespace_and_registry():
    data = {**SCENARIO, "automation": {"manifests": {
        "apps/app.yaml": 'image: ${registry}/${namespace}/app:1.0.0 # {"$imagepolicy": "${namespace}:app"}\n'}}}
    files = repository_files(Scenario.model_validate(data), "ns9", "reg:1", lambda i: i)
    assert files == {"apps/app.yaml": 'image: reg:1/ns9/app:1.0.0 # {"$imagepolicy": "ns9:app"}\n'}


def test_a_marker_naming_an_unknown_policy_is_a_load_error():
    data = {**SCENARIO, "automation": {"manifests": {
        "a.yaml": 'image: x:1 # {"$imagepolicy": "${namespace}:nope"}\n'}}}
    with pytest.raises(ValueError, match=r"a.yaml:1: marker names policy 'nope'"):
        Scenario.model_validate(data)
