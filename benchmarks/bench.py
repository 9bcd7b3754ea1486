#!/usr/bin/env python
"""fluxchaos benchmarks on the docker backend (a script, not a timed test).

    python benchmarks/bench.py [--repeat N] [--samples N] [--json out.json] [--verdict]

Measures, with the assets already built (``python -m pytest_fluxchaos.assets status``):

1. ``assets``   warm ``ensure_assets(FLUX)``: the per-session price of checking the cache;
2. ``ready``    from nothing to a held IRC leader Lease: ``DockerBackend(assets).provision()``
                (network, etcd, kube-apiserver, registry) + ``KubeEnvironment.deploy`` of the
                variant ``ha-emptydir`` until the Lease has a holder; torn down every time
                (teardown is timed too); median and max over ``--repeat``;
3. ``observe``  observation latency: on a provisioned control plane with the image CRDs, an
                ImagePolicy's status is patched ``--samples`` times; each sample is the time
                from the patch call to the ``PolicyLatest`` event the :class:`Observer` records
                (and from the patch's response); the observer's :class:`LatencyProbe` summary
                (object timestamps, second resolution) is reported alongside;
4. ``verdict``  (``--verdict``, minutes) time-to-verdict of
                ``suites/flux2-4984-oom-failover.yaml::two-flips-stale-db`` per variant, each in
                its own ``python -m pytest -p fluxchaos ... --fluxchaos-backend=docker``
                process, against the run's inherent floor computed from its history:
                for every fault attempt, the kill -> next leader acquired (the lease-expiry
                wait the IRC imposes; confirm -> leader is reported as well), plus the IRC's
                own scan/resolve waits (objects applied or tag pushed/reconcile requested ->
                policy resolved), plus
                the settle bound (``settle`` hold when converged, the ``converge`` bound when
                not). overhead = run - floor.

Everything the script creates is labelled by its own run ids and torn down; other Docker
workloads on the engine are never touched (their presence is recorded in ``meta`` because
they share the CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # reuse the observer test's helpers

from pytest_fluxchaos.observe import IMAGE_GROUP, Observer, summarize  # noqa: E402

SUITE = ROOT / "suites" / "flux2-4984-oom-failover.yaml"
SCENARIO = "two-flips-stale-db"
quiet: Callable[[str], None] = lambda _m: None  # noqa: E731
RUN_IDS: list[str] = []  # every docker run this script made (checked for leftovers at the end)


def stats(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    return {"n": len(values), "median": round(statistics.median(values), 3),
            "min": round(min(values), 3), "max": round(max(values), 3),
            "values": [round(v, 3) for v in values]}


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------
# 1. warm assets
# --------------------------------------------------------------------------------------


def bench_assets(flux_version: str, repeat: int) -> tuple[Any, dict[str, Any]]:
    from pytest_fluxchaos.assets import ensure_assets

    times: list[float] = []
    assets = None
    for _ in range(max(repeat, 1)):
        t0 = time.perf_counter()
        assets = ensure_assets(flux_version, progress=quiet)
        times.append(time.perf_counter() - t0)
    if assets is None or assets.source not in ("offline-build", "online"):
        raise SystemExit("assets are not ready")
    log(f"assets: warm ensure_assets({flux_version!r}) median {statistics.median(times):.3f}s")
    return assets, {"flux_version": flux_version, "irc_version": assets.irc_version,
                    "source": assets.source, "seconds": stats(times)}


# --------------------------------------------------------------------------------------
# 2. nothing -> IRC leader
# --------------------------------------------------------------------------------------


@contextmanager
def provisioned(assets: Any) -> Iterator[Any]:
    from pytest_fluxchaos.backends.docker import DockerBackend

    backend = DockerBackend(assets, flux_version=assets.flux_version)
    RUN_IDS.append(backend.run_id)
    try:
        backend.provision(quiet)
        yield backend
    finally:
        backend.teardown()


def bench_ready(assets: Any, repeat: int, variant_name: str = "ha-emptydir") -> dict[str, Any]:
    from pytest_fluxchaos.backends.docker import DockerBackend
    from pytest_fluxchaos.backends.kube_environment import KubeEnvironment
    from pytest_fluxchaos.variants import resolve

    variant = resolve(variant_name)
    rows: list[dict[str, Any]] = []
    for i in range(repeat):
        backend = DockerBackend(assets, flux_version=assets.flux_version)
        RUN_IDS.append(backend.run_id)
        env = None
        try:
            t0 = time.perf_counter()
            backend.provision(quiet)
            t1 = time.perf_counter()
            env = KubeEnvironment(backend, irc_version=assets.irc_version,
                                  flux_version=assets.flux_version,
                                  manifests_dir=Path(assets.manifests_dir))
            ns = f"bench-{variant_name}"
            env.deploy(ns, variant, quiet)  # returns once a pod is Ready and the Lease is held
            deadline = time.monotonic() + 60
            holder = env.leader(ns)
            while holder is None and time.monotonic() < deadline:
                time.sleep(0.05)
                holder = env.leader(ns)
            if holder is None:
                raise SystemExit("no Lease holder within 60 s after the install")
            t2 = time.perf_counter()
        finally:
            t3 = time.perf_counter()
            if env is not None:
                env.close()
            else:
                backend.teardown()
            t4 = time.perf_counter()
        row = {"run_id": backend.run_id, "provision": t1 - t0, "install": t2 - t1,
               "total": t2 - t0, "teardown": t4 - t3,
               "apiserver_ready": backend.timings.get("apiserver_ready_s", float("nan"))}
        rows.append(row)
        log(f"ready {i + 1}/{repeat}: provision {row['provision']:.2f}s, install {row['install']:.2f}s, "
            f"total {row['total']:.2f}s (teardown {row['teardown']:.2f}s)")
    return {"variant": variant_name, "run_ids": [r["run_id"] for r in rows],
            **{k: stats([r[k] for r in rows]) for k in ("provision", "install", "total", "teardown",
                                                        "apiserver_ready")}}


# --------------------------------------------------------------------------------------
# 3. observation latency
# --------------------------------------------------------------------------------------


def bench_observe(assets: Any, samples: int) -> dict[str, Any]:
    from kubernetes import client as k8s
    from test_observe_integration import Arrivals, _now_rfc3339  # the test's own helpers

    from pytest_fluxchaos.history import History, PolicyLatest

    with provisioned(assets) as backend:
        kube = backend.kube
        crds = sorted((Path(assets.manifests_dir) / "crds").glob("*.yaml"))
        names = [o["metadata"]["name"] for f in crds for o in kube.apply_manifest(f)
                 if o.get("kind") == "CustomResourceDefinition"]
        kube.wait_crds_established(names, timeout=30)
        ns = "bench-observe"
        kube.ensure_namespace(ns)
        version = kube.image_api_version()
        custom = k8s.CustomObjectsApi(kube.api_client)
        custom.create_namespaced_custom_object(IMAGE_GROUP, version, ns, "imagepolicies", {
            "apiVersion": f"{IMAGE_GROUP}/{version}", "kind": "ImagePolicy",
            "metadata": {"name": "app", "namespace": ns},
            "spec": {"imageRepositoryRef": {"name": "app"}, "policy": {"semver": {"range": ">=1.0.0"}}}})
        history = History()
        arrivals = Arrivals(history)
        observer = Observer(kube.api_client, [ns], history, api_version=version).start(sync_timeout=15)
        sent: list[float] = []
        acked: list[float] = []
        try:
            for i in range(samples):
                tag = f"1.0.{i}"
                body = {"status": {
                    "latestRef": {"name": "127.0.0.1:5000/app", "tag": tag},
                    "observedGeneration": 1,
                    "conditions": [{"type": "Ready", "status": "True", "reason": "Succeeded",
                                    "message": f"Latest image tag for 127.0.0.1:5000/app resolved to {tag}",
                                    "lastTransitionTime": _now_rfc3339(), "observedGeneration": 1}]}}
                t0 = time.monotonic()
                custom.patch_namespaced_custom_object_status(
                    IMAGE_GROUP, version, ns, "imagepolicies", "app", body,
                    field_manager="image-reflector-controller",
                    _content_type="application/merge-patch+json")
                t1 = time.monotonic()
                seen = arrivals.wait(lambda e, tag=tag: isinstance(e, PolicyLatest) and e.tag == tag,
                                     timeout=10)
                sent.append(seen - t0)
                acked.append(seen - t1)
        finally:
            t_stop = time.monotonic()
            errors = observer.stop()
            stop_s = time.monotonic() - t_stop
    out = {"run_id": backend.run_id, "samples": samples,
           "patch_sent_to_recorded": summarize(sent),
           "patch_acked_to_recorded": summarize(acked),
           "probe_policy_latest_object_timestamps": observer.latency.summary("policy-latest"),
           "observer_stop_s": round(stop_s, 3),
           "observer_errors": [str(e) for e in errors]}
    log(f"observe: sent->recorded p50 {out['patch_sent_to_recorded']['p50'] * 1000:.1f} ms, "
        f"p99 {out['patch_sent_to_recorded']['p99'] * 1000:.1f} ms")
    return out


# --------------------------------------------------------------------------------------
# 4. time to verdict vs the inherent floor
# --------------------------------------------------------------------------------------


def _suite_bounds(scenario: str) -> dict[str, float]:
    from pytest_fluxchaos.suite import load_suite

    suite = load_suite(SUITE)
    sc = next(s for s in suite.scenarios if s.name == scenario)
    return {"converge": sc.bounds.converge, "settle": sc.bounds.settle}


def _applied_bounds(events: list[dict[str, Any]], verdict: dict[str, Any] | None,
                    bounds: dict[str, float]) -> tuple[float, float]:
    """(settle hold, converge bound) the run really applied: the converged note's hold,
    the converges checker's window; the suite file's values only as a fallback (the
    suite may be edited while a benchmark runs)."""
    settle, converge = bounds["settle"], bounds["converge"]
    held = [float(e["data"]["held"]) for e in events if e["kind"] == "note"
            and e.get("message") == "converged" and "held" in (e.get("data") or {})]
    if held:
        settle = held[-1]
    conv = ((verdict or {}).get("checkers", {}).get("converges", {}).get("data") or {}).get("policies") or {}
    windows = [float(p["deadline"]) - float(p["start"]) for p in conv.values()
               if isinstance(p, dict) and "deadline" in p and "start" in p]
    if windows:
        converge = max(windows)
    return round(settle, 3), round(converge, 3)


def floor_from_history(events: list[dict[str, Any]], bounds: dict[str, float],
                       verdict: dict[str, Any] | None = None) -> dict[str, Any]:
    """The run's inherent waits, from its history (seconds, run-relative ``t``).

    * per fault attempt: the kill (inject + the helper's ``exit_detected_s``) -> the next
      LeaseHolder event with a holder (a new leader identity: the lease must expire
      before anyone can take it). ``confirm -> leader`` is reported too, but the
      confirmation may come after the new leader (the nemesis keeps the killed pod down
      until another pod leads), so the kill is the start of the inherent wait;
    * IRC resolve waits: for each PolicyLatest a ``policy`` trigger waited for, the time
      since the action before it (objects applied = ``deployed``, a push, a reconcile);
    * settle: the ``settle`` hold if the run converged, else the whole ``converge`` bound
      (both as the run applied them, see :func:`_applied_bounds`).
    """
    leases = [e for e in events if e["kind"] == "lease-holder" and e.get("holder")]
    flips: list[dict[str, Any]] = []
    for conf in (e for e in events if e["kind"] == "fault" and e.get("phase") == "confirm"):
        inject = next((e for e in reversed(events) if e["kind"] == "fault" and e.get("phase") == "inject"
                       and e.get("fault_id") == conf.get("fault_id") and e["t"] <= conf["t"]), None)
        evidence = (conf.get("detail") or {}).get("evidence") or {}
        # The kill: the helper's own measure of when the container exited (the lease
        # clock runs from the last renewal before it, whatever the harness does next).
        if inject is not None and isinstance(evidence.get("exit_detected_s"), (int, float)):
            kill_t = inject["t"] + float(evidence["exit_detected_s"])
        else:
            kill_t = conf["t"]
        nxt = next((ls for ls in leases if ls["t"] > kill_t), None)
        flips.append({
            "fault": conf.get("fault_id"), "kill_t": round(kill_t, 3), "confirmed_t": round(conf["t"], 3),
            "inject_to_confirm": round(conf["t"] - inject["t"], 3) if inject else None,
            "leader": nxt["holder"] if nxt else None,
            "kill_to_leader": round(nxt["t"] - kill_t, 3) if nxt else None,
            # The brief's measure; negative when the confirmation waits for the new
            # leader (the nemesis keeps the killed pod down until another one leads).
            "confirm_to_leader": round(nxt["t"] - conf["t"], 3) if nxt else None})

    def is_action(e: dict[str, Any]) -> bool:
        return ((e["kind"] == "op" and e.get("type") == "ok" and e.get("f") in ("push-tag", "delete-tag"))
                or (e["kind"] == "note" and (e.get("message") == "deployed"
                                             or str(e.get("message", "")).startswith("reconcile requested"))))

    waited: list[dict[str, Any]] = []
    seen_latest: set[int] = set()
    for idx, e in enumerate(events):
        if e["kind"] != "note" or not str(e.get("message", "")).endswith("trigger met"):
            continue
        cond = str((e.get("data") or {}).get("condition", ""))
        m = re.match(r"policy (\S+) resolves to (\S+)", cond)
        if not m:
            continue
        latest_i = next((j for j in range(idx, -1, -1) if events[j]["kind"] == "policy-latest"
                         and events[j].get("policy", "").endswith("/" + m.group(1))
                         and events[j].get("tag") == m.group(2)), None)
        if latest_i is None or latest_i in seen_latest:
            continue
        seen_latest.add(latest_i)
        action = next((events[j] for j in range(latest_i, -1, -1) if is_action(events[j])), None)
        if action is not None:
            waited.append({"policy": m.group(1), "tag": m.group(2),
                           "after": action.get("message") or f"{action.get('f')} {action.get('tag')}",
                           "seconds": round(events[latest_i]["t"] - action["t"], 3)})
    converged = any(e["kind"] == "note" and e.get("message") == "converged" for e in events)
    settle_hold, converge_bound = _applied_bounds(events, verdict, bounds)
    settle = settle_hold if converged else converge_bound
    flip_s = sum(f["kill_to_leader"] or 0.0 for f in flips)
    resolve_s = sum(w["seconds"] for w in waited)
    return {"flips": flips, "resolve_waits": waited, "converged": converged,
            "applied_bounds": {"settle": settle_hold, "converge": converge_bound},
            "floor": {"leader_waits": round(flip_s, 3), "resolve_waits": round(resolve_s, 3),
                      "settle": settle, "total": round(flip_s + resolve_s + settle, 3)}}


def bench_verdict(variants: list[str], artifacts: Path, repeat: int, flux_version: str) -> dict[str, Any]:
    bounds = _suite_bounds(SCENARIO)
    out: dict[str, Any] = {"suite": str(SUITE.relative_to(ROOT)), "scenario": SCENARIO,
                           "bounds": bounds, "runs": {}}
    for variant in variants:
        runs = []
        for i in range(repeat):
            art = artifacts / f"{variant}-{i + 1}"
            cmd = [sys.executable, "-m", "pytest", "-p", "fluxchaos", "-p", "no:cacheprovider", "-q",
                   f"{SUITE}::{SCENARIO}", "--fluxchaos-backend=docker",
                   f"--fluxchaos-variants={variant}", f"--fluxchaos-flux-version={flux_version}",
                   f"--fluxchaos-artifacts={art}", f"--rootdir={ROOT}"]
            log(f"verdict: {variant} run {i + 1}/{repeat} (minutes) ...")
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, timeout=30 * 60)
            wall = time.perf_counter() - t0
            item = next(iter(sorted(art.glob(f"*{SCENARIO}_{variant}*"))), None)
            if item is None or not (item / "verdict.json").exists():
                runs.append({"error": f"no verdict.json (exit {proc.returncode})",
                             "output_tail": proc.stdout[-2000:]})
                continue
            verdict = json.loads((item / "verdict.json").read_text())
            text = (item / "history.jsonl").read_text()
            events = [json.loads(ln) for ln in text.splitlines() if ln.strip()]
            # The run id shows in the registry's in-cluster name in the IRC's messages.
            RUN_IDS.extend(sorted(set(re.findall(r"fluxchaos-([a-z0-9-]+?)-registry:", text)) - set(RUN_IDS)))
            floor = floor_from_history(events, bounds, verdict)
            run_s = float(verdict["timings"].get("run", float("nan")))
            deploy_s = float(verdict["timings"].get("deploy", float("nan")))
            total_floor = floor["floor"]["total"]
            row = {"exit_code": proc.returncode, "passed": verdict.get("passed"),
                   "verdicts": {k: v["verdict"] for k, v in verdict.get("checkers", {}).items()},
                   "wall_s": round(wall, 3), "run_s": run_s, "deploy_s": deploy_s,
                   **floor,
                   "overhead": {"run_minus_floor": round(run_s - total_floor, 3),
                                "wall_minus_floor": round(wall - total_floor, 3),
                                "wall_minus_run": round(wall - run_s, 3)},
                   "artifacts": str(item)}
            runs.append(row)
            log(f"verdict: {variant}: wall {wall:.1f}s, run {run_s:.1f}s, floor {total_floor:.1f}s, "
                f"overhead {run_s - total_floor:.1f}s")
        out["runs"][variant] = runs
    return out


# --------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------


def reanalyze(res: dict[str, Any]) -> dict[str, Any]:
    """Recompute the floors of stored --verdict runs (wall times are kept as measured)."""
    v = res.get("verdict") or {}
    for runs in (v.get("runs") or {}).values():
        for row in runs:
            if "artifacts" not in row:
                continue
            item = Path(row["artifacts"])
            verdict = json.loads((item / "verdict.json").read_text())
            events = [json.loads(ln) for ln in (item / "history.jsonl").read_text().splitlines() if ln.strip()]
            row.update(floor_from_history(events, v["bounds"], verdict))
            total = row["floor"]["total"]
            row["overhead"] = {"run_minus_floor": round(row["run_s"] - total, 3),
                               "wall_minus_floor": round(row["wall_s"] - total, 3),
                               "wall_minus_run": round(row["wall_s"] - row["run_s"], 3)}
    return res


def meta(repeat: int) -> dict[str, Any]:
    info: dict[str, Any] = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                            "host": platform.node(), "cpus": os.cpu_count(),
                            "python": platform.python_version(), "repeat": repeat}
    try:
        import docker

        c = docker.from_env(timeout=30)
        info["docker"] = c.version().get("Version")
        running = c.api.containers(filters={"label": "io.fluxchaos.managed=true"})
        # Other fluxchaos runs on the same engine (not ours, never touched): they share the CPU.
        info["other_fluxchaos_containers_running"] = len(running)
        info["other_fluxchaos_runs"] = sorted({x["Labels"].get("io.fluxchaos.run", "?") for x in running})
        c.close()
    except Exception as exc:  # noqa: BLE001
        info["docker"] = f"unavailable: {exc}"
    return info


def leftovers(run_ids: list[str]) -> list[str]:
    """Containers, networks and volumes of this script's own runs still present."""
    import docker

    client = docker.from_env(timeout=30)
    api = client.api
    left: list[str] = []
    try:
        for rid in run_ids:
            label = f"io.fluxchaos.run={rid}"
            left += [f"container {c['Names'][0].lstrip('/')}"
                     for c in api.containers(all=True, filters={"label": label})]
            left += [f"network {n['Name']}" for n in api.networks(filters={"label": label})]
            left += [f"volume {v['Name']}"
                     for v in (api.volumes(filters={"label": label}) or {}).get("Volumes") or []]
    finally:
        client.close()
    return left


def _ms(x: float) -> str:
    return f"{x * 1000:.1f} ms"


def print_table(res: dict[str, Any]) -> None:
    m = res["meta"]
    print(f"\nfluxchaos benchmark  {m['date']}  cpus={m['cpus']}  docker={m.get('docker')}  "
          f"repeat={m['repeat']}  other fluxchaos containers running at start: "
          f"{m.get('other_fluxchaos_containers_running')}")
    rows: list[tuple[str, str, str, str]] = []
    a = res.get("assets")
    if a:
        s = a["seconds"]
        rows.append((f"warm ensure_assets({a['flux_version']!r})", _ms(s["median"]), _ms(s["max"]),
                     f"n={s['n']}, {a['irc_version']} {a['source']}"))
    r = res.get("ready")
    if r:
        for k in ("provision", "install", "total", "teardown"):
            s = r[k]
            rows.append((f"nothing -> IRC leader [{r['variant']}]: {k}", f"{s['median']:.2f} s",
                         f"{s['max']:.2f} s", f"n={s['n']}"))
    o = res.get("observe")
    if o:
        for key, label in (("patch_sent_to_recorded", "patch sent -> PolicyLatest recorded"),
                           ("patch_acked_to_recorded", "patch acked -> PolicyLatest recorded")):
            s = o[key]
            rows.append((label, f"p50 {_ms(s['p50'])}", f"max {_ms(s['max'])}",
                         f"p99 {_ms(s['p99'])}, n={s['count']}"))
        p = o["probe_policy_latest_object_timestamps"]
        if p.get("count"):
            rows.append(("LatencyProbe (managedFields time, 1 s res.)", f"p50 {p['p50']:.3f} s",
                         f"max {p['max']:.3f} s", f"p99 {p['p99']:.3f} s"))
        rows.append(("observer stop()", f"{o['observer_stop_s']:.3f} s", "", ""))
    w1 = max(len(x[0]) for x in rows) if rows else 10
    print(f"{'measure':<{w1}}  {'median/p50':>16}  {'max':>14}  notes")
    for name, med, mx, note in rows:
        print(f"{name:<{w1}}  {med:>16}  {mx:>14}  {note}")
    v = res.get("verdict")
    if v:
        print(f"\ntime to verdict: {v['suite']}::{v['scenario']} (bounds {v['bounds']})")
        print(f"{'variant':<12} {'wall':>7} {'run':>7} {'floor':>7} {'=leader':>8} {'+resolve':>9} "
              f"{'+settle':>8} {'run-floor':>10} {'wall-floor':>11}  verdicts")
        for variant, runs in v["runs"].items():
            for row in runs:
                if "error" in row:
                    print(f"{variant:<12} error: {row['error']}")
                    continue
                f = row["floor"]
                print(f"{variant:<12} {row['wall_s']:>6.1f}s {row['run_s']:>6.1f}s {f['total']:>6.1f}s "
                      f"{f['leader_waits']:>7.1f}s {f['resolve_waits']:>8.1f}s {f['settle']:>7.1f}s "
                      f"{row['overhead']['run_minus_floor']:>9.1f}s {row['overhead']['wall_minus_floor']:>10.1f}s  "
                      f"{row['verdicts']}")
                for flip in row["flips"]:
                    print(f"{'':<12}   fault {flip['fault']}: kill->leader {flip['kill_to_leader']}s "
                          f"({flip['leader']}); inject->confirm {flip['inject_to_confirm']}s, "
                          f"confirm->leader {flip['confirm_to_leader']}s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="repetitions of assets/ready (default 5)")
    parser.add_argument("--samples", type=int, default=100, help="status patches for observe (default 100)")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--flux-version", default="2.9.4")
    parser.add_argument("--verdict", action="store_true", help="also time the 4984 suite (minutes)")
    parser.add_argument("--verdict-variants", default="single,ha-emptydir")
    parser.add_argument("--verdict-repeat", type=int, default=1)
    parser.add_argument("--artifacts", type=Path, help="artifacts of the --verdict runs (default: a temp dir)")
    parser.add_argument("--reanalyze", type=Path,
                        help="recompute the --verdict floors of an earlier --json file from its artifacts")
    parser.add_argument("--only", default="assets,ready,observe",
                        help="comma-separated parts to run besides --verdict (default all)")
    args = parser.parse_args(argv)
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    if args.reanalyze:
        res = reanalyze(json.loads(args.reanalyze.read_text()))
        print_table(res)
        if args.json:
            args.json.write_text(json.dumps(res, indent=2, default=str))
        return 0
    res: dict[str, Any] = {"meta": meta(args.repeat)}
    assets, res["assets"] = bench_assets(args.flux_version, args.repeat)
    if "assets" not in parts:
        res.pop("assets")
    if "ready" in parts:
        res["ready"] = bench_ready(assets, args.repeat)
    if "observe" in parts:
        res["observe"] = bench_observe(assets, args.samples)
    if args.verdict:
        artifacts = args.artifacts or Path(tempfile.mkdtemp(prefix="fcbench-"))
        res["verdict"] = bench_verdict([v.strip() for v in args.verdict_variants.split(",") if v.strip()],
                                       artifacts, args.verdict_repeat, args.flux_version)
    res["leftovers"] = leftovers(RUN_IDS)
    print_table(res)
    print(f"\nleft behind by this script's runs ({len(RUN_IDS)}): {res['leftovers'] or 'nothing'}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=2, default=str))
        print(f"\nJSON: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
