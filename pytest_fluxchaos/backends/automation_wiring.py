"""Start a scenario's image automation in a namespace: Git repository, seed, objects, watcher.

Shared by every backend: the backend only runs the Git server (``create_git_repo``,
``git_server``); what goes into the repository and which Flux objects point at it is
the same everywhere.
"""

from __future__ import annotations

from collections.abc import Callable

from ..automation import git_repository, image_update_automation, repository_files
from ..gitrepo import GitRemote, GitWatcher
from ..history import History, Note
from ..kube import KubeClient
from ..scenario import Scenario
from .base import Backend


def start_automation(backend: Backend, kube: KubeClient, namespace: str, scenario: Scenario,
                     history: History, registry_host: str,
                     image_ref: Callable[[str], str]) -> GitWatcher:
    """Create and seed the namespace's repository, apply the GitRepository and the
    ImageUpdateAutomation, and start watching the push branch (returned)."""
    spec = scenario.automation
    assert spec is not None
    endpoint = backend.git_server()
    backend.create_git_repo(namespace)
    files = repository_files(scenario, namespace, registry_host, image_ref)
    seeder = GitRemote(endpoint.repo_url(namespace, host=True), spec.checkout_branch)
    try:
        seed = seeder.seed(files)
    finally:
        seeder.close()
    history.record(Note, message="git seeded", data={
        "repo": namespace, "branch": spec.checkout_branch, "sha": seed, "files": sorted(files)})
    remote = GitRemote(endpoint.repo_url(namespace, host=True), spec.push_branch,
                       path_prefix=spec.update.path)
    watcher = GitWatcher(remote, history, namespace, seed_sha=seed)
    watcher.start()
    cluster_url = endpoint.repo_url(namespace, host=False)
    kube.apply_manifest([
        git_repository(namespace, cluster_url, spec),
        image_update_automation(namespace, spec, kube.image_api_version("imageupdateautomations")),
    ])
    return watcher
