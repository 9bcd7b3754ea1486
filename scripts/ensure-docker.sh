#!/usr/bin/env bash
# Make sure a Docker engine answers `docker info`, and that debootstrap is
# installed (the offline asset build makes its Debian base image with it).
#
# Idempotent: when `docker info` already works and debootstrap is present it
# does nothing.  Otherwise it installs Debian's docker.io / debootstrap
# (one `apt-get update` at most), starts dockerd in the background (log:
# /var/log/dockerd.log) and waits until the engine answers.
#
# Environment: DOCKERD_WAIT (seconds to wait for the engine, default 60),
#              DOCKERD_LOG (default /var/log/dockerd.log).
set -euo pipefail

WAIT="${DOCKERD_WAIT:-60}"
LOG="${DOCKERD_LOG:-/var/log/dockerd.log}"
APT_UPDATED=0

say() { echo "[ensure-docker] $*"; }
die() { echo "[ensure-docker] ERROR: $*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
    else die "need root to run: $*"
    fi
}

apt_install() {
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install $* by hand (this script supports Debian/Ubuntu)"
    if [ "$APT_UPDATED" -eq 0 ]; then
        say "apt-get update"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || die "apt-get update failed"
        APT_UPDATED=1
    fi
    say "apt-get install $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
        || die "apt-get install $* failed"
}

docker_ok() { command -v docker >/dev/null 2>&1 && timeout 20 docker info >/dev/null 2>&1; }

# --- debootstrap ------------------------------------------------------------
if ! command -v debootstrap >/dev/null 2>&1 && [ ! -x /usr/sbin/debootstrap ]; then
    apt_install debootstrap
fi

# --- Docker engine ----------------------------------------------------------
if docker_ok; then
    say "docker engine is up ($(docker info --format '{{.ServerVersion}}' 2>/dev/null))"
    exit 0
fi

if ! command -v dockerd >/dev/null 2>&1 && [ ! -x /usr/sbin/dockerd ]; then
    apt_install docker.io
fi
command -v docker >/dev/null 2>&1 || apt_install docker.io

DOCKERD="$(command -v dockerd || echo /usr/sbin/dockerd)"
if pgrep -x dockerd >/dev/null 2>&1; then
    say "dockerd is running but not answering yet; waiting"
else
    say "starting $DOCKERD (log: $LOG)"
    as_root mkdir -p "$(dirname "$LOG")"
    # A stale pid file from a killed engine makes dockerd refuse to start.
    if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid 2>/dev/null)" 2>/dev/null; then
        as_root rm -f /var/run/docker.pid
    fi
    if [ "$(id -u)" -eq 0 ]; then
        nohup "$DOCKERD" >>"$LOG" 2>&1 </dev/null &
    else
        sudo -n sh -c "nohup '$DOCKERD' >>'$LOG' 2>&1 </dev/null &"
    fi
fi

deadline=$((SECONDS + WAIT))
until docker_ok; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        echo "[ensure-docker] ERROR: the Docker engine did not answer within ${WAIT}s; last lines of $LOG:" >&2
        tail -n 20 "$LOG" >&2 2>/dev/null || true
        exit 1
    fi
    sleep 1
done
say "docker engine is up ($(docker info --format '{{.ServerVersion}}' 2>/dev/null))"
