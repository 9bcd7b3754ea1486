#!/usr/bin/env python
"""How long the checkers take on a recorded history (a script, not a timed test).

    python benchmarks/checkers_bench.py SUITE.yaml SCENARIO HISTORY.jsonl [--irc v1.2.4] [--namespace NS]

Judges a recorded run again and prints each checker's seconds: big tag sets (thousands of
pushes, each a registry state) are where the checkers' cost grows, and a run is not over
until they have spoken. The namespace is read from the history when not given.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from pytest_fluxchaos.checkers import DEFAULT_CHECKERS, applies
from pytest_fluxchaos.history import History, PolicyLatest
from pytest_fluxchaos.runner import check_context
from pytest_fluxchaos.suite import load_suite


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("suite")
    ap.add_argument("scenario")
    ap.add_argument("history", type=Path)
    ap.add_argument("--irc", default="v1.2.4")
    ap.add_argument("--namespace")
    args = ap.parse_args()
    scenario = next(s for s in load_suite(args.suite).scenarios if s.name == args.scenario)
    history = History.read_jsonl(args.history)
    namespace = args.namespace or next(e.policy for e in history.of(PolicyLatest)).split("/")[0]
    ctx = check_context(scenario, namespace, args.irc)
    out: dict[str, object] = {"events": len(history.events)}
    for checker in DEFAULT_CHECKERS:
        if not applies(checker, ctx):
            continue
        t0 = time.perf_counter()
        verdict = checker.check(history, ctx)
        out[checker.name] = {"seconds": round(time.perf_counter() - t0, 3), "valid": verdict.valid.value}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
