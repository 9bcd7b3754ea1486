"""A genuine kernel OOM kill of one controller container, via its memory cgroup.

The Litmus / Chaos Mesh technique (research/chaos-anchors.md §A), done with a
privileged helper container (``--pid=host``, ``--cgroupns=host``, the host's
``/sys/fs/cgroup`` mounted at ``/host/cgroup``):

1. read ``/proc/<controller pid>/cgroup`` - never guess the path: cgroup v1 uses the
   ``memory`` controller line (``/docker/<id>`` with the cgroupfs driver,
   ``/system.slice/docker-<id>.scope`` with systemd), cgroup v2 the ``0::`` line;
2. start a memory hog that first sets its own ``oom_score_adj`` to -1000 (root may
   lower it; such tasks are never chosen by the OOM killer, and are exempt from a
   v2 ``memory.oom.group`` kill), then moves *itself* into the controller's cgroup
   (``cgroup.procs``) *before* allocating, so every page it touches is charged there,
   and only then ``exec``\\s the allocator (``tail /dev/zero`` grows without bound);
3. the cgroup hits its limit and the kernel's memcg OOM killer must pick a victim
   among the tasks with ``oom_score_adj > -1000``: the controller (uid 65534, adj 0),
   the only other task in the container;
4. as soon as the controller's pid is gone (or reaped: zombies count as gone) the
   helper kills the hog, so the cgroup empties and the runtime can remove it.

The helper prints ``fluxchaos: key=value`` lines; :func:`parse_helper_log` turns them
into evidence (cgroup path and version, limit, the cgroup's ``oom_kill`` counter
before and after, whether the hog survived). Docker's ``State.OOMKilled`` plus exit
code 137 on the controller's container is the verdict the backend reports.
"""

from __future__ import annotations

from typing import Any

HOST_CGROUP_MOUNT = "/host/cgroup"

# POSIX sh (dash/busybox) + coreutils/mawk; parameters come from the environment:
# TARGET_PID, TIMEOUT (seconds), CG (host cgroup mount inside the helper).
HELPER_SCRIPT = r"""
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
say "usage_before=$(cat "$usage_file" 2>/dev/null)"
say "oom_kill_before=$(oomk)"
if [ "$ver" = 2 ]; then say "oom_group=$(cat "$dir/memory.oom.group" 2>/dev/null)"; fi
say "target_oom_score_adj=$(cat /proc/$pid/oom_score_adj 2>/dev/null)"
# Can this helper protect the hog (oom_score_adj -1000 needs CAP_SYS_RESOURCE)?
protect=1
{ echo -1000 > /proc/self/oom_score_adj; } 2>/dev/null || protect=0
echo 0 > /proc/self/oom_score_adj 2>/dev/null
say "hog_protected=$protect"
if [ "$protect" = 0 ]; then
  # Without it the hog keeps adj 0; the controller must out-score it. A kubelet gives
  # a Burstable pod ~999 already; raise a lower value to 1000 (raising needs no
  # privilege) so the controller's badness (rss + limit) beats the hog's (< limit).
  adj=$(cat /proc/$pid/oom_score_adj)
  if [ "$adj" -lt 1000 ]; then
    if echo 1000 > /proc/$pid/oom_score_adj; then say "target_oom_score_adj_raised_from=$adj"; fi
  fi
fi
# The hog: (protect it,) move it into the target cgroup, then fill more than the
# limit at memory speed (dd reads /dev/zero into one buffer of limit + 64 MiB).
limit=$(cat "$limit_file" 2>/dev/null)
case "$limit" in ''|max|*[!0-9]*) say "error=the target has no memory limit ($limit)"; exit 7;; esac
host_kb=$(awk '$1 == "MemTotal:" { print $2 }' /proc/meminfo)
if [ $(( limit / 1024 )) -ge "$host_kb" ]; then say "error=the target has no memory limit below host memory"; exit 7; fi
hog_bytes=$(( limit + 67108864 ))
say "hog_bytes=$hog_bytes"
sh -c '[ "$2" = 1 ] && echo -1000 > /proc/self/oom_score_adj; echo $$ > "$1/cgroup.procs" && exec dd if=/dev/zero of=/dev/null bs="$3" count=1 iflag=fullblock status=none' hog "$dir" "$protect" "$hog_bytes" &
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
    # The hog may die right after the target (a second OOM once the target is gone).
    sleep 0.2
    st=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)
    if [ -z "$st" ] || [ "$st" = Z ] || [ "$st" = X ]; then gone=1; else hog_first=1; fi
    break
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then break; fi
  sleep 0.02
done
end=$(date +%s%N)
say "target_gone=$gone"
say "target_gone_at=$(date +%s.%N)"
say "elapsed_ms=$(( (end - start) / 1000000 ))"
say "oom_kill_after=$(oomk)"
say "usage_at_end=$(cat "$usage_file" 2>/dev/null)"
if kill -0 "$hog" 2>/dev/null; then
  say "hog_alive=1"
  kill -9 "$hog" 2>/dev/null
  wait "$hog" 2>/dev/null
  say "hog_killed_by_kernel=0"
else
  wait "$hog" 2>/dev/null
  code=$?
  say "hog_alive=0"
  say "hog_exit=$code"
  # 137 = SIGKILL: the OOM killer chose the hog, not the controller.
  if [ "$code" = 137 ]; then say "hog_killed_by_kernel=1"; else say "hog_killed_by_kernel=0"; fi
fi
if [ "$hog_first" = 1 ]; then say "error=the hog died before the target"; exit 5; fi
if [ "$gone" != 1 ]; then say "error=target survived ${TIMEOUT}s of memory pressure"; exit 6; fi
exit 0
"""


def _convert(value: str) -> Any:
    if value == "":
        return None
    if value.lstrip("-").isdigit():
        return int(value)
    return value


def parse_helper_log(text: str) -> dict[str, Any]:
    """``fluxchaos: key=value`` lines -> dict (ints where numeric, last value wins)."""
    out: dict[str, Any] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("fluxchaos: "):
            continue
        key, sep, value = line[len("fluxchaos: ") :].partition("=")
        if sep:
            out[key.strip()] = _convert(value.strip())
    return out
