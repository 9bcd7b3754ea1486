#!/usr/bin/env python
"""The explorer's numbers: schedules per hour, time to rediscover a bug, the shrunk schedule.

    python benchmarks/explore_bench.py run SUITE --seeds 1,2,3,4,5 --budget 45m --out DIR [--backend docker]
    python benchmarks/explore_bench.py replay DIR --times 5 [--backend docker]
    python benchmarks/explore_bench.py table DIR [--checker no-regression] [--json out.json]

* ``run``: one ``pytest -p fluxchaos SUITE`` process per seed (``--fluxchaos-seed``,
  ``--fluxchaos-explore-budget``), artifacts in ``DIR/seed-<s>``; the item's pass/fail is
  recorded, not trusted: the table reads each ``exploration.json``.
* ``replay``: every finding's replayable suite, ``--times`` times each, in one pytest
  process per replay (``DIR/replays``); counts the replays in which the finding's checker
  is false again.
* ``table``: per seed: schedules run, exploring time and schedules per hour (exploration
  runs only, confirm and shrink runs excluded), the first failing run and the confirmed
  finding of ``--checker`` (seconds into the exploration), runs spent confirming and
  shrinking, the original and shrunk lengths, 1-minimality, and the replay tally.

Extra pytest options go after ``--`` (e.g. ``-- -p fakes.memory_backend`` to check the
script itself on the in-memory simulation).
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


def _pytest(args: list[str], log: Path) -> tuple[int, float]:
    log.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "fluxchaos", "-p", "no:cacheprovider", *args],
                              cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, check=False)
    return proc.returncode, time.monotonic() - t0


def run(args: argparse.Namespace, extra: list[str]) -> int:
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    for seed in [int(s) for s in args.seeds.split(",")]:
        target = out / f"seed-{seed}"
        code, seconds = _pytest([args.suite, f"--fluxchaos-backend={args.backend}", f"--fluxchaos-seed={seed}",
                                 f"--fluxchaos-explore-budget={args.budget}", f"--fluxchaos-artifacts={target}",
                                 "-q", *extra], out / f"seed-{seed}.log")
        (out / f"seed-{seed}.json").write_text(json.dumps({"seed": seed, "exit": code, "seconds": round(seconds, 1)}))
        print(f"seed {seed}: pytest exit {code} in {seconds:.0f}s", flush=True)
    return 0


def _explorations(directory: Path) -> list[tuple[int, Path, dict[str, Any]]]:
    found = []
    for seed_dir in sorted(directory.glob("seed-*")):
        if not seed_dir.is_dir():
            continue
        for path in seed_dir.glob("*/exploration.json"):
            found.append((int(seed_dir.name.split("-")[1]), path.parent, json.loads(path.read_text())))
    return found


def replay(args: argparse.Namespace, extra: list[str]) -> int:
    directory = Path(args.dir).resolve()
    tally: dict[str, dict[str, int]] = {}
    for seed, base, data in _explorations(directory):
        for finding in data["findings"]:
            suite = base / "findings" / finding["name"] / f"{finding['name']}.yaml"
            checker = finding["checkers"][0]
            hits = 0
            for n in range(args.times):
                target = directory / "replays" / finding["name"] / str(n + 1)
                _pytest([str(suite), f"--fluxchaos-backend={args.backend}", f"--fluxchaos-artifacts={target}",
                         "-q", *extra], directory / "replays" / f"{finding['name']}-{n + 1}.log")
                verdicts = [json.loads(p.read_text()) for p in target.glob("*/verdict.json")]
                hits += any(v["checkers"].get(checker, {}).get("verdict") == "false" for v in verdicts)
            tally[finding["name"]] = {"seed": seed, "times": args.times, "reproduced": hits}
            print(f"{finding['name']} (seed {seed}): {checker} false in {hits} of {args.times} replays", flush=True)
    (directory / "replays.json").write_text(json.dumps(tally, indent=2))
    return 0


def _verdict(run: str | None, checker: str) -> str | None:
    path = Path(run or "/nonexistent") / "verdict.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text())["checkers"].get(checker, {}).get("verdict")


def rows(directory: Path, checker: str) -> list[dict[str, Any]]:
    replays = json.loads((directory / "replays.json").read_text()) if (directory / "replays.json").is_file() else {}
    out = []
    for seed, _base, data in _explorations(directory):
        explore = [t for t in data["trials"] if t["phase"] == "explore"]
        exploring = sum(t["seconds"] for t in explore)
        first_fail = next((i for i, t in enumerate(explore) if checker in t["failing"]), None)
        # A finding counts only when its checker was really false in the finding's run (an
        # unknown, e.g. a policy never observed, is a failure to the explorer, not the bug).
        finding = next((f for f in data["findings"] if f["checkers"][0] == checker
                        and _verdict(f.get("minimal_run"), checker) == "false"), None)
        row: dict[str, Any] = {
            "seed": seed, "schedules": data["schedules"], "seconds": data["seconds"],
            "schedules_per_hour": round(len(explore) / (data["seconds"] / 3600), 1) if data["seconds"] else None,
            "run_seconds_mean": round(exploring / len(explore), 1) if explore else None,
            "first_failing_schedule": None if first_fail is None else first_fail + 1,
            "found_at": finding["found_at"] if finding else None, "flaky": data["flaky"], "errors": data["errors"],
        }
        if finding:
            row |= {"runs_spent": finding["runs"], "original_moves": len(finding["original"]["moves"]),
                    "minimal_moves": len(finding["minimal"]["moves"]), "one_minimal": finding["one_minimal"],
                    "minimal": finding["minimal"], "replays": replays.get(finding["name"])}
        out.append(row)
    return out


def table(args: argparse.Namespace) -> int:
    data = rows(Path(args.dir), args.checker)
    print(f"| seed | schedules | sched/h | mean run | first failing | {args.checker} confirmed at | runs to shrink "
          "| moves | 1-minimal | replays |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in data:
        rep = r.get("replays")
        found_at = "not found" if r["found_at"] is None else f"{r['found_at']:.0f}s"
        replayed = f"{rep['reproduced']}/{rep['times']}" if rep else "-"
        print(f"| {r['seed']} | {r['schedules']} | {r['schedules_per_hour']} | {r['run_seconds_mean']}s "
              f"| {r['first_failing_schedule'] or '-'} | {found_at} | {r.get('runs_spent', '-')} "
              f"| {r.get('original_moves', '-')} -> {r.get('minimal_moves', '-')} | {r.get('one_minimal', '-')} "
              f"| {replayed} |")
    found = sum(r["found_at"] is not None for r in data)
    print(f"\n{args.checker} found in {found} of {len(data)} seeds")
    if args.json:
        Path(args.json).write_text(json.dumps({"checker": args.checker, "rows": data}, indent=2))
    return 0


def main() -> int:
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run")
    p_run.add_argument("suite")
    p_run.add_argument("--seeds", default="1,2,3,4,5")
    p_run.add_argument("--budget", default="45m")
    p_run.add_argument("--backend", default="docker")
    p_run.add_argument("--out", required=True)
    p_replay = sub.add_parser("replay")
    p_replay.add_argument("dir")
    p_replay.add_argument("--times", type=int, default=5)
    p_replay.add_argument("--backend", default="docker")
    p_table = sub.add_parser("table")
    p_table.add_argument("dir")
    p_table.add_argument("--checker", default="no-regression")
    p_table.add_argument("--json")
    args = parser.parse_args(argv)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    if args.command == "run":
        return run(args, extra)
    if args.command == "replay":
        return replay(args, extra)
    return table(args)


if __name__ == "__main__":
    sys.exit(main())
