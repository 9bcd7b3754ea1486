#!/usr/bin/env bash
# Make sure a Docker engine answers `docker info`, and that debootstrap is
# installed (the offline asset build makes its Debian base image with it).
#
# Idempotent: when `docker info` already works and debootstrap is present it
# does nothing.  Otherwise it installs Debian's docker.io / debootstrap
# (one `apt-get update` at most), starts dockerd in the background (log:
# /var/log/dockerd.log) and waits until the engine answers.
#
# Privileged containers (kind nodes): on hosts whose capability bounding set
# lacks capabilities Docker grants to --privileged containers (some VMs drop
# CAP_SYS_RESOURCE), runc refuses with "unable to apply caps".  There the
# script installs a small runc wrapper (/usr/local/lib/fluxchaos/runc-capfilter,
# POSIX sh + jq) that drops the missing capabilities from the OCI spec before
# calling the real runc, registers it as the engine's default runtime in
# /etc/docker/daemon.json and reloads dockerd with SIGHUP (no restart).  Hosts
# with every capability are left alone.
#
# Environment: DOCKERD_WAIT (seconds to wait for the engine, default 60),
#              DOCKERD_LOG (default /var/log/dockerd.log),
#              FLUXCHAOS_NO_CAPFILTER=1 (never install the runc wrapper).
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

# The pid of the default engine (the one owning /var/run/docker.pid), if it runs. Not
# `pgrep dockerd`: another engine on its own socket (rootless, or a second daemon with its
# own --pidfile) is not ours to wait for or to reload.
engine_pid() {
    local pid
    pid="$(cat /var/run/docker.pid 2>/dev/null)" || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] \
        && echo "$pid"
}

docker_ok() { command -v docker >/dev/null 2>&1 && timeout 20 docker info >/dev/null 2>&1; }

# --- debootstrap ------------------------------------------------------------
if ! command -v debootstrap >/dev/null 2>&1 && [ ! -x /usr/sbin/debootstrap ]; then
    apt_install debootstrap
fi

# --- Docker engine ----------------------------------------------------------
# --- runc wrapper for hosts with a reduced capability bounding set ------------
CAPFILTER_DIR=/usr/local/lib/fluxchaos
CAPFILTER="$CAPFILTER_DIR/runc-capfilter"
CAPFILTER_NAME=runc-capfilter
DAEMON_JSON=/etc/docker/daemon.json
CAP_NAMES="CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP
LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE
SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME
SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG
WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF CHECKPOINT_RESTORE"

# Capabilities (CAP_X names) that a --privileged container asks for but the
# engine's bounding set lacks.  Docker grants every capability the kernel
# knows (0..cap_last_cap) to privileged containers.
missing_caps() {
    local pid bnd last i=0 name out=""
    pid="$(engine_pid || echo self)"
    bnd="$(awk '/^CapBnd:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)"
    [ -n "$bnd" ] || bnd="$(awk '/^CapBnd:/ {print $2}' /proc/self/status)"
    last="$(cat /proc/sys/kernel/cap_last_cap 2>/dev/null || echo 40)"
    for name in $CAP_NAMES; do
        if [ "$i" -le "$last" ] && [ $(( (0x$bnd >> i) & 1 )) -eq 0 ]; then
            out="$out CAP_$name"
        fi
        i=$((i + 1))
    done
    echo "${out# }"
}

# The wrapper's text: runs for every container operation, so POSIX sh + jq.
capfilter_text() {
    local real="$1" caps="$2" jqcaps
    jqcaps="$(printf '"%s",' $caps)"
    jqcaps="[${jqcaps%,}]"
    sed -e "s|@REAL@|$real|" -e "s|@JQ@|$(command -v jq)|" -e "s|@DROP@|$jqcaps|" -e "s|@CAPS@|$caps|" <<'WRAPPER'
#!/bin/sh
# Installed by pytest-fluxchaos scripts/ensure-docker.sh.  This host's capability
# bounding set lacks @CAPS@, and runc refuses a spec that asks for a missing
# capability ("unable to apply caps").  Drop them from the bundle's config.json
# (create/run) or from the --process spec (exec), then run the real runc.
REAL=@REAL@
DROP='@DROP@'
strip() { # $1: spec file, $2: jq path of its capabilities object
    [ -f "$1" ] || return 0
    @JQ@ --argjson drop "$DROP" \
        "if $2 then $2 |= with_entries(.value |= (if type == \"array\" then . - \$drop else . end)) else . end" \
        "$1" >"$1.capfilter" && cat "$1.capfilter" >"$1"
    rm -f "$1.capfilter"
}
cmd="" bundle="." process="" want=""
for a in "$@"; do
    if [ -n "$want" ]; then
        case "$want" in bundle) bundle="$a" ;; process) process="$a" ;; esac
        want=""
        continue
    fi
    if [ -z "$cmd" ]; then
        case "$a" in
            --root|--log|--log-format|--criu|--rootless) want=value ;;
            -*) ;;
            *) cmd="$a" ;;
        esac
        continue
    fi
    case "$a" in
        --bundle|-b) want=bundle ;;
        --process|-p) want=process ;;
        --bundle=*) bundle="${a#--bundle=}" ;;
        --process=*) process="${a#--process=}" ;;
    esac
done
case "$cmd" in
    create|run) strip "$bundle/config.json" .process.capabilities ;;
    exec) [ -z "$process" ] || strip "$process" .capabilities ;;
esac
exec "$REAL" "$@"
WRAPPER
}

ensure_capfilter() {
    local caps real want cur
    [ -z "${FLUXCHAOS_NO_CAPFILTER:-}" ] || return 0
    caps="$(missing_caps)"
    [ -n "$caps" ] || return 0          # the host has every capability: nothing to do
    command -v jq >/dev/null 2>&1 || apt_install jq
    real="$(command -v runc 2>/dev/null || echo /usr/sbin/runc)"
    [ "$real" != "$CAPFILTER" ] || real=/usr/sbin/runc
    want="$(capfilter_text "$real" "$caps")"
    cur="$(cat "$CAPFILTER" 2>/dev/null || true)"
    if [ "$want" != "$cur" ]; then
        as_root mkdir -p "$CAPFILTER_DIR"
        printf '%s\n' "$want" | as_root tee "$CAPFILTER.tmp" >/dev/null
        as_root chmod 0755 "$CAPFILTER.tmp"
        as_root mv -f "$CAPFILTER.tmp" "$CAPFILTER"
    fi
    local conf='{}'
    [ -s "$DAEMON_JSON" ] && conf="$(cat "$DAEMON_JSON")"
    if [ "$(printf '%s' "$conf" | jq -r --arg n "$CAPFILTER_NAME" --arg p "$CAPFILTER" \
            '(.runtimes[$n].path == $p and ."default-runtime" == $n)')" = "true" ]; then
        return 0                        # already registered and default
    fi
    as_root mkdir -p "$(dirname "$DAEMON_JSON")"
    printf '%s' "$conf" | jq --arg n "$CAPFILTER_NAME" --arg p "$CAPFILTER" \
        '.runtimes[$n] = {path: $p} | ."default-runtime" = $n' | as_root tee "$DAEMON_JSON.tmp" >/dev/null
    as_root mv -f "$DAEMON_JSON.tmp" "$DAEMON_JSON"
    if engine_pid >/dev/null; then
        as_root kill -HUP "$(engine_pid)"
        local deadline=$((SECONDS + 20))
        until [ "$(docker info --format '{{.DefaultRuntime}}' 2>/dev/null)" = "$CAPFILTER_NAME" ]; do
            [ "$SECONDS" -lt "$deadline" ] || die "dockerd did not pick up $DAEMON_JSON after SIGHUP; see $LOG"
            sleep 0.5
        done
    fi
    say "host bounding set lacks $caps: installed $CAPFILTER as the Docker default runtime (privileged containers work)"
}

if docker_ok; then
    ensure_capfilter
    say "docker engine is up ($(docker info --format '{{.ServerVersion}}' 2>/dev/null))"
    exit 0
fi

if ! command -v dockerd >/dev/null 2>&1 && [ ! -x /usr/sbin/dockerd ]; then
    apt_install docker.io
fi
command -v docker >/dev/null 2>&1 || apt_install docker.io

DOCKERD="$(command -v dockerd || echo /usr/sbin/dockerd)"
if engine_pid >/dev/null; then
    say "dockerd is running but not answering yet; waiting"
    ensure_capfilter
else
    ensure_capfilter                    # writes daemon.json before the engine starts
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
