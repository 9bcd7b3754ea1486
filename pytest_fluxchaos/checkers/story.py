"""Rendering evidence for humans: short lines for a pytest failure report.

A story is a headline (``policy X regressed 1.2.0 -> 1.1.0 at t=184.2s (wall)``)
followed by indented context lines: the faults, leader changes, pod states,
repository scans, registry operations and this policy's observations in the
``story_window`` seconds before the anomaly, bounded to ``story_max_lines``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone
from typing import Any

from pytest_fluxchaos.history import (Event, Fault, History, KubeEvent, LeaseHolder, Op, PodState,
                                      PolicyLatest, PolicyReady, PolicySpec, RepositoryReady,
                                      RepositoryScan)

from .core import CheckContext, PolicyUnderTest

_MAX_TEXT = 110


def fmt_t(t: float) -> str:
    return f"t={t:.1f}s"


def fmt_wall(wall: str) -> str:
    """ISO-8601 UTC with a ``Z`` suffix; anything unparsable is returned as is."""
    try:
        dt = datetime.fromisoformat(wall)
    except (TypeError, ValueError):
        return wall
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if dt.microsecond:
        text += f".{dt.microsecond // 1000:03d}"
    return text + "Z"


def when(t: float, wall: str) -> str:
    """``t=184.2s (2026-11-28T04:12:03Z)``"""
    return f"{fmt_t(t)} ({fmt_wall(wall)})" if wall else fmt_t(t)


def clip(text: str, limit: int = _MAX_TEXT) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short(name: str | None) -> str:
    """``flux-system/irc-abc-1`` -> ``irc-abc-1``."""
    if not name:
        return "(none)"
    return name.rsplit("/", 1)[-1]


_DETAIL_FORMATS = {
    "reason": "{}",
    "exit_code": "exit {}",
    "restart_count": "restarts {}",
    "restarts": "restarts {}",
    "new_holder": "leader {}",
    "holder": "leader {}",
    "new_pod": "new pod {}",
    "error": "error: {}",
}


def fmt_detail(detail: dict[str, Any]) -> str:
    parts = []
    for key, value in detail.items():
        if value is None or value == "" or key in ("container_id", "old_container_id"):
            continue
        fmt = _DETAIL_FORMATS.get(key)
        parts.append(fmt.format(value) if fmt else f"{key}={value}")
    return clip(", ".join(parts), 80)


def lie_text(detail: dict[str, Any]) -> str | None:
    """A registry lie's confirmation in words: what the liar served, to whom, instead of
    what (``served 1 lie to go-containerregistry/v0.21.6: tags/list 2 of 3 tags``)."""
    served = detail.get("served")
    if not detail.get("lies_served") or not isinstance(served, list) or not served:
        return None
    first = served[0]
    what = str(first.get("path", "")).split("?")[0].rsplit("/", 2)[-2:]
    agent = str(first.get("user_agent") or first.get("client")).split("/")[0]
    text = f"served {detail['lies_served']} lie(s) to {agent}: "
    text += "/".join(what) + f" {first.get('status')}"
    if "served_tags" in first and "upstream_tags" in first:
        text += f", {first['served_tags']} of {first['upstream_tags']} tags"
    elif first.get("dropped_link"):
        text += ", Link to the next page dropped"
    elif "waited_ms" in first:
        text += f" after {first['waited_ms'] / 1000:.1f}s"
    elif "retry_after_s" in first:
        text += f", Retry-After {first['retry_after_s']}s"
    return text


class StoryTeller:
    """Renders events of one history; built once per check."""

    def __init__(self, history: History, ctx: CheckContext) -> None:
        self.history = history
        self.ctx = ctx
        self.events = history.events
        self._confirms: dict[str, list[Fault]] = defaultdict(list)
        self._fault_by_id: dict[str, Fault] = {}
        self._prev_holder: dict[int, str | None] = {}
        self._prev_tag: dict[int, str | None] = {}
        self._ready: dict[str, list[tuple[float, str]]] = defaultdict(list)
        holders: dict[str, str | None] = {}
        tags: dict[str, str | None] = {}
        for ev in self.events:
            if isinstance(ev, Fault):
                if ev.phase == "confirm":
                    self._confirms[ev.fault_id].append(ev)
                elif ev.phase == "inject":
                    self._fault_by_id.setdefault(ev.fault_id, ev)
            elif isinstance(ev, LeaseHolder):
                self._prev_holder[id(ev)] = holders.get(ev.lease)
                holders[ev.lease] = ev.holder
            elif isinstance(ev, PolicyLatest):
                self._prev_tag[id(ev)] = tags.get(ev.policy, ev.previous)
                tags[ev.policy] = ev.tag
            elif isinstance(ev, PolicyReady):
                self._ready[ev.policy].append((ev.t, ev.status))

    # -- single lines -------------------------------------------------------------

    def ready_at(self, policy: str, t: float) -> str | None:
        status = None
        for ts, st in self._ready.get(policy, ()):
            if ts > t:
                break
            status = st
        return status

    def fault_summary(self, ev: Fault) -> str:
        """``f2 kill leader -> irc-abc-1``"""
        inject = self._fault_by_id.get(ev.fault_id, ev)
        target = inject.target or ev.target
        resolved = inject.resolved or ev.resolved
        text = f"fault {ev.fault_id} {inject.f or ev.f} {target}".rstrip()
        if resolved and resolved != target:
            text += f" -> {short(resolved)}"
        return text

    def confirm_text(self, inject: Fault) -> str:
        confirms = [c for c in self._confirms.get(inject.fault_id, ()) if c.t >= inject.t]
        if not confirms:
            return "never confirmed"
        c = confirms[0]
        word = {"ok": "confirmed", "failed": "injection failed",
                "unconfirmed": "unconfirmed"}.get(c.outcome or "", f"confirm {c.outcome}")
        detail = lie_text(c.detail) or fmt_detail(c.detail)
        return f"{word} {fmt_t(c.t)}" + (f" ({detail})" if detail else "")

    def text(self, ev: Event, put: PolicyUnderTest | None) -> str | None:
        """One event as text, or None when it is not shown for this policy."""
        if isinstance(ev, Fault):
            if ev.phase == "inject":
                return clip(f"{self.fault_summary(ev)} injected; {self.confirm_text(ev)}", 170)
            if ev.phase == "heal":
                detail = fmt_detail(ev.detail)
                return clip(f"{self.fault_summary(ev)} healed" + (f" ({detail})" if detail else ""))
            detail = fmt_detail(ev.detail)
            return clip(f"{self.fault_summary(ev)} confirm {ev.outcome}"
                        + (f" ({detail})" if detail else ""))
        if isinstance(ev, LeaseHolder):
            prev = self._prev_holder.get(id(ev))
            return f"leader {short(prev)} -> {short(ev.holder)}"
        if isinstance(ev, PodState):
            bits = [b for b in (ev.reason, f"exit {ev.exit_code}" if ev.exit_code is not None else None,
                                f"restarts {ev.restart_count}") if b]
            return f"pod {short(ev.pod)} {ev.state} ({', '.join(bits)})"
        if isinstance(ev, RepositoryScan):
            if put is not None and put.repository and ev.repository != put.repository:
                return None
            tags = " ".join(ev.latest_tags[:4]) + (" …" if len(ev.latest_tags) > 4 else "")
            return clip(f"scan {ev.repository}: {ev.tag_count} tags [{tags}] rev {ev.revision}")
        if isinstance(ev, RepositoryReady):
            if put is not None and put.repository and ev.repository != put.repository:
                return None
            return clip(f"repository {short(ev.repository)} Ready {ev.status} {ev.reason}"
                        + (f": {ev.message}" if ev.message else ""))
        if isinstance(ev, KubeEvent):
            mine = put is None or ev.involved in (put.name, put.repository)
            return clip(f"warning x{ev.count} {ev.involved_kind} {short(ev.involved)} {ev.reason}: "
                        f"{ev.message}") if mine else None
        if isinstance(ev, Op):
            if ev.type == "invoke" or (put is not None and ev.image != put.image):
                return None
            verb = "push" if ev.f == "push-tag" else "delete"
            err = f" ({ev.error})" if ev.error and ev.type != "ok" else ""
            return clip(f"{verb} {ev.tag} {ev.type}{err}")
        if put is None:
            return None
        if isinstance(ev, PolicyLatest) and ev.policy == put.name:
            prev = self._prev_tag.get(id(ev))
            ready = self.ready_at(put.name, ev.t)
            suffix = f" (Ready {ready})" if ready else ""
            return f"latest {prev or '(none)'} -> {ev.tag or '(none)'}{suffix}"
        if isinstance(ev, PolicyReady) and ev.policy == put.name:
            why = f" {ev.reason}" if ev.reason else ""
            msg = f": {ev.message}" if ev.message else ""
            return clip(f"Ready {ev.status}{why}{msg}")
        if isinstance(ev, PolicySpec) and ev.policy == put.name:
            return clip(f"spec generation {ev.generation}: {ev.spec.get('policy')}"
                        + (f" filter {ev.spec['filterTags']}" if ev.spec.get("filterTags") else ""))
        return None

    # -- context blocks ----------------------------------------------------------

    _PRIORITY = {Fault: 0, LeaseHolder: 0, PodState: 1, PolicyLatest: 1, PolicySpec: 1,
                 Op: 2, PolicyReady: 2, RepositoryReady: 2, RepositoryScan: 3, KubeEvent: 3}

    def context(self, put: PolicyUnderTest | None, anchor: float, *,
                before: float | None = None, after: float = 0.0,
                max_lines: int | None = None) -> list[str]:
        """Indented lines for the events in ``[anchor - before, anchor + after]``."""
        before = self.ctx.story_window if before is None else before
        limit = max(2, self.ctx.story_max_lines if max_lines is None else max_lines)
        picked: list[tuple[int, float, int, str]] = []
        shown_injects = set()
        for i, ev in enumerate(self.events):
            if ev.t < anchor - before or ev.t > anchor + after:
                continue
            if isinstance(ev, Fault) and ev.phase == "inject":
                shown_injects.add(ev.fault_id)
            if (isinstance(ev, Fault) and ev.phase == "confirm"
                    and ev.fault_id in shown_injects):
                continue  # already on the inject line
            text = self.text(ev, put)
            if text is None:
                continue
            prio = self._PRIORITY.get(type(ev), 3)
            picked.append((prio, ev.t, i, text))
        omitted = 0
        if len(picked) > limit:
            keep = sorted(picked, key=lambda p: (p[0], abs(anchor - p[1])))[: limit - 1]
            omitted = len(picked) - len(keep)
            picked = keep
        picked.sort(key=lambda p: (p[1], p[2]))
        lines = [f"  {fmt_t(t):<9} {text}" for _, t, _, text in picked]
        if omitted:
            lines.insert(0, f"  … {omitted} less relevant events in the window omitted")
        return lines
