"""The image-automation objects of a scenario: its Git repository's files, the
GitRepository and the ImageUpdateAutomation, as plain manifests.

Pure functions (no client): the Kubernetes environment applies what they return, and
unit tests read it. One GitRepository named :data:`SOURCE_NAME` per namespace; the
ImageUpdateAutomation reads only its spec, so source-controller need not run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .durations import format_duration
from .scenario import AutomationSpec, Scenario
from .setters import marker_comment

SOURCE_NAME = "fleet"
AUTOMATION_NAME = "fleet"
SEED_TAG = "seed"
"""The tag the plugin's first commit gives every default marker; never a real tag, so
the first value a controller writes is recognisably the controller's."""


def repository_files(scenario: Scenario, namespace: str, registry: str,
                     image_ref: Callable[[str], str]) -> dict[str, str]:
    """The files of the first commit: the suite's manifests with ``${namespace}`` and
    ``${registry}`` replaced, or one Deployment per policy with a marked image line."""
    spec = scenario.automation
    assert spec is not None
    if spec.manifests:
        return {path: text.replace("${namespace}", namespace).replace("${registry}", registry)
                for path, text in spec.manifests.items()}
    files: dict[str, str] = {}
    for pol in scenario.policies:
        image = scenario.repository(pol.repository).image
        files[f"deploy/{pol.name}.yaml"] = "\n".join([
            "apiVersion: apps/v1",
            "kind: Deployment",
            "metadata:",
            f"  name: {pol.name}",
            f"  namespace: {namespace}",
            "spec:",
            "  selector:",
            "    matchLabels:",
            f"      app: {pol.name}",
            "  template:",
            "    metadata:",
            "      labels:",
            f"        app: {pol.name}",
            "    spec:",
            "      containers:",
            "        - name: app",
            f"          image: {image_ref(image)}:{SEED_TAG} {marker_comment(namespace, pol.name)}",
            "",
        ])
    return files


def git_repository(namespace: str, url: str, spec: AutomationSpec) -> dict[str, Any]:
    return {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": SOURCE_NAME, "namespace": namespace},
        "spec": {"url": url, "interval": "10m", "timeout": "60s",
                 "ref": {"branch": spec.checkout_branch}},
    }


def image_update_automation(namespace: str, spec: AutomationSpec,
                            api_version: str = "v1") -> dict[str, Any]:
    commit: dict[str, Any] = {"author": {"name": spec.git.commit.author.name,
                                         "email": spec.git.commit.author.email}}
    if spec.git.commit.message_template is not None:
        commit["messageTemplate"] = spec.git.commit.message_template
    return {
        "apiVersion": f"image.toolkit.fluxcd.io/{api_version}",
        "kind": "ImageUpdateAutomation",
        "metadata": {"name": AUTOMATION_NAME, "namespace": namespace},
        "spec": {
            "interval": format_duration(spec.interval),
            "sourceRef": {"kind": "GitRepository", "name": SOURCE_NAME},
            "git": {"checkout": {"ref": {"branch": spec.checkout_branch}},
                    "commit": commit,
                    "push": {"branch": spec.push_branch}},
            "update": {"path": spec.update.path, "strategy": spec.update.strategy},
        },
    }
