#!/usr/bin/env bash
# Set up a fresh machine: Docker engine, the Python package with its test extras, and
# the asset cache (offline build from the Go module proxy, or official images online).
# Idempotent: a warm machine does no work.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-docker.sh
python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'
python3 -m pytest_fluxchaos.assets build --flux-version 2.9.4
python3 -m pytest_fluxchaos.assets build --flux-version 2.9.3
# kind: the kind CLI and an offline node image (runc is built with cgo against libseccomp).
if ! [ -e /usr/include/seccomp.h ] || ! command -v gcc >/dev/null 2>&1 || ! command -v pkg-config >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        gcc libc6-dev libseccomp-dev pkg-config
fi
python3 -m pytest_fluxchaos.assets build --kind
