"""Run a suite selection N times and tally the verdicts per variant.

    python scripts/repeat.py 10 "suites/flux2-4984-oom-failover.yaml::two-flips-stale-db" \
        --out /tmp/repeat-4984 -- --fluxchaos-backend=docker --fluxchaos-parallel

Each repetition is a separate pytest process writing its own artifacts; the tally reads
verdict.json and history.jsonl back, so it also counts how many OOM kills the kernel
confirmed and how many lease races had to be retried. Prints a table and writes
``tally.json`` in the output directory.
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import time
from pathlib import Path


CHECKERS = ("no-regression", "converges", "never-stuck", "ready-honest", "no-oom", "faults-landed",
            "git-no-regression", "git-converges")


def tally(out: Path) -> dict:
    per_variant: dict[str, dict] = collections.defaultdict(lambda: {
        "runs": 0, **{name: collections.Counter() for name in CHECKERS}, "passed": 0, "errors": 0, "seconds": [],
        "oom_injected": 0, "oom_confirmed_kernel": 0, "attempts": []})
    for verdict_file in sorted(out.glob("run-*/*/verdict.json")):
        data = json.loads(verdict_file.read_text())
        row = per_variant[f"{data['scenario']}[{data['variant']}]"]
        row["runs"] += 1
        row["passed"] += bool(data["passed"])
        row["errors"] += data["error"] is not None
        row["seconds"].append(data["timings"].get("run", 0))
        for name in CHECKERS:
            if name in data["checkers"]:
                row[name][data["checkers"][name]["verdict"]] += 1
        history = verdict_file.parent / "history.jsonl"
        attempts = 0
        for line in history.read_text().splitlines():
            event = json.loads(line)
            if event["kind"] == "fault" and event["f"] == "oom-kill":
                if event["phase"] == "inject":
                    row["oom_injected"] += 1
                elif event["phase"] == "confirm" and event["outcome"] == "ok" \
                        and event["detail"].get("exit_code") == 137 \
                        and event["detail"].get("oom_confirmed_by", "runtime" if event["detail"].get("oom_killed") else None):
                    row["oom_confirmed_kernel"] += 1
            if event["kind"] == "note" and " attempt " in event.get("message", ""):
                attempts += 1
        row["attempts"].append(attempts)
    return per_variant


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("times", type=int)
    parser.add_argument("selection", nargs="+")
    parser.add_argument("--out", type=Path, default=Path("repeat-out"))
    args, extra = parser.parse_known_args()
    extra = [a for a in extra if a != "--"]
    args.out.mkdir(parents=True, exist_ok=True)
    for i in range(1, args.times + 1):
        run_dir = args.out / f"run-{i:02d}"
        t0 = time.monotonic()
        cmd = [sys.executable, "-m", "pytest", "-p", "fluxchaos", "-q", "-p", "no:cacheprovider",
               *args.selection, f"--fluxchaos-artifacts={run_dir}", *extra]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        (args.out / f"run-{i:02d}.log").write_text(proc.stdout + proc.stderr)
        print(f"run {i}/{args.times}: exit {proc.returncode} in {time.monotonic() - t0:.0f}s",
              flush=True)
    result = tally(args.out)
    printable = {k: {kk: (dict(vv) if isinstance(vv, collections.Counter) else vv)
                     for kk, vv in v.items()} for k, v in result.items()}
    (args.out / "tally.json").write_text(json.dumps(printable, indent=2))
    for item, row in printable.items():
        secs = sorted(row["seconds"])
        print(f"{item}: runs={row['runs']} passed={row['passed']} errors={row['errors']} "
              + "".join(f"{name}={row[name]} " for name in CHECKERS if row[name])
              + "oom kernel-confirmed="
              f"{row['oom_confirmed_kernel']}/{row['oom_injected']} "
              f"median={secs[len(secs) // 2] if secs else 0:.0f}s attempts={row['attempts']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
