"""The host helper that makes the kernel OOM-kill one container, and its report.

The Litmus / Chaos Mesh technique, run by a backend as root beside the pod (the host's
PID namespace, its cgroup tree mounted at ``$CG``):

1. read ``/proc/<controller pid>/cgroup``, never guess the path: cgroup v1 uses the
   ``memory`` controller line, cgroup v2 the ``0::`` line;
2. start a memory hog that protects itself (``oom_score_adj`` -1000 where root may),
   moves *itself* into the controller's cgroup before allocating, then allocates more
   than the limit, so the kernel's memcg OOM killer must pick the controller;
3. as soon as the controller's pid is gone the helper kills the hog, so the cgroup
   empties and the runtime can restart the container.

It prints ``fluxchaos: key=value`` lines; :func:`parse_report` types them.
"""

from __future__ import annotations

from dataclasses import dataclass

# POSIX sh (dash/busybox) + coreutils/mawk; parameters come from the environment:
# TARGET_PID, TIMEOUT (seconds), CG (the host cgroup mount inside the helper).
SCRIPT = r"""
set -u
say() { echo "fluxchaos: $*"; }
pid="$TARGET_PID"
cgfile="/proc/$pid/cgroup"
if [ ! -r "$cgfile" ]; then say "error=target pid $pid not found"; exit 3; fi
v1=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3; exit }' "$cgfile")
if [ -n "$v1" ]; then
  ver=1
  dir="$CG/memory$v1"
  limit_file="$dir/memory.limit_in_bytes"; usage_file="$dir/memory.usage_in_bytes"
  events_file="$dir/memory.oom_control"
else
  ver=2
  rel=$(awk -F: '$1 == "0" { print $3; exit }' "$cgfile")
  dir="$CG$rel"
  limit_file="$dir/memory.max"; usage_file="$dir/memory.current"
  events_file="$dir/memory.events"
fi
if [ ! -d "$dir" ]; then say "error=cgroup directory $dir not found"; exit 4; fi
oomk() { awk '$1 == "oom_kill" { print $2; found=1 } END { if (!found) print "" }' "$events_file" 2>/dev/null; }
say "cgroup_version=$ver"
say "cgroup=${dir#$CG}"
say "limit=$(cat "$limit_file" 2>/dev/null)"
say "oom_kill_before=$(oomk)"
say "target_oom_score_adj=$(cat /proc/$pid/oom_score_adj 2>/dev/null)"
protect=1
{ echo -1000 > /proc/self/oom_score_adj; } 2>/dev/null || protect=0
echo 0 > /proc/self/oom_score_adj 2>/dev/null
say "hog_protected=$protect"
if [ "$protect" = 0 ]; then
  # Without CAP_SYS_RESOURCE the hog keeps adj 0; raise the controller's (raising needs
  # no privilege) so its badness beats the hog's.
  adj=$(cat /proc/$pid/oom_score_adj)
  if [ "$adj" -lt 1000 ]; then
    if echo 1000 > /proc/$pid/oom_score_adj; then say "target_oom_score_adj_raised_from=$adj"; fi
  fi
fi
limit=$(cat "$limit_file" 2>/dev/null)
case "$limit" in ''|max|*[!0-9]*) say "error=the target has no memory limit ($limit)"; exit 7;; esac
host_kb=$(awk '$1 == "MemTotal:" { print $2 }' /proc/meminfo)
if [ $(( limit / 1024 )) -ge "$host_kb" ]; then say "error=the target has no memory limit below host memory"; exit 7; fi
hog_bytes=$(( limit + 67108864 ))
say "hog_bytes=$hog_bytes"
hog_body='[ "$2" = 1 ] && echo -1000 > /proc/self/oom_score_adj; echo $$ > "$1/cgroup.procs" &&
  exec dd if=/dev/zero of=/dev/null bs="$3" count=1 iflag=fullblock status=none'
sh -c "$hog_body" hog "$dir" "$protect" "$hog_bytes" &
hog=$!
say "hog_pid=$hog"
start=$(date +%s%N)
deadline=$(( $(date +%s) + TIMEOUT ))
gone=0
hog_first=0
while :; do
  st=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)
  if [ -z "$st" ] || [ "$st" = Z ] || [ "$st" = X ]; then gone=1; break; fi
  if ! kill -0 "$hog" 2>/dev/null; then
    sleep 0.2  # the hog may die right after the target (a second OOM once it is gone)
    st=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)
    if [ -z "$st" ] || [ "$st" = Z ] || [ "$st" = X ]; then gone=1; else hog_first=1; fi
    break
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then break; fi
  sleep 0.02
done
end=$(date +%s%N)
say "target_gone=$gone"
say "elapsed_ms=$(( (end - start) / 1000000 ))"
say "oom_kill_after=$(oomk)"
if kill -0 "$hog" 2>/dev/null; then
  say "hog_alive=1"
  kill -9 "$hog" 2>/dev/null
  wait "$hog" 2>/dev/null
else
  wait "$hog" 2>/dev/null
  say "hog_alive=0"
  say "hog_exit=$?"
fi
if [ "$hog_first" = 1 ]; then say "error=the hog died before the target"; exit 5; fi
if [ "$gone" != 1 ]; then say "error=target survived ${TIMEOUT}s of memory pressure"; exit 6; fi
exit 0
"""

REAP_SCRIPT = 'kill -9 "$HOG_PID" 2>/dev/null; exit 0'
"""Kill a hog whose helper died half-way (it would otherwise keep the cgroup full)."""


def _value(text: str) -> int | str | None:
    if text == "":
        return None
    if text.lstrip("-").isdigit():
        return int(text)
    return text


def parse_lines(text: str) -> dict[str, int | str | None]:
    """``fluxchaos: key=value`` lines -> dict (ints where numeric, last value wins)."""
    out: dict[str, int | str | None] = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("fluxchaos: "):
            key, sep, value = line[len("fluxchaos: "):].partition("=")
            if sep:
                out[key.strip()] = _value(value.strip())
    return out


def _int(raw: dict[str, int | str | None], key: str) -> int | None:
    value = raw.get(key)
    return value if isinstance(value, int) else None


@dataclass(frozen=True)
class HelperReport:
    """What the helper saw: the cgroup, its OOM-kill counter, and who died first."""

    cgroup: str | None = None
    cgroup_version: int | None = None
    limit: int | None = None
    oom_kill_before: int | None = None
    oom_kill_after: int | None = None
    target_gone: bool = False
    hog_pid: int | None = None
    hog_alive: bool | None = None  # None: the helper never got that far
    hog_protected: bool | None = None
    elapsed_ms: int | None = None
    error: str | None = None

    @property
    def kernel_oom_kills(self) -> int | None:
        """OOM kills the cgroup's own counter saw during the injection (None: unreadable)."""
        if self.oom_kill_after is None:
            return None
        return self.oom_kill_after - (self.oom_kill_before or 0)

    @property
    def hog_died_first(self) -> bool:
        return self.error == "the hog died before the target"

    @property
    def victim(self) -> str | None:
        """Who the kernel killed first: ``controller``, ``hog``, or None (nobody seen)."""
        if self.hog_died_first:
            return "hog"
        return "controller" if self.target_gone else None


def parse_report(text: str) -> HelperReport:
    raw = parse_lines(text)
    alive = _int(raw, "hog_alive")
    protected = _int(raw, "hog_protected")
    error = raw.get("error")
    return HelperReport(
        cgroup=str(raw["cgroup"]) if raw.get("cgroup") is not None else None,
        cgroup_version=_int(raw, "cgroup_version"), limit=_int(raw, "limit"),
        oom_kill_before=_int(raw, "oom_kill_before"), oom_kill_after=_int(raw, "oom_kill_after"),
        target_gone=_int(raw, "target_gone") == 1, hog_pid=_int(raw, "hog_pid"),
        hog_alive=None if alive is None else alive == 1,
        hog_protected=None if protected is None else protected == 1,
        elapsed_ms=_int(raw, "elapsed_ms"), error=str(error) if error is not None else None)
