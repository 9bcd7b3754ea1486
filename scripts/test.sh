#!/usr/bin/env bash
# The tests, as CI runs them (after scripts/setup.sh): the import-layer contracts, types,
# the deliberate bugs the fast tier must kill, then every test tier plus the flux2#4984
# item, the IAC-under-faults suite, every registry lie told to the real controller and the
# known-bug matrix (truncated listings, IRC#449, #930, #105, natural OOM, fetchDigest/insecure) on the
# docker backend, and a bounded real exploration (suites/explore/ci-stale-failover.yaml:
# its pinned seed finds flux2#4984, confirms and shrinks it on a run budget). Fails if the
# tests leave a Docker volume behind.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
stamp() { echo "[test] $(( $(date +%s) - start ))s: $*"; }

stamp "import layers: lint-imports"
lint-imports
stamp "types: mypy"
mypy
stamp "mutants the fast tier must kill: python3 scripts/mutants.py"
python3 scripts/mutants.py

volumes_before=$(docker volume ls -q | sort)
stamp "tests: every tier, the flux2#4984 item (with image automation), IAC under faults, registry lies, known bugs, a bounded exploration"
python3 -m pytest -p fluxchaos tests suites/flux2-4984-oom-failover.yaml::two-flips-stale-db \
    suites/iac-under-faults.yaml suites/registry-lies.yaml suites/known-bugs \
    suites/explore/ci-stale-failover.yaml \
    --fluxchaos-backend=docker --fluxchaos-parallel -q -rfEs
leaked=$(comm -13 <(echo "$volumes_before") <(docker volume ls -q | sort))
if [ -n "$leaked" ]; then
    echo "[test] Docker volumes left behind by the tests:" $leaked >&2
    exit 1
fi
stamp "done"
