"""faults-landed: every injected fault was confirmed to have happened.

A fault that did not land makes the whole run inconclusive: the other checkers
may pass only because nothing was broken. So the verdict is never *true* when a
fault lacks an ok confirmation: outcome ``unconfirmed`` or no confirm step ->
*unknown*; outcome ``failed`` (the injection itself errored) -> *unknown* too,
said as such. No faults at all -> *true*, "no faults scheduled".

Each inject is paired with the first confirm of the same ``fault_id`` after it
(and before that id's next inject, for faults that repeat under one id).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from pytest_fluxchaos.history import Fault, History

from .core import CheckContext, Validity, Verdict
from .story import StoryTeller, fmt_t, when

_STATUS = {"ok": "landed", "failed": "injection failed", "unconfirmed": "unconfirmed"}


@dataclass
class FaultsLanded:
    name: str = "faults-landed"

    def check(self, history: History, ctx: CheckContext) -> Verdict:
        teller = StoryTeller(history, ctx)
        steps: dict[str, list[Fault]] = defaultdict(list)
        for ev in history.of(Fault):
            steps[ev.fault_id].append(ev)
        faults: list[dict[str, Any]] = []
        story: list[str] = []
        for fid, evs in steps.items():
            injects = [e for e in evs if e.phase == "inject"]
            if not injects:
                story.append(f"fault {fid}: {', '.join(e.phase for e in evs)} "
                             "recorded without an inject step")
                continue
            for n, inj in enumerate(injects):
                nxt = injects[n + 1].t if n + 1 < len(injects) else float("inf")
                confirm = next((e for e in evs if e.phase == "confirm"
                                and inj.t <= e.t < nxt), None)
                heal = next((e for e in evs if e.phase == "heal" and inj.t <= e.t < nxt), None)
                status = "never confirmed" if confirm is None else \
                    _STATUS.get(confirm.outcome or "", f"outcome {confirm.outcome}")
                faults.append({
                    "fault_id": fid, "f": inj.f, "target": inj.target,
                    "resolved": inj.resolved or (confirm.resolved if confirm else None),
                    "injected_at": inj.t, "injected_wall": inj.wall,
                    "confirmed_at": confirm.t if confirm else None,
                    "outcome": confirm.outcome if confirm else None,
                    "detail": dict(confirm.detail) if confirm else {},
                    "inject_detail": dict(inj.detail),
                    "healed_at": heal.t if heal else None,
                    "status": "landed" if status == "landed" else status,
                })
                line = f"{teller.fault_summary(inj)} injected at {when(inj.t, inj.wall)}: " \
                       f"{teller.confirm_text(inj) if confirm else 'never confirmed'}"
                if heal is not None:
                    line += f"; healed {fmt_t(heal.t)}"
                if status != "landed":
                    line = f"NOT LANDED ({status}): {line}"
                story.append(line)
        if not faults:
            return Verdict(self.name, Validity.TRUE, "no faults scheduled", story,
                           {"faults": []})
        missing = [f for f in faults if f["status"] != "landed"]
        if not missing:
            return Verdict(self.name, Validity.TRUE, f"all {len(faults)} faults confirmed",
                           story, {"faults": faults})
        named = ", ".join(f"{f['fault_id']} ({f['status']})" for f in missing[:4])
        more = f" (+{len(missing) - 4} more)" if len(missing) > 4 else ""
        summary = f"{len(missing)} of {len(faults)} faults not confirmed: {named}{more}"
        return Verdict(self.name, Validity.UNKNOWN, summary, story, {"faults": faults})
