"""Nothing is left behind: a failing run, Ctrl-C, and SIGKILL followed by ``fluxchaos gc``.

Acceptance: after a run that fails and one that is interrupted with Ctrl-C,
``docker ps -a``, ``docker network ls`` and ``docker volume ls`` show nothing left by
the plugin. Each test runs a tiny suite on the docker backend in a separate pytest
process (pytester) and then asks the Docker API (the calls behind those three commands)
what that process' run left.

Which run is ours: other Docker workloads (other fluxchaos runs among them) may be
running on the same engine, so nothing is looked up by "managed=true" alone and nothing
that is not ours is ever removed. The docker backend creates its run directory with
``tempfile.mkdtemp(prefix="fluxchaos-<run-id>-")``; the inner process gets a TMPDIR of
its own, so a run directory appearing there names our run (cross-checked with the
``docker: run <id> in <dir>`` progress line). What the run created is read back from
Docker's event stream over the inner process' lifetime (containers by the run label,
networks and volumes by the run's name prefix), which also proves each test is not
vacuous: the objects existed, and are gone.

Marked ``docker``; skipped when Docker is unreachable or the images are not built.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
import tenacity
from realenv import require_assets

from pytest_fluxchaos.assets.build import default_cache_dir
from pytest_fluxchaos.backends.docker.supervisor import LABEL_MANAGED, LABEL_ROLE, LABEL_RUN

pytestmark = pytest.mark.docker

# Resolved at import, before pytester points HOME at its own directory: the inner runs
# must use the warm cache, never start an asset build of their own.
ASSET_CACHE = default_cache_dir()
BUILDING = re.compile(r"\[assets\] (building|pulling|checking for official images|path: )")

FLUX_VERSION = "2.9.4"
RUN_LINE = re.compile(r"docker: run (\S+) in (\S+)")
# mkdtemp(prefix="fluxchaos-<run-id>-") appends 8 random characters.
RUN_DIR = re.compile(r"^fluxchaos-(?P<run>[a-z0-9][a-z0-9-]*)-[a-z0-9_]{8}$")
IRC = "image-reflector-controller"

# Tight bounds: the runs below exist to be torn down, not to judge Flux.
BOUNDS = "{converge: 20s, settle: 2s, stuck: 60s, wait: 30s, timeout: 4m}"
SUITE_HEAD = """\
suite: teardown
scenarios:
  - name: {name}
    variants: [single]
    images:
      - name: app
        tags: [1.0.0, 1.1.0]
    repositories:
      - {{name: app, image: app, interval: 10s}}
    policies:
      - {{name: app, repository: app, policy: {{semver: {{range: ">=1.0.0"}}}}}}
    steps:
      - push: {{image: app, tags: [1.0.0, 1.1.0]}}
      - after: {{policy: app, tag: 1.1.0, timeout: 30s}}
"""
# No fault, so no-regression is true: expecting false makes the item FAIL.
FAILING_SUITE = SUITE_HEAD.format(name="fails") + f"""\
    expect:
      single: {{no-regression: false}}
    bounds: {BOUNDS}
"""
# Long enough to be interrupted in any phase (provision, install, steps).
LONG_SUITE = SUITE_HEAD.format(name="long") + f"""\
      - delay: 3m
    bounds: {BOUNDS}
"""


# --------------------------------------------------------------------------------------
# Preconditions
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def docker_client() -> Iterator[docker.DockerClient]:
    """The engine (the docker marker skips when it does not answer), once the images are built."""
    require_assets(FLUX_VERSION)
    client = docker.from_env(timeout=60)
    yield client
    client.close()


# --------------------------------------------------------------------------------------
# One inner pytest process and what its run created / left
# --------------------------------------------------------------------------------------


class _NotYet(Exception):
    pass


class InnerRun:
    """A pytest process running a suite on the docker backend, in its own session."""

    def __init__(self, pytester: pytest.Pytester, client: Any, name: str, suite: str) -> None:
        self.client = client
        self.workdir = pytester.path / name
        self.tmpdir = self.workdir / "tmp"
        self.tmpdir.mkdir(parents=True)
        suite_path = self.workdir / "suites" / "x.yaml"
        suite_path.parent.mkdir()
        suite_path.write_text(suite)
        # Added to by two threads: always re-bound, never mutated, so readers may iterate.
        self.run_ids: frozenset[str] = frozenset()
        self.lines: list[str] = []
        self.asset_work: str | None = None
        self._stop = threading.Event()
        self.t_start = time.time()
        args = [sys.executable, "-m", "pytest", "-p", "fluxchaos", "-p", "no:cacheprovider",
                str(suite_path), f"--rootdir={self.workdir}", "--fluxchaos-backend=docker",
                f"--fluxchaos-artifacts={self.workdir / 'artifacts'}",
                "-o", "log_cli=true", "--log-cli-level=INFO"]
        # pytester.popen copies os.environ: TMPDIR, the asset cache (pytester moved
        # HOME) and unbuffered output are set by the `inner` fixture's monkeypatch.
        # A shell without job control starts background jobs with SIGINT ignored, and
        # children inherit that; restore the default so Python maps Ctrl-C to
        # KeyboardInterrupt in the inner run whatever started this test run.
        self.proc = pytester.popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   cwd=self.workdir, text=True, bufsize=1,
                                   start_new_session=True,
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()

    # -- attribution ---------------------------------------------------------------------
    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            if BUILDING.search(line) and self.asset_work is None:
                # The cache was not warm for the child: stop before it builds images.
                self.asset_work = line.strip()
                self.kill_group()
            m = RUN_LINE.search(line)
            if m and Path(m.group(2)).parent == self.tmpdir:
                self.run_ids = self.run_ids | {m.group(1)}

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                for entry in os.scandir(self.tmpdir):
                    m = RUN_DIR.match(entry.name)
                    if m and entry.is_dir() and m.group("run") not in self.run_ids:
                        self.run_ids = self.run_ids | {m.group("run")}
            except OSError:
                pass
            self._stop.wait(0.05)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def tail(self, n: int = 40) -> str:
        return "".join(self.lines[-n:])

    # -- waiting and signalling ----------------------------------------------------------
    def until(self, what: str, probe: Callable[[], Any], timeout: float) -> Any:
        """Bounded wait for a truthy ``probe()``; fails at once if the process exited."""

        def attempt() -> Any:
            self.check_assets()
            value = probe()
            if value:
                return value
            if self.proc.poll() is not None:
                pytest.fail(f"the inner pytest exited ({self.proc.returncode}) before {what}:\n"
                            f"{self.tail()}", pytrace=False)
            raise _NotYet(what)

        try:
            return tenacity.Retrying(stop=tenacity.stop_after_delay(timeout),
                                     wait=tenacity.wait_fixed(0.1),
                                     retry=tenacity.retry_if_exception_type(_NotYet),
                                     reraise=True)(attempt)
        except _NotYet:
            pytest.fail(f"no {what} within {timeout:g}s:\n{self.tail()}", pytrace=False)

    def containers(self, irc_only: bool = False) -> list[dict[str, Any]]:
        out = []
        for rid in sorted(self.run_ids):
            for c in self.client.api.containers(all=True, filters={"label": f"{LABEL_RUN}={rid}"}):
                name = c["Names"][0].lstrip("/")
                if not irc_only or (IRC in name and c["Labels"].get(LABEL_ROLE) == "pod"):
                    out.append(c)
        return out

    def signal(self, signum: int) -> None:
        """Like Ctrl-C in a terminal: the signal goes to the inner pytest's process group."""
        os.killpg(self.proc.pid, signum)

    def wait_exit(self, timeout: float) -> int:
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the inner pytest did not exit within {timeout:g}s:\n{self.tail()}",
                        pytrace=False)
        self._reader.join(timeout=10)
        self._stop.set()
        self._watcher.join(timeout=5)
        self.check_assets()
        return rc

    def kill_group(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.kill_group()
            self.proc.wait(timeout=30)
        self._stop.set()

    def check_assets(self) -> None:
        if self.asset_work is not None:
            pytest.fail(f"the inner run did not find the warm asset cache {ASSET_CACHE} and "
                        f"started asset work ({self.asset_work}); it was stopped", pytrace=False)

    # -- what was created, what is left --------------------------------------------------
    def created(self) -> dict[str, set[str]]:
        """Names of the containers, networks and volumes our runs created (Docker events)."""
        out: dict[str, set[str]] = {"containers": set(), "networks": set(), "volumes": set()}
        prefixes = tuple(f"fluxchaos-{rid}-" for rid in self.run_ids)
        if not prefixes:
            return out
        since, until = int(self.t_start) - 1, int(time.time())
        for rid in self.run_ids:
            for ev in self.client.events(since=since, until=until, decode=True,
                                         filters={"type": "container", "event": "create",
                                                  "label": f"{LABEL_RUN}={rid}"}):
                out["containers"].add(ev["Actor"]["Attributes"].get("name", ev["Actor"]["ID"]))
        for ev in self.client.events(since=since, until=until, decode=True,
                                     filters={"type": ["network", "volume"], "event": "create"}):
            name = ev["Actor"]["Attributes"].get("name") if ev["Type"] == "network" else ev["Actor"]["ID"]
            if name and name.startswith(prefixes):
                out[ev["Type"] + "s"].add(name)
        return out

    def leftovers(self) -> dict[str, list[str]]:
        """What ``docker ps -a`` / ``network ls`` / ``volume ls`` still show of our runs,
        by run label and, in case a label was forgotten, by the run's name prefix."""
        api = self.client.api
        out: dict[str, list[str]] = {"containers": [], "networks": [], "volumes": []}
        for rid in sorted(self.run_ids):
            prefix = f"fluxchaos-{rid}-"
            seen: set[str] = set()
            for flt in ({"label": f"{LABEL_RUN}={rid}"}, {"name": prefix}):
                for c in api.containers(all=True, filters=flt):
                    name = c["Names"][0].lstrip("/")
                    if c["Id"] in seen or ("name" in flt and not name.startswith(prefix)):
                        continue
                    seen.add(c["Id"])
                    out["containers"].append(
                        f"{name} ({c['State']}: {c['Status']}; role={c['Labels'].get(LABEL_ROLE)}, "
                        f"run label={c['Labels'].get(LABEL_RUN)})")
                for n in api.networks(filters=flt):
                    if n["Id"] not in seen and n["Name"].startswith(prefix):
                        seen.add(n["Id"])
                        out["networks"].append(f"{n['Name']} (labels={n.get('Labels')})")
                for v in (api.volumes(filters=flt) or {}).get("Volumes") or []:
                    if v["Name"] not in seen and v["Name"].startswith(prefix):
                        seen.add(v["Name"])
                        out["volumes"].append(f"{v['Name']} (labels={v.get('Labels')})")
        return out

    def anonymous_volumes_left(self) -> list[str]:
        """Volumes Docker made for our containers without a name (an image's VOLUME, e.g.
        the registry's /var/lib/registry) that still exist: removing a container without
        ``v=True`` leaks them, and no label or name prefix would find them."""
        since, until = int(self.t_start) - 1, int(time.time()) + 1
        ours: set[str] = set()
        for rid in self.run_ids:
            for ev in self.client.events(since=since, until=until, decode=True,
                                         filters={"type": "container", "event": "create",
                                                  "label": f"{LABEL_RUN}={rid}"}):
                ours.add(ev["Actor"]["ID"])
        mounted: dict[str, str] = {}
        for ev in self.client.events(since=since, until=until, decode=True,
                                     filters={"type": "volume", "event": "mount"}):
            attrs = ev["Actor"]["Attributes"]
            if attrs.get("container") in ours:
                mounted[ev["Actor"]["ID"]] = attrs["container"][:12]
        existing = {v["Name"] for v in (self.client.api.volumes() or {}).get("Volumes") or []}
        prefixes = tuple(f"fluxchaos-{rid}-" for rid in self.run_ids)
        return sorted(f"{name} (mounted by container {cid})" for name, cid in mounted.items()
                      if name in existing and not name.startswith(prefixes))

    def run_dirs_left(self) -> list[str]:
        return sorted(p.name for p in self.tmpdir.glob("fluxchaos-*"))


def _describe(left: dict[str, list[str]]) -> str:
    return "\n".join(f"  {kind}: {name}" for kind, names in left.items() for name in names)


def assert_nothing_left(run: InnerRun, kinds: tuple[str, ...] = ("containers", "networks", "volumes")) -> None:
    assert len(run.run_ids) == 1, f"expected one docker run, found {sorted(run.run_ids)}:\n{run.tail()}"
    created = run.created()
    # Not vacuous: the run did create objects of these kinds (all three unless it was
    # interrupted before the registry's volume existed).
    assert all(created[k] for k in kinds), created
    left = run.leftovers()
    assert not any(left.values()), (
        f"run {sorted(run.run_ids)} left Docker objects behind:\n{_describe(left)}\n"
        f"--- inner pytest output (tail) ---\n{run.tail(60)}")
    assert run.run_dirs_left() == [], f"run directories left in {run.tmpdir}: {run.run_dirs_left()}"
    assert run.anonymous_volumes_left() == [], "anonymous volumes left behind (a container removed without v=True)"


@pytest.fixture
def inner(pytester: pytest.Pytester, docker_client: Any,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, str], InnerRun]]:
    """Start inner runs; afterwards kill what is still running and remove our runs' objects.

    The clean-up only ever touches run ids attributed to OUR inner processes.
    """
    from pytest_fluxchaos.backends.docker.cleanup import remove_labelled

    monkeypatch.setenv("FLUXCHAOS_CACHE", str(ASSET_CACHE))
    monkeypatch.setenv("PYTHONUNBUFFERED", "1")
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    runs: list[InnerRun] = []

    def start(name: str, suite: str) -> InnerRun:
        # TMPDIR for the child (tempfile in this process has cached its own already).
        monkeypatch.setenv("TMPDIR", str(pytester.path / name / "tmp"))
        run = InnerRun(pytester, docker_client, name, suite)
        runs.append(run)
        return run

    yield start
    for run in runs:
        run.kill()
        for rid in run.run_ids:
            try:
                remove_labelled(docker_client, f"{LABEL_RUN}={rid}")
            except Exception:  # noqa: BLE001 - best effort after the verdict
                pass


# --------------------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------------------


def test_failing_run_leaves_nothing(inner: Callable[[str, str], InnerRun]) -> None:
    run = inner("fails", FAILING_SUITE)
    rc = run.wait_exit(timeout=240)
    assert rc == 1, f"expected the item to fail (exit 1), got {rc}:\n{run.tail()}"
    assert "no-regression: expected false, got true" in run.output, run.tail()
    assert any(IRC in name for name in run.created()["containers"]), run.created()
    assert_nothing_left(run)


def _running_steps(run: InnerRun) -> bool:
    return any("running " in ln and " steps" in ln for ln in run.lines)


# When the Ctrl-C lands: during provisioning (a container of the run exists, the
# apiserver is not ready yet), during the install (the IRC pod container exists), and
# in the scenario's steps (observer, generator and nemesis running).
PHASES: dict[str, Callable[[InnerRun], Any]] = {
    "provision": lambda run: run.containers(),
    "install": lambda run: run.containers(irc_only=True),
    "steps": _running_steps,
}


@pytest.mark.parametrize("phase", list(PHASES))
def test_ctrl_c_leaves_nothing(inner: Callable[[str, str], InnerRun], phase: str) -> None:
    run = inner(f"ctrl-c-{phase}", LONG_SUITE)
    run.until(f"{phase} phase", lambda: PHASES[phase](run), timeout=120)
    if phase == "steps":
        time.sleep(3)  # into the policy wait / the long delay
    assert run.proc.poll() is None, run.tail()
    run.signal(signal.SIGINT)
    rc = run.wait_exit(timeout=90)
    assert rc == 2, f"expected pytest's 'interrupted' exit code 2, got {rc}:\n{run.tail()}"
    assert "KeyboardInterrupt" in run.output, run.tail()
    if phase == "provision":
        assert_nothing_left(run, kinds=("containers", "networks"))
    else:
        assert any(IRC in name for name in run.created()["containers"]), run.created()
        assert_nothing_left(run)


def test_gc_removes_what_a_killed_run_left(inner: Callable[[str, str], InnerRun],
                                           pytester: pytest.Pytester, docker_client: Any) -> None:
    run = inner("sigkill", LONG_SUITE)
    run.until("running IRC container", lambda: [c for c in run.containers(irc_only=True)
                                                if c["State"] == "running"], timeout=120)
    run.signal(signal.SIGKILL)
    assert run.wait_exit(timeout=30) == -signal.SIGKILL
    assert len(run.run_ids) == 1, sorted(run.run_ids)
    (rid,) = run.run_ids
    left = run.leftovers()
    # SIGKILL runs no clean-up: the environment is still there (else gc proves nothing).
    assert left["containers"] and left["networks"] and left["volumes"], left

    # Another run's object must survive `gc --run <ours>`: a sentinel of our own.
    sentinel_run = f"teardown-sentinel-{secrets.token_hex(3)}"
    sentinel = docker_client.volumes.create(
        f"fluxchaos-{sentinel_run}-data", labels={LABEL_MANAGED: "true", LABEL_RUN: sentinel_run})
    try:
        result = pytester.run(sys.executable, "-m", "pytest_fluxchaos.cli", "gc", "--run", rid,
                              timeout=120)
        assert result.ret == 0, result.stdout.str() + result.stderr.str()
        n_left = sum(len(v) for v in left.values())
        summary = result.stdout.lines[-1]
        removed = int(re.search(r"(\d+) objects removed", summary).group(1))  # type: ignore[union-attr]
        assert removed >= n_left, result.stdout.str()
        still = run.leftovers()
        assert not any(still.values()), f"`fluxchaos gc --run {rid}` left:\n{_describe(still)}"
        docker_client.volumes.get(sentinel.name)  # untouched
    finally:
        sentinel.remove(force=True)
