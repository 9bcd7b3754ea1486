#!/usr/bin/env bash
# Keep both cores busy with a real Go build (what a loaded CI machine does) for a while:
#   bash scripts/cpu-load.sh 1800 &   # seconds; then run scripts/repeat.py
# It rebuilds the cached etcd wrapper module from scratch (-a) in a loop, so it needs the
# asset cache (python -m pytest_fluxchaos.assets build) and builds nothing it keeps.
set -euo pipefail
seconds="${1:-1800}"
cache="${FLUXCHAOS_CACHE:-$HOME/.cache/fluxchaos}"
module="$cache/work/bin-etcd-v3.6.16"
[ -f "$module/go.mod" ] || { echo "cpu-load: $module missing; build the assets first" >&2; exit 2; }
end=$(( $(date +%s) + seconds ))
builds=0
while [ "$(date +%s)" -lt "$end" ]; do
    (cd "$module" && GOFLAGS=-mod=mod timeout $(( end - $(date +%s) + 1 )) go build -a -p 2 -o /dev/null . ) || true
    builds=$(( builds + 1 ))
done
echo "cpu-load: $builds build(s) in ${seconds}s"
