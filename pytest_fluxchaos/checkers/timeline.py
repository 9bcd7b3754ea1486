"""Reconstructions from the history that several checkers share.

- ``RegistryTimeline``: which tags the registry held at time ``t`` for one image,
  with Jepsen semantics for indeterminate operations (``info`` or no completion:
  the tag *may* exist).
- ``SpecTimeline``: which policy spec was in force at ``t`` (from the context,
  re-based by PolicySpec events).
- ``policy_states``: the (latest tag, Ready) state of one policy after each change.
- ``fault_end``: when the faults stopped (last heal).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pytest_fluxchaos.history import Event, Fault, History, Op, PolicyLatest, PolicyReady, PolicySpec

from .core import PolicyUnderTest

TagState = Literal["present", "absent", "maybe"]


@dataclass(frozen=True)
class OpPair:
    """An invocation and its completion (``None`` if the history has none)."""

    invoke: Op
    done: Op | None

    @property
    def f(self) -> str:
        return self.invoke.f

    @property
    def tag(self) -> str:
        return self.invoke.tag


def pair_ops(history: History, image: str) -> list[OpPair]:
    """Pair each invoke with the next completion from the same process (same tag/f).

    A completion without a visible invoke (history started late) is paired with a
    synthetic invoke at the completion's own time.
    """
    pending: dict[str, list[Op]] = defaultdict(list)
    pairs: list[OpPair] = []
    index: dict[int, int] = {}
    for op in history.of(Op):
        if op.image != image:
            continue
        if op.type == "invoke":
            pending[op.process].append(op)
            index[id(op)] = len(pairs)
            pairs.append(OpPair(op, None))
            continue
        queue = pending[op.process]
        match = next((i for i in queue if i.f == op.f and i.tag == op.tag), None)
        if match is None:
            match = queue[0] if queue else None
        if match is None:
            pairs.append(OpPair(op, op))
            continue
        queue.remove(match)
        pairs[index[id(match)]] = OpPair(match, op)
    return pairs


class RegistryTimeline:
    """Tag states of one image's registry repository over time."""

    def __init__(self, history: History, image: str) -> None:
        self.image = image
        self.pairs = pair_ops(history, image)
        self._by_tag: dict[str, list[OpPair]] = defaultdict(list)
        for p in self.pairs:
            self._by_tag[p.tag].append(p)
        self.tags = sorted(self._by_tag)
        # Tags by their first invoke: a snapshot at t looks only at tags touched by then.
        self._first = sorted((min(p.invoke.t for p in ps), tag) for tag, ps in self._by_tag.items())
        self._first_t = [t for t, _ in self._first]
        self.change_times = sorted({p.invoke.t for p in self.pairs}
                                   | {p.done.t for p in self.pairs if p.done is not None})

    def state(self, tag: str, t: float) -> TagState:
        """State of ``tag`` at time ``t`` (completions at exactly ``t`` count)."""
        state: TagState = "absent"
        for p in self._by_tag.get(tag, ()):
            if p.invoke.t > t:
                continue
            target: TagState = "present" if p.f == "push-tag" else "absent"
            done = p.done
            if done is not None and done.type == "fail":
                continue  # definitely did not happen (Jepsen: fail)
            if done is not None and done.type == "ok" and done.t <= t:
                state = target
            elif state != target:
                state = "maybe"  # in flight, info, or never completed
        return state

    def deleted(self, tag: str, t: float) -> Literal["yes", "maybe", "no"]:
        """Had ``tag`` been deleted (and not re-pushed) by time ``t``?

        ``maybe`` when a delete of it is indeterminate at ``t`` (in flight, info,
        never completed), or it was deleted and a re-push is indeterminate.
        """
        deletes = [p for p in self._by_tag.get(tag, ()) if p.f == "delete-tag" and p.invoke.t <= t]
        if not deletes:
            return "no"
        state = self.state(tag, t)
        if state == "absent":
            return "yes"
        return "maybe" if state == "maybe" else "no"

    def pushed_at(self, tag: str, t: float) -> float | None:
        """Completion time of the last ok push of ``tag`` at or before ``t``."""
        times = [p.done.t for p in self._by_tag.get(tag, ())
                 if p.f == "push-tag" and p.done is not None and p.done.type == "ok"
                 and p.done.t <= t]
        return max(times, default=None)

    def snapshot(self, t: float) -> tuple[set[str], set[str]]:
        """``(present, maybe)`` tag sets at time ``t``."""
        present: set[str] = set()
        maybe: set[str] = set()
        for _, tag in self._first[:bisect_right(self._first_t, t)]:
            s = self.state(tag, t)
            if s == "present":
                present.add(tag)
            elif s == "maybe":
                maybe.add(tag)
        return present, maybe

    def changes(self) -> Iterator[tuple[float, dict[str, TagState]]]:
        """At each change time, the tags whose state changed then and their new state.

        Incremental: a tag's state only moves at its own ops' invoke and completion
        times, so each time recomputes just those tags. A big repository (thousands of
        pushes, as many change times) is walked in one pass, where calling
        :meth:`snapshot` at every change time would be quadratic.
        """
        at: dict[float, set[str]] = defaultdict(set)
        for p in self.pairs:
            at[p.invoke.t].add(p.tag)
            if p.done is not None:
                at[p.done.t].add(p.tag)
        current: dict[str, TagState] = {}
        for t in self.change_times:
            changed: dict[str, TagState] = {}
            for tag in sorted(at[t]):
                new = self.state(tag, t)
                if current.get(tag, "absent") != new:
                    changed[tag] = current[tag] = new
            yield t, changed

    def last_change(self) -> float | None:
        return self.change_times[-1] if self.change_times else None


@dataclass(frozen=True)
class SpecVersion:
    """A policy spec in force from ``since`` on (``event`` is None for the context's)."""

    since: float
    policy: dict[str, Any]
    filter_tags: dict[str, Any] | None
    generation: int | None
    event: PolicySpec | None


def _spec_parts(spec: dict[str, Any], fallback: SpecVersion) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """``(policy, filterTags)`` of an observed spec; a spec without ``policy``
    (observer recorded only part of it) keeps the fallback's order entirely."""
    if not spec.get("policy"):
        return fallback.policy, fallback.filter_tags
    return spec["policy"], spec.get("filterTags")


class SpecTimeline:
    """The spec of one policy over time.

    Starts with the context's spec. A PolicySpec event is a *change* when its
    generation differs from the previous event's, or when its policy/filterTags
    differ from what was in force (the first event is compared by content only,
    since the context carries no generation). From a change on, the event's
    ``spec["policy"]`` / ``spec.get("filterTags")`` is the order used to judge.
    """

    def __init__(self, history: History, put: PolicyUnderTest) -> None:
        base = SpecVersion(float("-inf"), put.policy, put.filter_tags, None, None)
        self.versions: list[SpecVersion] = [base]
        self.changes: list[SpecVersion] = []
        for ev in history.of(PolicySpec):
            if ev.policy != put.name:
                continue
            cur = self.versions[-1]
            policy, filter_tags = _spec_parts(ev.spec, cur)
            content_changed = (policy, filter_tags) != (cur.policy, cur.filter_tags)
            gen_changed = cur.generation is not None and ev.generation != cur.generation
            version = SpecVersion(ev.t, policy, filter_tags, ev.generation, ev)
            if content_changed or gen_changed:
                self.versions.append(version)
                self.changes.append(version)
            elif cur.generation is None:
                # first sight, same content: remember the generation, no change
                self.versions[-1] = SpecVersion(cur.since, cur.policy, cur.filter_tags,
                                                ev.generation, cur.event)
        self._starts = [v.since for v in self.versions]

    def at(self, t: float) -> SpecVersion:
        return self.versions[max(0, bisect_right(self._starts, t) - 1)]

    def changes_between(self, start: float, end: float) -> list[SpecVersion]:
        """Changes with ``start < since <= end``."""
        return [c for c in self.changes if start < c.since <= end]

    def last_change(self) -> float | None:
        return self.changes[-1].since if self.changes else None


@dataclass(frozen=True)
class PolicyState:
    """State of one policy right after the events at time ``t``."""

    t: float
    wall: str
    tag: str | None
    ready: str | None  # "True" | "False" | "Unknown" | None (not observed yet)
    reason: str
    message: str
    cause: Event


def policy_states(history: History, name: str) -> list[PolicyState]:
    """One state per PolicyLatest/PolicyReady event of policy ``name``, in time order."""
    states: list[PolicyState] = []
    tag: str | None = None
    ready: str | None = None
    reason = message = ""
    for ev in history.events:
        if isinstance(ev, PolicyLatest) and ev.policy == name:
            tag = ev.tag or None
        elif isinstance(ev, PolicyReady) and ev.policy == name:
            ready, reason, message = ev.status, ev.reason, ev.message
        else:
            continue
        states.append(PolicyState(ev.t, ev.wall, tag, ready, reason, message, ev))
    return states


def state_at(states: list[PolicyState], t: float) -> PolicyState | None:
    """The last state with ``state.t <= t`` (None before the first observation)."""
    found = None
    for s in states:
        if s.t > t:
            break
        found = s
    return found


def fault_end(history: History) -> tuple[float | None, list[str]]:
    """When the faults were over: the max t of heal events.

    A fault with no heal event (one-shot faults such as a kill may record none)
    counts as over at its last recorded step; such faults are listed so the
    verdict can say so.
    """
    by_id: dict[str, list[Fault]] = defaultdict(list)
    for f in history.of(Fault):
        by_id[f.fault_id].append(f)
    if not by_id:
        return None, []
    ends: list[float] = []
    unhealed: list[str] = []
    for fid, steps in by_id.items():
        heals = [s.t for s in steps if s.phase == "heal"]
        if heals:
            ends.append(max(heals))
        else:
            unhealed.append(fid)
            ends.append(max(s.t for s in steps))
    return max(ends), sorted(unhealed)


def history_end(history: History) -> float:
    events = history.events
    return max((e.t for e in events), default=0.0)
