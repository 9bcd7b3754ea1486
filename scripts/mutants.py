"""Deliberate bugs the fast tier must catch: each mutant is applied to a scratch copy of
the package and the fast tests must go red. A surviving mutant means a test that cannot
fail, so the script exits 1.

    python scripts/mutants.py            # the fault, nemesis, generator and checker mutants
    python scripts/mutants.py -k oom     # only mutants whose name contains "oom"
    python scripts/mutants.py -j 1       # one at a time (default: one per core, at most 4)
"""

from __future__ import annotations

import argparse
import os
from concurrent.futures import ThreadPoolExecutor
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ["tests/domain", "tests/test_checkers.py", "tests/test_git_checkers.py",
         "tests/test_ready_honest.py", "tests/test_storms.py", "tests/test_observe_warnings.py"]

# (name, file, original text, mutated text): each a bug the brief or a review named.
MUTANTS = [
    ("oom: the runtime's OOMKilled flag ignored", "pytest_fluxchaos/faults/oom_kill.py",
     "        if after.oom_killed:\n", "        if False:\n"),
    ("oom: the cgroup counter ignored", "pytest_fluxchaos/faults/oom_kill.py",
     "        if counter:\n", "        if False:\n"),
    ("oom: any exit code accepted", "pytest_fluxchaos/faults/oom_kill.py",
     "        if after.exit_code != 137:\n", "        if False:\n"),
    ("oom: a SIGKILL counts as an OOM kill", "pytest_fluxchaos/faults/oom_kill.py",
     '        return Confirmation.unconfirmed("the container restarted with exit 137 but the kernel did "',
     '        return Confirmation.ok(oom_confirmed_by=None, **facts)\n'
     '        return Confirmation.unconfirmed("the container restarted with exit 137 but the kernel did "'),
    ("oom: the hog dying first accepted", "pytest_fluxchaos/faults/oom_kill.py",
     '        if report.victim == "hog":\n', "        if False:\n"),
    ("container faults: no restart accepted", "pytest_fluxchaos/faults/base.py",
     "    if after is None:\n", "    if after is None and False:\n"),
    ("container faults: the same container accepted", "pytest_fluxchaos/faults/base.py",
     "    if after.container_id == before.container_id:\n", "    if False:\n"),
    ("kill: an OOM kill accepted as our SIGKILL", "pytest_fluxchaos/faults/kill.py",
     "        if after.oom_killed:\n", "        if False:\n"),
    ("pod-delete: a missing replacement accepted", "pytest_fluxchaos/faults/pod_delete.py",
     "        if after is None:\n", "        if False:\n"),
    ("lease-delete: no new holder accepted", "pytest_fluxchaos/faults/lease_delete.py",
     "        if after is None:\n", "        if False:\n"),
    ("registry-outage: a registry that still answers accepted", "pytest_fluxchaos/faults/registry_outage.py",
     "        if not after:\n", "        if False:\n"),
    ("registry-outage: the heal never starts the registry", "pytest_fluxchaos/faults/registry_outage.py",
     "        ctx.env.start_registry()\n", "        pass\n"),
    ("git-outage: a server that still answers accepted", "pytest_fluxchaos/faults/git_outage.py",
     "        if not after:\n", "        if False:\n"),
    ("git-outage: heal never starts the server", "pytest_fluxchaos/faults/git_outage.py",
     "        ctx.env.start_git()\n", "        pass\n"),
    ("git-no-regression: a commit moving back accepted", "pytest_fluxchaos/checkers/git_no_regression.py",
     '        if rank in ("forward", "tie"):\n', '        if rank in ("forward", "tie", "backward"):\n'),
    ("git-no-regression: the seed's value judged as a controller's",
     "pytest_fluxchaos/checkers/git_timeline.py",
     "                    from_seed=key in from_seed))\n", "                    from_seed=False))\n"),
    ("git-converges: a branch ending behind accepted", "pytest_fluxchaos/checkers/git_converges.py",
     "        if not good(final):\n", "        if False:\n"),
    ("nemesis: a backend error is not a failed fault", "pytest_fluxchaos/nemesis.py",
     '            verdict = Confirmation("failed", f"{type(exc).__name__}: {exc}")\n            detail = {}\n',
     '            verdict = Confirmation("ok")\n            detail = {}\n'),
    ("nemesis: keep-down never freezes", "pytest_fluxchaos/nemesis.py",
     "            container = wait_until(lambda: self.env.freeze(ns, pod, True), FREEZE_RETRY_S, interval=0.5,\n",
     "            container = wait_until(lambda: pod, FREEZE_RETRY_S, interval=0.5,\n"),
    ("nemesis: keep-down never thaws", "pytest_fluxchaos/nemesis.py",
     "            self.env.freeze(ns, pod, False)\n", "            pass\n"),
    ("nemesis: duration faults healed at once", "pytest_fluxchaos/nemesis.py",
     '        if kind.needs_duration and verdict.outcome != "failed":', "        if False:"),
    ("generator: the StepTimeout raise removed", "pytest_fluxchaos/generator.py",
     '                raise StepTimeout(f"step {index + 1}: {what} did not happen within "\n'
     '                                  f"{min(bound, limit - started):.0f}s") from None\n',
     "                pass\n"),
    ("faults-landed: unconfirmed counted as landed", "pytest_fluxchaos/checkers/faults_landed.py",
     '"unconfirmed": "unconfirmed"}', '"unconfirmed": "landed"}'),
    ("registry lies: an answer equal to the registry's counted as a lie", "pytest_fluxchaos/faults/registry_lies.py",
     "    lies = [e for e in mine if e.lied]\n", "    lies = list(mine)\n"),
    ("registry lies: a liar that restarted mid-fault accepted", "pytest_fluxchaos/faults/registry_lies.py",
     "    if after.boot != evidence.boot:\n", "    if False:\n"),
    ("registry lies: a lie served before the injection counted", "pytest_fluxchaos/faults/registry_lies.py",
     " and e.seq > evidence.cursor]", "]"),
    ("registry lies: the heal never clears the lie", "pytest_fluxchaos/faults/registry_lies.py",
     "        ctx.env.clear_registry_lie(lie)\n", "        pass\n"),
    ("nemesis: a registry lie judged right after its injection", "pytest_fluxchaos/nemesis.py",
     "            if kind.confirms_at_heal:\n", "            if False:\n"),
    ("ready-honest: an Unknown while retrying ends the failure", "pytest_fluxchaos/checkers/ready_honest.py",
     '        elif ev.status == "True" and open_ is not None:\n',
     '        elif ev.status != "False" and open_ is not None:\n'),
    ("ready-honest: the policy's Ready=True from before the failure forgotten",
     "pytest_fluxchaos/checkers/ready_honest.py",
     "    current = next((e for e in reversed(readies) if e.t <= start), None)\n", "    current = None\n"),
    ("ready-honest: the bound ignored", "pytest_fluxchaos/checkers/ready_honest.py",
     "            deadline = failure.since + ctx.honest_bound\n", "            deadline = failure.since\n"),
    ("ready-honest: Ready=True after the repository recovered counted", "pytest_fluxchaos/checkers/ready_honest.py",
     "            stop = end if failure.until is None else failure.until\n", "            stop = end\n"),
    ("ready-honest: a repository never observed judged true", "pytest_fluxchaos/checkers/ready_honest.py",
     "        if not repo_readies:\n", "        if False:\n"),
    ("never-stuck storms: repetitions folded into one Event not counted", "pytest_fluxchaos/checkers/storms.py",
     "        counts[key] = max(counts.get(key, 0), e.count)\n", "        counts[key] = 1\n"),
    ("never-stuck storms: every observation's count added up", "pytest_fluxchaos/checkers/storms.py",
     "        counts[key] = max(counts.get(key, 0), e.count)\n", "        counts[key] = counts.get(key, 0) + e.count\n"),
    ("observer: warnings about image objects recorded as notes", "pytest_fluxchaos/observe/trackers.py",
     '        if etype == "Warning" and involved.get("kind") in IMAGE_KINDS:\n', "        if False:\n"),
    ("nemesis: leader resolved without waiting for a live pod", "pytest_fluxchaos/nemesis.py",
     "                                                 timeout=action.confirm_timeout)\n",
     "                                                 timeout=0.0)\n"),
    # the explorer's own rules; their tests are tests/explore (milliseconds, planted bugs)
    ("explore: one failure in r runs believed", "pytest_fluxchaos/explore/judge.py",
     "    return Judgement(failures >= k, runs, failures)\n", "    return Judgement(failures >= 1, runs, failures)\n",
     ["tests/explore"]),
    ("explore: ddmin never removes single moves", "pytest_fluxchaos/explore/shrink.py",
     "                n = min(len(moves), 2 * n)\n", "                return schedule.with_moves(tuple(moves)), True\n",
     ["tests/explore"]),
    ("explore: faults never weakened", "pytest_fluxchaos/explore/shrink.py",
     'WEAKER = {"oom-kill": "kill", "kill": "pod-delete"}', "WEAKER: dict[str, str] = {}", ["tests/explore"]),
    ("explore: unknown where true was expected is no failure", "pytest_fluxchaos/explore/explorer.py",
     '        elif verdict == "unknown" and want is True:\n', '        elif False:\n', ["tests/explore"]),
    ("explore: a standby fault on one replica compiles", "pytest_fluxchaos/explore/schedule.py",
     '            if move.target in ("standby", "pod-1") and replicas < 2:\n', "            if False:\n",
     ["tests/explore"]),
    ("explore: a shrunk schedule that fails verification published", "pytest_fluxchaos/explore/explorer.py",
     "            if failing:\n                good, good_trial = probe, last\n",
     "            if True:\n                good, good_trial = probe, last\n", ["tests/explore"]),
    ("explore: the webhook's reconcile never follows a push", "pytest_fluxchaos/explore/schedule.py",
     "    if not spec.webhook:\n", "    if True:\n", ["tests/explore"]),
    ("explore: the webhook's move ends before its policies resolve", "pytest_fluxchaos/explore/schedule.py",
     "        steps.extend(_policy_waits(spec, present, repository=repo.name))\n", "        pass\n",
     ["tests/explore"]),
    ("nemesis: a server's second fault starts while its first is active", "pytest_fluxchaos/nemesis.py",
     "        earlier = self._shared_target_active(kind)\n", "        earlier: list[ActiveFault] = []\n",
     ["tests/domain/test_nemesis.py"]),
    ("explore: xdist workers explore the same schedules", "pytest_fluxchaos/explore/explorer.py",
     "                    index += self.workers\n", "                    index += 1\n", ["tests/explore"]),
    # natural OOM kills (issue 12): the observer's one-per-container rule and the checker's attribution
    ("no-oom: an injected oom-kill's kill called natural", "pytest_fluxchaos/checkers/no_oom.py",
     "            if cause is not None:\n", "            if False:\n", ["tests/test_no_oom.py"]),
    ("no-oom: a kill of another pod blamed on the fault", "pytest_fluxchaos/checkers/no_oom.py",
     "if pod == name and start <= kill.t <= end", "if start <= kill.t <= end", ["tests/test_no_oom.py"]),
    ("observer: one OOM kill recorded again at every poll", "pytest_fluxchaos/observe/trackers.py",
     "        if restart < 0 or (key, restart) in self.ooms:\n", "        if restart < 0:\n",
     ["tests/test_observe.py"]),
    ("generator: a bulk push on one client process", "pytest_fluxchaos/generator.py",
     '                self.push(image, tag, f"{self.process}-bulk-{k}")\n', "                self.push(image, tag)\n",
     ["tests/domain/test_generator.py"]),
    ("story: a lie's confirmation no longer says what was served", "pytest_fluxchaos/checkers/story.py",
     "        detail = lie_text(c.detail) or fmt_detail(c.detail)\n", "        detail = fmt_detail(c.detail)\n",
     ["tests/test_story_lies.py", "tests/test_checkers.py"]),
    # the kind backend's fault proxy: never remove a stranger's container
    ("kind: a stranger's container named like ours replaced", "pytest_fluxchaos/backends/kind/guard.py",
     "    if owner.stdout.strip() != cluster:\n", "    if False:\n",
     ["tests/kind/test_kind_provision.py"]),
    ("kind: a port taken before Docker binds it is not retried", "pytest_fluxchaos/backends/kind/publish.py",
     "        if not any(w in started.stderr for w in PORT_TAKEN):\n", "        if True:\n",
     ["tests/kind/test_kind_provision.py"]),
]


def run(mutant: tuple[object, ...], tests: list[str]) -> tuple[bool, str, float]:
    name, rel, old, new = (str(x) for x in mutant[:4])
    if len(mutant) > 4 and tests == TESTS:
        tests = list(mutant[4])  # type: ignore[call-overload]  # the mutant's own tests
    with tempfile.TemporaryDirectory(prefix="fluxchaos-mutant-") as tmp:
        scratch = Path(tmp)
        shutil.copytree(ROOT / "pytest_fluxchaos", scratch / "pytest_fluxchaos")
        shutil.copytree(ROOT / "tests", scratch / "tests")
        shutil.copytree(ROOT / "docs", scratch / "docs")
        shutil.copy(ROOT / "pyproject.toml", scratch / "pyproject.toml")
        target = scratch / rel
        source = target.read_text()
        if old not in source:
            raise SystemExit(f"mutant {name!r}: the original text is gone from {rel}; update scripts/mutants.py")
        target.write_text(source.replace(old, new, 1))
        env = {**os.environ, "PYTHONPATH": str(scratch)}
        t0 = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                               "-p", "fluxchaos", *tests], cwd=scratch, env=env, capture_output=True, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if " passed" in ln or " failed" in ln or " error" in ln]
        return proc.returncode != 0, lines[-1] if lines else proc.stdout[-200:], time.monotonic() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", default="", help="only mutants whose name contains this")
    parser.add_argument("-j", "--jobs", type=int, default=min(4, os.cpu_count() or 1),
                        help="mutants tested at once, each in its own scratch copy")
    parser.add_argument("tests", nargs="*", default=TESTS)
    args = parser.parse_args()
    chosen = [m for m in MUTANTS if args.k in m[0]]
    survivors = 0
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = pool.map(lambda m: run(m, args.tests), chosen)  # in order, as each finishes
        for mutant, (killed, last, seconds) in zip(chosen, results):
            survivors += not killed
            print(f"{'killed  ' if killed else 'SURVIVED'} {mutant[0]} ({seconds:.0f}s: {last})", flush=True)
    print(f"mutants: {len(chosen) - survivors} killed, {survivors} survived (fast tier: {' '.join(args.tests)})")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
