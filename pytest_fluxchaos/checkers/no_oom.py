"""no-oom: no controller container is OOM-killed except by an injected oom-kill fault.

The kills that matter most in the field are the ones nobody injected: a big tag set, a
memory limit, and the kernel kills the image-reflector-controller during a scan
(image-reflector-controller#285, #931, fluxcd/flux2#2902; the cause behind
fluxcd/flux2#4984). The observer records every OOM kill the runtime reports (``oom``
events, from the kernel's memory-cgroup OOM event); this checker sets aside the ones an
injected ``oom-kill`` fault explains (same pod, from its inject until its confirm or
heal plus ``SLACK``) and calls the rest *natural*.

*false* with each natural kill (pod, when, exit code, what the repositories held at
their last scan); *true* when there is none. A natural kill is evidence in itself, so
there is no *unknown*: a run whose pods were never observed has simply seen none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytest_fluxchaos.history import Fault, History, OomKill, RepositoryScan

from .core import CheckContext, Validity, Verdict
from .story import fmt_t, when

#: Seconds after an injected oom-kill's confirm (or heal) in which a kill is still its own.
SLACK = 15.0


def _windows(history: History) -> list[tuple[str, str, float, float]]:
    """(fault id, pod name, from, until) of each injected oom-kill."""
    out: list[tuple[str, str, float, float]] = []
    events = [e for e in history.of(Fault) if e.f == "oom-kill"]
    for inj in (e for e in events if e.phase == "inject"):
        later = [e.t for e in events if e.fault_id == inj.fault_id and e.phase in ("confirm", "heal") and e.t >= inj.t]
        pod = inj.resolved or next((e.resolved for e in events if e.fault_id == inj.fault_id and e.resolved), "")
        out.append((inj.fault_id, (pod or "").rsplit("/", 1)[-1], inj.t, (max(later) if later else inj.t) + SLACK))
    return out


def _scans_before(history: History, t: float) -> dict[str, int]:
    """Tags per repository at its last scan before ``t``."""
    seen: dict[str, int] = {}
    for scan in history.of(RepositoryScan):
        if scan.t <= t:
            seen[scan.repository] = scan.tag_count
    return seen


@dataclass
class NoOom:
    name: str = "no-oom"

    def check(self, history: History, ctx: CheckContext) -> Verdict:
        windows = _windows(history)
        natural: list[dict[str, Any]] = []
        injected: list[dict[str, Any]] = []
        story: list[str] = []
        for kill in history.of(OomKill):
            name = kill.pod.rsplit("/", 1)[-1]
            cause = next((fid for fid, pod, start, end in windows if pod == name and start <= kill.t <= end), None)
            entry = {"pod": kill.pod, "t": kill.t, "wall": kill.wall, "restart": kill.restart,
                     "exit_code": kill.exit_code, "fault_id": cause}
            if cause is not None:
                injected.append(entry)
                continue
            scans = _scans_before(history, kill.t)
            entry["tags_at_last_scan"] = scans
            natural.append(entry)
            held = ", ".join(f"{repo.rsplit('/', 1)[-1]} {n}" for repo, n in sorted(scans.items())) or "no scan yet"
            story.append(f"pod {kill.pod} OOM-killed by the kernel at {when(kill.t, kill.wall)} "
                         f"(container {kill.restart}, exit {kill.exit_code}), no oom-kill fault injected")
            story.append(f"  tags per repository at the last scan before it: {held}")
        data = {"natural": natural, "injected": injected}
        if natural:
            first = natural[0]
            summary = (f"{len(natural)} OOM kill(s) nobody injected; first {first['pod']} at {fmt_t(first['t'])}")
            return Verdict(self.name, Validity.FALSE, summary, story, data)
        told = f" ({len(injected)} injected)" if injected else ""
        return Verdict(self.name, Validity.TRUE, f"no OOM kill other than injected ones{told}", story, data)
