"""What the report shows, reconstructed from one item's artifacts (no plotting here).

An item directory holds ``verdict.json`` (``RunResult.write_artifacts``) and
``history.jsonl``. From them this module builds, per item, the shared lanes (fault
bands, leader segments and container states per replica) and, per policy, the
resolved tag's rank in the policy order over time, the tags pushed, the best tag
the registry held and the regressions the ``no-regression`` checker found (the
checker is the authority: the report highlights its findings, it does not re-judge).
"""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_fluxchaos.history import (EVENT_TYPES, Event, Fault, History,
                                      LeaseHolder, Op, PodState, PolicyLatest, PolicyReady,
                                      PolicySpec, RepositoryReady, RepositoryScan,
                                      event_from_dict)

from pytest_fluxchaos.checkers import CHECKER_NAMES as CHECKER_ORDER

from .commits import CommitMark, commit_marks

if TYPE_CHECKING:
    from pytest_fluxchaos.checkers.timeline import RegistryTimeline


# --------------------------------------------------------------------------- loading

def find_items(root: Path) -> list[Path]:
    """Every directory under ``root`` (or ``root`` itself) holding a ``verdict.json``."""
    root = Path(root)
    found = sorted({p.parent for p in root.rglob("verdict.json") if p.is_file()})
    return found


def read_history(path: Path) -> tuple[History, int]:
    """The history of ``path``; lines that are not events of a known kind are skipped
    (an artifact from a newer plugin still renders) and counted."""
    events: list[Event] = []
    skipped = 0
    if not path.is_file():
        return History.from_events([]), 0
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                if data.get("kind") not in EVENT_TYPES:
                    raise KeyError(data.get("kind"))
                events.append(event_from_dict(data))
            except (ValueError, KeyError, TypeError):
                skipped += 1
    return History.from_events(events), skipped


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "item"


# --------------------------------------------------------------------------- lanes

@dataclass
class FaultSpan:
    fault_id: str
    f: str
    target: str
    resolved: str | None
    inject: float
    confirm: float | None = None
    outcome: str | None = None
    heal: float | None = None

    @property
    def landed(self) -> bool:
        return self.outcome == "ok"

    def label(self) -> str:
        who = short_pod(self.resolved) if self.resolved else self.target
        return f"{self.fault_id}: {self.f} {self.target}" + (f" ({who})" if who != self.target else "")


@dataclass
class PodLane:
    pod: str  # short pod name
    first_seen: float
    states: list[tuple[float, str, str | None, int | None, int]] = field(default_factory=list)
    # (t, state, reason, exit_code, restart_count)
    leader: list[tuple[float, float]] = field(default_factory=list)
    restarts: list[tuple[float, str]] = field(default_factory=list)  # (t, reason)

    def spans(self, end: float) -> list[tuple[float, float, str]]:
        """(start, end, state) stretches of the container state."""
        out = []
        for i, (t, state, *_rest) in enumerate(self.states):
            stop = self.states[i + 1][0] if i + 1 < len(self.states) else end
            if state != "deleted":
                out.append((t, stop, state))
        return out


@dataclass
class RegressionMark:
    t: float
    old: str
    new: str
    recovered_at: float | None
    reason: str = ""
    wall: str = ""


@dataclass
class ScanMark:
    """One successful scan of the policy's repository (``RepositoryScan``)."""

    t: float
    tag_count: int
    revision: str
    scan_time: str | None
    changed: bool  # the revision differs from the previous scan's: policies re-run


@dataclass
class PolicyTimeline:
    policy: str  # namespace/name
    spec_text: str
    image: str | None
    order_error: str | None
    ticks: list[tuple[int, str]]   # y position -> label (tags of equal rank joined)
    y_of: dict[str, int]           # tag -> y (-1: not eligible)
    resolved: list[tuple[float, str | None]]
    pushes: list[tuple[float, str, str, str]]  # (t, tag, op type, f)
    best: list[tuple[float, str | None]]       # best tag certainly in the registry
    ready: list[tuple[float, str, str]]        # (t, status, reason)
    spec_changes: list[float]
    regressions: list[RegressionMark]
    repository: str | None = None  # namespace/name of the policy's ImageRepository
    repo_ready: list[tuple[float, str, str]] = field(default_factory=list)  # (t, status, reason)
    scans: list[ScanMark] = field(default_factory=list)

    @property
    def has_ineligible(self) -> bool:
        return any(y < 0 for y in self.y_of.values())


@dataclass
class Item:
    directory: Path
    anchor: str
    rel: str  # directory relative to the artifacts root
    verdict: dict[str, Any]
    history: History
    skipped_lines: int = 0
    start: float = 0.0
    end: float = 0.0
    start_wall: str = ""
    faults: list[FaultSpan] = field(default_factory=list)
    pods: list[PodLane] = field(default_factory=list)
    leader_changes: list[tuple[float, str]] = field(default_factory=list)
    policies: list[PolicyTimeline] = field(default_factory=list)
    commits: list[CommitMark] = field(default_factory=list)

    # -- verdict.json accessors ----------------------------------------------------
    @property
    def scenario(self) -> str:
        return str(self.verdict.get("scenario") or self.directory.name)

    @property
    def variant(self) -> str:
        return str(self.verdict.get("variant") or "")

    @property
    def title(self) -> str:
        return f"{self.scenario}[{self.variant}]" if self.variant else self.scenario

    @property
    def checkers(self) -> dict[str, dict[str, Any]]:
        raw = self.verdict.get("checkers") or {}
        names = [n for n in CHECKER_ORDER if n in raw] + [n for n in raw if n not in CHECKER_ORDER]
        return {n: raw[n] for n in names}

    @property
    def error(self) -> str | None:
        return self.verdict.get("error")

    @property
    def outcome(self) -> str:
        """``pass``, ``fail`` or ``error`` like the terminal summary."""
        if self.error:
            return "error"
        return "pass" if self.verdict.get("passed", not self.mismatches()) else "fail"

    def mismatches(self) -> list[str]:
        return [name for name, c in self.checkers.items() if not verdict_matches(c)]

    @property
    def regressions(self) -> list[dict[str, Any]]:
        data = (self.checkers.get("no-regression") or {}).get("data") or {}
        return list(data.get("regressions") or [])

    @property
    def git_regressions(self) -> list[dict[str, Any]]:
        """``git-no-regression``'s findings (sha, parent, path, line, old, new, ...)."""
        data = (self.checkers.get("git-no-regression") or {}).get("data") or {}
        return [r for r in data.get("regressions") or [] if isinstance(r, dict)]

    def fault_counts(self) -> tuple[int, int]:
        injected = len(self.faults)
        return injected, sum(1 for f in self.faults if f.landed)


def verdict_matches(checker: dict[str, Any]) -> bool:
    want = str(checker.get("expected", "true"))
    return want == "any" or want == str(checker.get("verdict"))


def short_pod(name: str | None) -> str:
    return (name or "").rsplit("/", 1)[-1]


def build_item(directory: Path, root: Path) -> Item:
    directory = Path(directory)
    verdict_path = directory / "verdict.json"
    try:
        verdict = json.loads(verdict_path.read_text(encoding="utf-8"))
        if not isinstance(verdict, dict):
            raise ValueError("not an object")
    except (OSError, ValueError) as exc:
        verdict = {"error": f"unreadable verdict.json: {exc}", "checkers": {}}
    history, skipped = read_history(directory / "history.jsonl")
    try:
        rel = directory.resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        rel = directory.name
    rel = rel if rel != "." else directory.name
    item = Item(directory=directory, anchor="item-" + slug(rel), rel=rel, verdict=verdict,
                history=history, skipped_lines=skipped)
    events = history.events
    item.start = 0.0
    item.end = max((e.t for e in events), default=1.0) or 1.0
    item.start_wall = _origin_wall(events)
    item.faults = fault_spans(history)
    item.pods = pod_lanes(history, item.end)
    item.leader_changes = leader_changes(history)
    irc = str(verdict.get("irc_version") or "") or None
    regressions = item.regressions
    for name in policy_names(history):
        item.policies.append(policy_timeline(history, name, irc, regressions))
    item.commits = commit_marks(history, item.git_regressions)
    return item


def _origin_wall(events: list[Event]) -> str:
    """Wall time of t=0, from the first event (t is seconds since the run started)."""
    from datetime import datetime, timedelta

    from pytest_fluxchaos.checkers.story import fmt_wall

    for ev in events:
        try:
            origin = datetime.fromisoformat(ev.wall) - timedelta(seconds=ev.t)
        except (TypeError, ValueError):
            continue
        return fmt_wall(origin.replace(microsecond=0).isoformat())
    return ""


def fault_spans(history: History) -> list[FaultSpan]:
    """One span per inject; confirm/heal steps attach to the latest open inject of the
    same id (a repeated step re-uses its fault id)."""
    spans: list[FaultSpan] = []
    open_by_id: dict[str, FaultSpan] = {}
    for ev in history.of(Fault):
        if ev.phase == "inject":
            opened = FaultSpan(ev.fault_id, ev.f, ev.target, ev.resolved, ev.t)
            spans.append(opened)
            open_by_id[ev.fault_id] = opened
            continue
        span = open_by_id.get(ev.fault_id)
        if span is None:  # history started late: a confirm/heal without its inject
            span = FaultSpan(ev.fault_id, ev.f, ev.target, ev.resolved, ev.t)
            spans.append(span)
            open_by_id[ev.fault_id] = span
        if ev.phase == "confirm" and span.confirm is None:
            span.confirm, span.outcome = ev.t, ev.outcome
            span.resolved = span.resolved or ev.resolved
        elif ev.phase == "heal" and span.heal is None:
            span.heal = ev.t
    return spans


def pod_lanes(history: History, end: float) -> list[PodLane]:
    lanes: dict[str, PodLane] = {}

    def lane(pod: str, t: float) -> PodLane:
        if pod not in lanes:
            lanes[pod] = PodLane(pod, t)
        return lanes[pod]

    for ev in history.events:
        if not isinstance(ev, PodState):
            continue
        pod = short_pod(ev.pod)
        ln = lane(pod, ev.t)
        prev = ln.states[-1] if ln.states else None
        ln.states.append((ev.t, ev.state, ev.reason, ev.exit_code, ev.restart_count))
        died = ev.state in ("terminated", "waiting") and (prev is None or prev[1] == "running")
        if ev.state == "waiting" and ev.exit_code is None and prev is None:
            died = False  # a container that has not started yet
        restarted = prev is not None and ev.restart_count > prev[4] and prev[1] == "running"
        if died or restarted:
            why = ev.reason or (f"exit {ev.exit_code}" if ev.exit_code is not None else ev.state)
            ln.restarts.append((ev.t, why))
    # leader segments, per lease (one lease per namespace in practice)
    by_lease: dict[str, list[LeaseHolder]] = defaultdict(list)
    for ev in history.of(LeaseHolder):
        by_lease[ev.lease].append(ev)
    for holders in by_lease.values():
        for i, ev in enumerate(holders):
            stop = holders[i + 1].t if i + 1 < len(holders) else end
            if ev.holder:
                ln = lane(short_pod(ev.holder), ev.t)
                if ln.leader and abs(ln.leader[-1][1] - ev.t) < 1e-9:
                    ln.leader[-1] = (ln.leader[-1][0], stop)  # same holder, new identity
                else:
                    ln.leader.append((ev.t, stop))
    return sorted(lanes.values(), key=lambda ln: (ln.first_seen, ln.pod))


def leader_changes(history: History) -> list[tuple[float, str]]:
    """(time, new holder) each time the leader Lease moved to another pod (first sight,
    a restarted holder re-acquiring and deleted-Lease gaps are not changes)."""
    out: list[tuple[float, str]] = []
    last: dict[str, str] = {}
    for ev in history.of(LeaseHolder):
        holder = short_pod(ev.holder)
        if not holder:  # a deleted Lease: the change is to whoever takes it next
            continue
        if ev.lease in last and holder != last[ev.lease]:
            out.append((ev.t, holder))
        last[ev.lease] = holder
    return out


def common_prefix(names: list[str]) -> str:
    """The shared leading ``-``-separated part of pod names (for compact labels)."""
    if not names:
        return ""
    prefix = os.path.commonprefix(names)
    if len(names) == 1:
        prefix = names[0]
    cut = prefix.rfind("-")
    return prefix[: cut + 1] if cut > 0 else ""


# --------------------------------------------------------------------------- policies

def policy_names(history: History) -> list[str]:
    names: list[str] = []
    for ev in history.events:
        if isinstance(ev, (PolicySpec, PolicyLatest, PolicyReady)) and ev.policy not in names:
            names.append(ev.policy)
    return names


def _image_for(history: History, policy: str, spec: dict[str, Any] | None,
               resolved: set[str]) -> str | None:
    """The registry image (``Op.image``) the policy selects from.

    The history names the ImageRepository (``spec.imageRepositoryRef``) but not the
    image behind it, so the image whose pushed tags best overlap the repository's
    scans and the policy's resolved tags is taken (ties: same name as the repository).
    """
    images: dict[str, set[str]] = defaultdict(set)
    for op in history.of(Op):
        images[op.image].add(op.tag)
    if not images:
        return None
    if len(images) == 1:
        return next(iter(images))
    ns = policy.rsplit("/", 1)[0] if "/" in policy else ""
    repo_name = ((spec or {}).get("imageRepositoryRef") or {}).get("name")
    repo = f"{ns}/{repo_name}" if ns and repo_name else repo_name
    seen = set(resolved)
    for scan in history.of(RepositoryScan):
        if repo is None or scan.repository == repo:
            seen.update(scan.latest_tags)
    return max(images, key=lambda img: (len(images[img] & seen), img == repo_name, img))


def policy_timeline(history: History, policy: str, irc_version: str | None,
                    regressions: list[dict[str, Any]]) -> PolicyTimeline:
    from pytest_fluxchaos.checkers.oracle import describe_policy
    from pytest_fluxchaos.checkers.timeline import RegistryTimeline, SpecVersion

    specs = [e for e in history.of(PolicySpec) if e.policy == policy]
    spec = specs[-1].spec if specs else None
    spec_changes = [specs[i].t for i in range(1, len(specs))
                    if specs[i].generation != specs[i - 1].generation]
    resolved = [(e.t, e.tag or None) for e in history.of(PolicyLatest) if e.policy == policy]
    ready: list[tuple[float, str, str]] = [
        (e.t, e.status, e.reason) for e in history.of(PolicyReady) if e.policy == policy]
    image = _image_for(history, policy, spec, {t for _, t in resolved if t})
    pushes: list[tuple[float, str, str, str]] = [
        (op.t, op.tag, op.type, op.f) for op in history.of(Op)
        if op.image == image and op.type != "invoke"]
    marks = [RegressionMark(float(r.get("t", 0.0)), str(r.get("old")), str(r.get("new")),
                            r.get("recovered_at"), str(r.get("reason") or ""), str(r.get("wall") or ""))
             for r in regressions if r.get("policy") == policy]

    order = None
    order_error = None
    spec_text = "policy spec not observed"
    if spec and spec.get("policy"):
        spec_text = describe_policy(SpecVersion(0.0, spec["policy"], spec.get("filterTags"), None, None))
        try:
            from pytest_fluxchaos.policy import policy_order
            kwargs = {"irc_version": irc_version} if irc_version else {}
            order = policy_order(spec["policy"], spec.get("filterTags"), **kwargs)
        except Exception as exc:  # noqa: BLE001 - an unknown order is drawn in push order
            order_error = f"{type(exc).__name__}: {exc}"
    elif spec is None:
        order_error = "no PolicySpec event in the history"

    tags: list[str] = []
    for tag in ([p[1] for p in pushes] + [t for _, t in resolved if t]
                + [m.old for m in marks] + [m.new for m in marks]):
        if tag not in tags:
            tags.append(tag)

    y_of, ticks = _rank_axis(tags, order)

    best: list[tuple[float, str | None]] = []
    if image is not None:
        best = _best_over_time(RegistryTimeline(history, image), y_of)
    repository = _repository_for(history, policy, spec)
    return PolicyTimeline(policy=policy, spec_text=spec_text, image=image, order_error=order_error,
                          ticks=ticks, y_of=y_of, resolved=resolved, pushes=pushes, best=best,
                          ready=ready, spec_changes=spec_changes, regressions=marks,
                          repository=repository,
                          repo_ready=[(e.t, e.status, e.reason) for e in history.of(RepositoryReady)
                                      if e.repository == repository],
                          scans=_scans(history, repository))


def _best_over_time(timeline: RegistryTimeline, y_of: dict[str, int]) -> list[tuple[float, str | None]]:
    """The best ranked tag present in the registry, at each time it changes: kept up
    incrementally (a push can only raise it; a tag that leaves forces a recount), so a
    repository of thousands of tags is one pass."""
    def rank(tag: str) -> tuple[int, str]:
        return (y_of[tag], tag)

    present: set[str] = set()
    top: str | None = None
    best: list[tuple[float, str | None]] = []
    prev: object = object()
    for t, changed in timeline.changes():
        left = False
        for tag, state in changed.items():
            if state == "present":
                present.add(tag)
                if y_of.get(tag, -1) >= 0 and (top is None or rank(tag) > rank(top)):
                    top = tag
            elif tag in present:
                present.discard(tag)
                left = True
        if left:
            ranked = [tag for tag in present if y_of.get(tag, -1) >= 0]
            top = max(ranked, key=rank) if ranked else None
        if top != prev:
            best.append((t, top))
            prev = top
    return best


def _repository_for(history: History, policy: str, spec: dict[str, Any] | None) -> str | None:
    """The policy's ImageRepository: its spec's ``imageRepositoryRef``, else the only one."""
    ref = (spec or {}).get("imageRepositoryRef") or {}
    if ref.get("name"):
        namespace = ref.get("namespace") or (policy.rsplit("/", 1)[0] if "/" in policy else "")
        return f"{namespace}/{ref['name']}" if namespace else str(ref["name"])
    seen = {e.repository for e in history.events if isinstance(e, (RepositoryScan, RepositoryReady))}
    return seen.pop() if len(seen) == 1 else None


def _scans(history: History, repository: str | None) -> list[ScanMark]:
    marks: list[ScanMark] = []
    previous: str | None = None
    for e in history.of(RepositoryScan):
        if e.repository != repository:
            continue
        marks.append(ScanMark(e.t, e.tag_count, e.revision, e.scan_time, e.revision != previous))
        previous = e.revision
    return marks


def _rank_axis(tags: list[str], order: Any) -> tuple[dict[str, int], list[tuple[int, str]]]:
    """y position per tag: its dense rank in the policy order (0 = least preferred);
    tags the policy cannot select get -1. Without an order, first appearance."""
    y_of: dict[str, int] = {}
    if order is None:
        for i, tag in enumerate(tags):
            y_of[tag] = i
    else:
        try:
            ranks = order.rank(tags)
        except Exception:  # noqa: BLE001
            ranks = {t: i for i, t in enumerate(tags)}
        for tag in tags:
            y_of[tag] = ranks.get(tag, -1)
    by_y: dict[int, list[str]] = defaultdict(list)
    for tag, y in y_of.items():
        by_y[y].append(tag)
    ticks = []
    for y in sorted(by_y):
        names = by_y[y]
        if y < 0:
            label = "not eligible"
        else:
            label = " = ".join(names[:2]) + (f" (+{len(names) - 2})" if len(names) > 2 else "")
        ticks.append((y, label))
    return y_of, ticks
