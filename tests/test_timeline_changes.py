"""The incremental walk of a registry's tag states equals a snapshot at every change."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_fluxchaos.checkers.timeline import RegistryTimeline
from pytest_fluxchaos.history import History, Op
from pytest_fluxchaos.htmlreport.model import _best_over_time

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
TAGS = ["1.0.0", "1.1.0", "1.2.0", "2.0.0"]

op = st.tuples(st.sampled_from(["push-tag", "delete-tag"]), st.sampled_from(TAGS),
               st.sampled_from(["ok", "ok", "fail", "info", None]), st.integers(0, 3))


def history(ops: list[tuple[str, str, str | None, int]]) -> History:
    events = []
    for i, (f, tag, outcome, lag) in enumerate(ops):
        t = float(i)
        events.append(Op(t=t, wall=(T0 + timedelta(seconds=t)).isoformat(), f=f, type="invoke", image="app", tag=tag,
                         process=f"p{i % 2}"))
        if outcome is not None:
            done = t + lag + 0.5
            events.append(Op(t=done, wall=(T0 + timedelta(seconds=done)).isoformat(), f=f, type=outcome, image="app",
                             tag=tag, process=f"p{i % 2}"))
    return History.from_events(sorted(events, key=lambda e: e.t))


@settings(max_examples=150, deadline=None)
@given(st.lists(op, max_size=12))
def test_changes_replay_every_snapshot(ops: list[tuple[str, str, str | None, int]]) -> None:
    timeline = RegistryTimeline(history(ops), "app")
    state: dict[str, str] = {}
    for t, changed in timeline.changes():
        state.update(changed)
        present, maybe = timeline.snapshot(t)
        assert {tag for tag, s in state.items() if s == "present"} == present
        assert {tag for tag, s in state.items() if s == "maybe"} == maybe


@settings(max_examples=150, deadline=None)
@given(st.lists(op, max_size=12))
def test_best_over_time_is_the_best_present_tag(ops: list[tuple[str, str, str | None, int]]) -> None:
    timeline = RegistryTimeline(history(ops), "app")
    y_of = {tag: i for i, tag in enumerate(TAGS)}
    best = _best_over_time(timeline, y_of)
    for t in timeline.change_times:
        present, _ = timeline.snapshot(t)
        want = max(present, key=lambda tag: y_of[tag]) if present else None
        got = next((tag for ts, tag in reversed(best) if ts <= t), None)
        assert got == want
