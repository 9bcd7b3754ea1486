"""End to end on kind: the flux2#4984 suite against a real cluster, created and deleted.

Runs ``pytest -p fluxchaos suites/flux2-4984-oom-failover.yaml --fluxchaos-backend=kind``
in a subprocess (a fresh pytest session, exactly what a user types) and checks that
every item passed (on ``ha-emptydir`` the suite *expects* the regression: reproducing
the bug is a pass), that verdicts were written, and that neither the cluster nor its
registry is left behind.

Needs a kind binary, a Docker engine that can start privileged containers (kind's
nodes are privileged) and the node image (local, or pullable). Where one is missing
the module is skipped with one reason saying how to run it. On a machine whose Docker
has internet::

    go install sigs.k8s.io/kind@v0.30.0          # or a kind release binary on PATH
    docker pull kindest/node:v1.34.0
    pytest tests/kind/test_kind_e2e.py -v        # runs pytest -p fluxchaos ... --fluxchaos-backend=kind

Environment: ``FLUXCHAOS_E2E_FLUX_VERSION`` (default 2.9.4), ``FLUXCHAOS_E2E_VARIANTS``
(default ``single,ha-emptydir``), ``FLUXCHAOS_E2E_ARTIFACTS`` (keep the artifacts there),
``FLUXCHAOS_E2E_ASSETS`` (``auto``; ``online`` uses the official images),
``FLUXCHAOS_KIND_BIN`` (a kind binary not on PATH).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest
from realenv import docker_reason

from pytest_fluxchaos.backends.kind.options import KIND_VERSION, NODE_IMAGE, KindOptions, resolve_kind_binary

REPO = Path(__file__).resolve().parents[2]
# Resolved at import, before pytester points HOME at its own directory: the inner run
# must find the asset cache (and Go's caches, should it build) where they really are.
REAL_HOME = str(Path.home())
SUITE = REPO / "suites" / "flux2-4984-oom-failover.yaml"
FLUX_VERSION = os.environ.get("FLUXCHAOS_E2E_FLUX_VERSION", "2.9.4")
VARIANTS = os.environ.get("FLUXCHAOS_E2E_VARIANTS", "single,ha-emptydir")
NODE = os.environ.get("FLUXCHAOS_E2E_KIND_IMAGE", NODE_IMAGE)
HOWTO = (f"on a machine whose Docker has internet: `go install sigs.k8s.io/kind@{KIND_VERSION}`, "
         f"`docker pull {NODE}`, then `pytest tests/kind/test_kind_e2e.py` (docs/kind.md)")


def _run(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


def _kind_binary() -> Path | None:
    if os.environ.get("FLUXCHAOS_KIND_BIN"):
        return Path(os.environ["FLUXCHAOS_KIND_BIN"])
    path, _source = resolve_kind_binary(KindOptions())
    return path


def _registry_reachable() -> bool:
    try:
        urllib.request.urlopen("https://registry-1.docker.io/v2/", timeout=5)
    except urllib.error.HTTPError:
        return True  # 401: reachable
    except Exception:  # noqa: BLE001
        return False
    return True


def _skip_reason() -> str | None:
    """The first missing prerequisite, as one line; None when the e2e can run."""
    kind = _kind_binary()
    if kind is None or not kind.exists():
        return f"no kind binary (PATH, --kind-bin, FLUXCHAOS_KIND_BIN); {HOWTO}"
    docker = docker_reason()
    if docker is not None:
        return docker  # the docker marker's one reason
    try:
        have_image = _run(["docker", "image", "inspect", NODE]).returncode == 0
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"docker unusable ({exc}); {HOWTO}"
    if not have_image and not _registry_reachable():
        return f"{NODE} not present and no registry reachable: {HOWTO}"
    if have_image:
        probe = _run(["docker", "run", "--rm", "--privileged", "--entrypoint", "true", NODE], timeout=120)
        if probe.returncode != 0:
            return (f"this Docker engine cannot start privileged containers, which kind's nodes are "
                    f"({' '.join(probe.stderr.split())[:160]}); {HOWTO}")
    return None


REASON = _skip_reason()
pytestmark = [pytest.mark.docker, pytest.mark.skipif(REASON is not None, reason=REASON or "")]


def test_4984_suite_on_kind(pytester: pytest.Pytester, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", REAL_HOME)
    kind = _kind_binary()
    assert kind is not None
    cluster = f"fluxchaos-e2e-{secrets.token_hex(2)}"
    artifacts = Path(os.environ.get("FLUXCHAOS_E2E_ARTIFACTS") or tmp_path / "artifacts")
    pytester.mkdir("suites")
    shutil.copy(SUITE, pytester.path / "suites" / SUITE.name)
    shutil.copy(REPO / "kind-config.yaml", pytester.path / "kind-config.yaml")
    try:
        result = pytester.runpytest_subprocess(
            "-p", "fluxchaos", f"suites/{SUITE.name}", "-p", "no:cacheprovider", "-rA",
            "--fluxchaos-backend=kind", f"--fluxchaos-flux-version={FLUX_VERSION}",
            f"--fluxchaos-variants={VARIANTS}", f"--fluxchaos-artifacts={artifacts}",
            f"--fluxchaos-assets={os.environ.get('FLUXCHAOS_E2E_ASSETS', 'auto')}",
            f"--cluster-name={cluster}", f"--kind-bin={kind}", f"--kind-image={NODE}",
            timeout=3 * 3600,
        )
        out = result.stdout.str()
        outcomes = result.parseoutcomes()
        assert outcomes.get("failed", 0) == 0 and outcomes.get("errors", 0) == 0, out[-6000:]
        assert outcomes.get("passed", 0) >= 2, out[-6000:]
        verdicts = sorted(artifacts.rglob("verdict.json"))
        assert len(verdicts) == outcomes["passed"]
        for path in verdicts:
            data = json.loads(path.read_text())
            # passed: every checker (faults-landed included: each OOM kill confirmed from pod
            # status) gave the verdict the suite expects for this variant.
            assert data["backend"] == "kind" and data["passed"] is True, (path, data["checkers"])
    finally:
        clusters = _run([str(kind), "get", "clusters"]).stdout.split()
        leftover_registry = _run(["docker", "inspect", f"{cluster}-registry"]).returncode == 0
        if cluster in clusters:
            _run([str(kind), "delete", "cluster", "--name", cluster], timeout=300)
        if leftover_registry:
            _run(["docker", "rm", "-f", "-v", f"{cluster}-registry"])
    assert cluster not in clusters, "the plugin left its kind cluster behind"
    assert not leftover_registry, "the plugin left its registry container behind"
