"""End to end on kind: flux2#4984, lease churn, a restart storm and registry lies on a real cluster.

Runs, in a subprocess (a fresh pytest session, exactly what a user types)::

    pytest -p fluxchaos suites/flux2-4984-oom-failover.yaml::two-flips-stale-db \\
        suites/lease-churn.yaml suites/restart-storm.yaml \\
        suites/known-bugs/truncated-listing.yaml::truncated-better-tag-present \\
        suites/registry-lies.yaml::throttled-429 suites/registry-lies.yaml::tcp-latency \\
        --fluxchaos-backend=kind ...

on one kind cluster made from the offline asset set (or the official images with
``FLUXCHAOS_E2E_ASSETS=online``), and checks: every item passed against its suite's
``expect``; 4984 reproduces on ``ha-emptydir`` (no-regression false) and not on
``single``; the controllers scan through the cluster's fault proxy, whose liar truncates
a listing (no-regression false, the lie named) and throttles with 429, and whose
Toxiproxy adds latency, each confirmed from the proxy's own log; every fault was
kernel-, API- or proxy-confirmed (faults-landed true); each
``verdict.json`` says which kind and node image ran and which path gave them; and no
cluster, node container, registry container or network of the run is left.

**Not selected: ``two-flips-stale-db-always``.** It documents an upstream bug: with
``digestReflectionPolicy: Always`` IRC v1.2.4's fetchDigest ignores ``insecure: true``
and talks HTTPS to the plain-HTTP registry under its DNS name, so the policy never
resolves and the scenario ends "could not proceed" (all verdicts unknown, or an error).
That outcome must never be a suite's expected result by accident, so the e2e names
``::two-flips-stale-db`` and asserts the ``-always`` item did not run; the bug is
recorded in the suite file and README, where a fix would be noticed by running it.

Never skipped where Docker answers: missing kind assets or controller images are a
failure that says to build them (``python -m pytest_fluxchaos.assets build --kind``
and ``... build``). Took 11 min 20 s on 2 cores with the three lie items.

Environment: ``FLUXCHAOS_E2E_FLUX_VERSION`` (2.9.4), ``FLUXCHAOS_E2E_ARTIFACTS`` (keep
the artifacts there, e.g. for ``benchmarks/kind_bench.py table``),
``FLUXCHAOS_E2E_ASSETS`` (``auto``; ``online`` lets the inner run pull official images),
``FLUXCHAOS_E2E_KIND_IMAGE`` / ``FLUXCHAOS_KIND_BIN`` (override the asset set's).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest
from realenv import warm_assets

from pytest_fluxchaos.assets import cached_kind

REPO = Path(__file__).resolve().parents[2]
# Resolved at import, before pytester points HOME at its own directory: the inner run
# must find the asset cache where it really is.
REAL_HOME = str(Path.home())
FLUX_VERSION = os.environ.get("FLUXCHAOS_E2E_FLUX_VERSION", "2.9.4")
ASSETS = os.environ.get("FLUXCHAOS_E2E_ASSETS", "auto")
SELECTION = ["suites/flux2-4984-oom-failover.yaml::two-flips-stale-db", "suites/lease-churn.yaml",
             "suites/restart-storm.yaml", "suites/known-bugs/truncated-listing.yaml::truncated-better-tag-present",
             "suites/registry-lies.yaml::throttled-429", "suites/registry-lies.yaml::tcp-latency"]
EXPECTED_ITEMS = {"two-flips-stale-db[single]", "two-flips-stale-db[ha-emptydir]",
                  "lease-deletions-while-pushing[ha-emptydir]", "oom-and-pod-delete-storm[single]",
                  "truncated-better-tag-present[single]", "throttled-429[single]", "tcp-latency[single]"}
BUILD = "python -m pytest_fluxchaos.assets build"

pytestmark = [pytest.mark.docker, pytest.mark.kind]


def _run(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


def missing_assets() -> str | None:
    """Why the e2e cannot run here (a failure, not a skip), or None."""
    if ASSETS == "online":
        return None  # the inner run pulls the official images
    if cached_kind() is None and not (os.environ.get("FLUXCHAOS_KIND_BIN")
                                      and os.environ.get("FLUXCHAOS_E2E_KIND_IMAGE")):
        return f"the kind assets are not built: run `{BUILD} --kind` (about 16 minutes offline)"
    if warm_assets(FLUX_VERSION) is None:
        return f"the controller images for Flux {FLUX_VERSION} are not built: run `{BUILD}`"
    return None


# At import, like REAL_HOME: pytester moves HOME (and with it the default asset cache).
WHY_NOT = missing_assets()
KIND = cached_kind() if WHY_NOT is None and ASSETS != "online" else None


def leftovers(cluster: str) -> list[str]:
    names = _run(["docker", "ps", "-a", "--format", "{{.Names}}"]).stdout.split()
    return [n for n in names if n.startswith(cluster)]


def test_suites_on_kind(pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if WHY_NOT is not None:
        pytest.fail(WHY_NOT, pytrace=False)
    monkeypatch.setenv("HOME", REAL_HOME)
    cluster = f"fc-e2e-{secrets.token_hex(2)}"
    artifacts = Path(os.environ.get("FLUXCHAOS_E2E_ARTIFACTS") or tmp_path / "artifacts")
    pytester.mkdir("suites")
    pytester.mkdir("suites/known-bugs")
    for suite in ("flux2-4984-oom-failover.yaml", "lease-churn.yaml", "restart-storm.yaml", "registry-lies.yaml",
                  "known-bugs/truncated-listing.yaml"):
        shutil.copy(REPO / "suites" / suite, pytester.path / "suites" / suite)
    shutil.copy(REPO / "kind-config.yaml", pytester.path / "kind-config.yaml")
    network_before = _run(["docker", "network", "inspect", "kind"]).returncode == 0
    extra = [f"--kind-image={os.environ['FLUXCHAOS_E2E_KIND_IMAGE']}"] \
        if os.environ.get("FLUXCHAOS_E2E_KIND_IMAGE") else []
    kind = KIND
    try:
        result = pytester.runpytest_subprocess(
            "-p", "fluxchaos", *SELECTION, "-p", "no:cacheprovider", "-rA",
            "--fluxchaos-backend=kind", f"--fluxchaos-flux-version={FLUX_VERSION}",
            f"--fluxchaos-artifacts={artifacts}", f"--fluxchaos-assets={ASSETS}",
            f"--cluster-name={cluster}", *extra, timeout=3600)
        out = result.stdout.str()
        outcomes = result.parseoutcomes()
        assert outcomes.get("failed", 0) == 0 and outcomes.get("errors", 0) == 0, out[-6000:]
        verdicts = {}
        for path in artifacts.rglob("verdict.json"):
            data = json.loads(path.read_text())
            verdicts[f"{data['scenario']}[{data['variant']}]"] = data
        # Exactly the selection: the "-always" scenario (an upstream bug, "cannot proceed") is out.
        assert set(verdicts) == EXPECTED_ITEMS, (sorted(verdicts), out[-3000:])
        assert outcomes.get("passed", 0) == len(EXPECTED_ITEMS), out[-6000:]
        for item, data in verdicts.items():
            checkers = {name: c["verdict"] for name, c in data["checkers"].items()}
            assert data["backend"] == "kind" and data["passed"] is True, (item, checkers)
            assert checkers["faults-landed"] == "true", (item, data["checkers"]["faults-landed"])
            details = data["backend_details"]
            assert details["cluster"] == cluster and details["asset_path"] in ("offline-build", "online")
            assert details["node_image"] and details["kind_version"] == "v0.30.0", details
        assert verdicts["two-flips-stale-db[ha-emptydir]"]["checkers"]["no-regression"]["verdict"] == "false"
        assert verdicts["two-flips-stale-db[single]"]["checkers"]["no-regression"]["verdict"] == "true"
        # The automation loop on kind: IAC writes the rolled-back tag to the Git server.
        git_ha = verdicts["two-flips-stale-db[ha-emptydir]"]["checkers"]["git-no-regression"]
        assert git_ha["verdict"] == "false" and git_ha["summary"].startswith("commit "), git_ha
        assert verdicts["two-flips-stale-db[single]"]["checkers"]["git-no-regression"]["verdict"] == "true"
        assert verdicts["two-flips-stale-db[single]"]["checkers"]["git-converges"]["verdict"] == "true"
        # The registry lies on kind, each confirmed from the proxy's log, the truncation named.
        truncated = verdicts["truncated-better-tag-present[single]"]["checkers"]
        assert truncated["no-regression"]["verdict"] == "false", truncated["no-regression"]
        landed = "\n".join(truncated["faults-landed"]["evidence"])
        assert "served 1 lie(s)" in landed and "tags/list 200, 2 of 3 tags" in landed, landed
        throttled = "\n".join(verdicts["throttled-429[single]"]["checkers"]["faults-landed"]["evidence"])
        assert "tags/list 429, Retry-After 5s" in throttled, throttled
        lagged = "\n".join(verdicts["tcp-latency[single]"]["checkers"]["faults-landed"]["evidence"])
        assert "toxic_active=True" in lagged, lagged
        assert "kind: registry fault proxy " in out
        assert f"kind: node image {verdicts['two-flips-stale-db[single]']['backend_details']['node_image']}" in out
    finally:
        kind_bin = str(kind.kind_bin) if kind else "kind"
        clusters = _run([kind_bin, "get", "clusters"]).stdout.split()
        left = leftovers(cluster)
        if cluster in clusters:
            _run([kind_bin, "delete", "cluster", "--name", cluster], timeout=300)
        for name in left:
            _run(["docker", "rm", "-f", "-v", name])
    assert cluster not in clusters, "the plugin left its kind cluster behind"
    assert left == [], f"the plugin left containers behind: {left}"
    if not network_before:
        assert _run(["docker", "network", "inspect", "kind"]).returncode != 0, "kind's network was left behind"
