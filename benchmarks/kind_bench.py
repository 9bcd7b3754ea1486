#!/usr/bin/env python
"""The kind backend's numbers, and docker-vs-kind agreement (a script, not a timed test).

    python benchmarks/kind_bench.py ready [--repeat N]          # kind create -> IRC leader
    python benchmarks/kind_bench.py run --backend kind|docker --out DIR   # the three suites
    python benchmarks/kind_bench.py table DOCKER_DIR KIND_DIR [--json out.json]

* ``ready``: from nothing to a held IRC leader Lease on kind: the factory
  (``create_kind_environment``: kind assets, guard, ``kind create cluster``, ready waits,
  registry, image load) + ``deploy`` of ``ha-emptydir`` until the Lease has a holder; then
  teardown (timed). Each phase is printed.
* ``run``: ``suites/flux2-4984-oom-failover.yaml::two-flips-stale-db`` (single,
  ha-emptydir), ``suites/lease-churn.yaml`` and ``suites/restart-storm.yaml`` in one
  ``pytest -p fluxchaos`` process on the given backend, artifacts into ``DIR``. The kind
  e2e (``FLUXCHAOS_E2E_ARTIFACTS=DIR pytest tests/kind/test_kind_e2e.py``) writes the same.
* ``table``: per item and backend: verdicts, time to verdict (the run's ``run`` timing),
  the 4984 floor (``benchmarks/bench.py``'s ``floor_from_history``: kill -> next leader,
  IRC resolve waits, settle) and run minus floor, container restarts seen (the highest
  ``restart_count`` per pod, summed), back-off seen (kubelet ``BackOff`` events, or a
  ``waiting`` pod state with reason ``CrashLoopBackOff``), and leader changes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

SELECTION = ["suites/flux2-4984-oom-failover.yaml::two-flips-stale-db", "suites/lease-churn.yaml",
             "suites/restart-storm.yaml"]
CHECKERS = ("no-regression", "converges", "never-stuck", "faults-landed")


def log(msg: str) -> None:
    print(f"[kind-bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# -- ready: kind create -> IRC leader ------------------------------------------------------------


def bench_ready(repeat: int, flux_version: str) -> list[dict[str, float]]:
    from pytest_fluxchaos.backends.kind import KindOptions
    from pytest_fluxchaos.backends.kind_environment import create_kind_environment
    from pytest_fluxchaos.settings import Settings
    from pytest_fluxchaos.variants import resolve

    rows = []
    for i in range(repeat):
        settings = Settings(backend="kind", variants=None, flux_versions=[flux_version], artifacts=None,
                            keep=False, seed=None, timeout=None, converge=None, assets="auto", allow_cluster=None)
        options = KindOptions(cluster_name=f"fc-bench-{os.getpid()}-{i}")
        t0 = time.monotonic()
        env = create_kind_environment(settings, flux_version, lambda m: log(m), options=options)
        try:
            t_env = time.monotonic() - t0
            ns = f"fc-bench-{i}"
            env.deploy(ns, resolve("ha-emptydir"), lambda m: None)
            from pytest_fluxchaos.waiting import wait_until

            wait_until(lambda env=env, ns=ns: env.leader(ns), 120, what="an IRC leader", interval=0.2)
            t_leader = time.monotonic() - t0
            timings = dict(env.backend.timings)
        finally:
            t1 = time.monotonic()
            env.close()
            t_down = time.monotonic() - t1
        row = {"create_cluster_s": round(timings.get("cluster_s", 0), 1),
               "environment_s": round(t_env, 1), "deploy_to_leader_s": round(t_leader - t_env, 1),
               "create_to_leader_s": round(t_leader, 1), "teardown_s": round(t_down, 1)}
        log(f"ready #{i + 1}: {row}")
        rows.append(row)
    return rows


# -- run: the three suites on one backend ----------------------------------------------------------


def run_suites(backend: str, out: Path, flux_version: str) -> int:
    args = [sys.executable, "-m", "pytest", "-p", "fluxchaos", *SELECTION, "-p", "no:cacheprovider", "-q",
            f"--fluxchaos-backend={backend}", f"--fluxchaos-flux-version={flux_version}",
            f"--fluxchaos-artifacts={out}"]
    if backend == "kind":
        args.append(f"--cluster-name=fc-bench-{os.getpid()}")
    log("running: " + " ".join(args[3:]))
    t0 = time.monotonic()
    rc = subprocess.call(args, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    (out / "wall.json").write_text(json.dumps({"wall_s": round(time.monotonic() - t0, 1), "rc": rc}))
    log(f"{backend}: rc {rc} in {time.monotonic() - t0:.0f}s")
    return rc


# -- table ------------------------------------------------------------------------------------------


def item_row(directory: Path) -> dict[str, Any]:
    from bench import floor_from_history

    verdict = json.loads((directory / "verdict.json").read_text())
    events = [json.loads(line) for line in (directory / "history.jsonl").read_text().splitlines() if line]
    restarts: dict[str, int] = {}
    backoff = 0
    for e in events:
        if e["kind"] == "pod-state":
            restarts[e["pod"]] = max(restarts.get(e["pod"], 0), int(e.get("restart_count") or 0))
            backoff += e.get("state") == "waiting" and e.get("reason") == "CrashLoopBackOff"
        elif e["kind"] == "note" and (e.get("data") or {}).get("reason") == "BackOff":
            backoff += 1
    leaders = [e["holder"] for e in events if e["kind"] == "lease-holder" and e.get("holder")]
    changes = sum(1 for a, b in zip(leaders, leaders[1:]) if a != b)
    row = {"item": f"{verdict['scenario']}[{verdict['variant']}]", "passed": verdict["passed"],
           "verdicts": {c: (verdict["checkers"].get(c) or {}).get("verdict") for c in CHECKERS},
           "run_s": verdict["timings"].get("run"), "restarts": sum(restarts.values()),
           "backoff_seen": backoff, "leader_changes": changes,
           "faults": sum(1 for e in events if e["kind"] == "fault" and e.get("phase") == "confirm")}
    if verdict["scenario"] == "two-flips-stale-db":
        bounds = {"converge": 35.0, "settle": 15.0}
        floor = floor_from_history(events, bounds, verdict)["floor"]
        row["floor_s"] = floor["total"]
        row["run_minus_floor_s"] = round((row["run_s"] or 0) - floor["total"], 1)
    return row


def rows_of(directory: Path) -> dict[str, dict[str, Any]]:
    rows = {}
    for path in sorted(directory.rglob("verdict.json")):
        row = item_row(path.parent)
        rows[row["item"]] = row
    return rows


def short(v: dict[str, Any]) -> str:
    return "/".join((v.get(c) or "?")[0] for c in CHECKERS)  # t/f/u per checker


def table(docker_dir: Path, kind_dir: Path) -> list[dict[str, Any]]:
    d, k = rows_of(docker_dir), rows_of(kind_dir)
    out = []
    print("verdicts: no-regression/converges/never-stuck/faults-landed (t=true f=false u=unknown)")
    print(f"{'item':<44} {'verdicts d|k':<16} {'run s d|k':<13} {'floor d|k':<13} {'restarts d|k':<13} "
          f"{'backoff d|k':<12} {'leader chg d|k':<15} agree")
    for item in sorted(set(d) | set(k)):
        a, b = d.get(item, {}), k.get(item, {})
        agree = a.get("verdicts") == b.get("verdicts")
        pair = lambda key, a=a, b=b: f"{a.get(key, '-')}|{b.get(key, '-')}"  # noqa: E731
        print(f"{item:<44} {short(a.get('verdicts', {})) + '|' + short(b.get('verdicts', {})):<16} "
              f"{pair('run_s'):<13} {pair('floor_s'):<13} {pair('restarts'):<13} {pair('backoff_seen'):<12} "
              f"{pair('leader_changes'):<15} {'yes' if agree else 'NO'}")
        out.append({"item": item, "docker": a, "kind": b, "verdicts_agree": agree})
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("ready")
    r.add_argument("--repeat", type=int, default=1)
    r.add_argument("--flux-version", default="2.9.4")
    s = sub.add_parser("run")
    s.add_argument("--backend", choices=("kind", "docker"), required=True)
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--flux-version", default="2.9.4")
    t = sub.add_parser("table")
    t.add_argument("docker_dir", type=Path)
    t.add_argument("kind_dir", type=Path)
    t.add_argument("--json", type=Path)
    a = p.parse_args()
    if a.cmd == "ready":
        print(json.dumps(bench_ready(a.repeat, a.flux_version), indent=2))
    elif a.cmd == "run":
        a.out.mkdir(parents=True, exist_ok=True)
        sys.exit(run_suites(a.backend, a.out, a.flux_version))
    else:
        rows = table(a.docker_dir, a.kind_dir)
        if a.json:
            a.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
