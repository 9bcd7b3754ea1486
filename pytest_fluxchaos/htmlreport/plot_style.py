"""Colours and sizes the timeline figure's panels share."""

from __future__ import annotations

COLORS = {
    "resolved": "#1f5fbf",
    "best": "#7a7a7a",
    "push": "#2a8a3a",
    "push_failed": "#9a9a9a",
    "delete": "#8a2c8a",
    "fault": "#f29d1f",
    "fault_failed": "#9a9a9a",
    "regression": "#d62728",
    "leader": "#4b2f96",
    "running": "#cfe9cf",
    "down": "#ee8e86",
    "waiting": "#ee8e86",
    "ready_True": "#9bd59b",
    "ready_False": "#ef8f8a",
    "ready_Unknown": "#d6d6d6",
    "commit": "#24292f",
    "seed": "#6e7781",
    "branch": "#b8bfc6",
    "scan": "#24292f",
    "scan_same": "#a0a0a0",
}

AXES_WIDTH_PT = 10.4 * 72  # the time axis of a 12 in figure, roughly
LABEL_ROWS = 3  # rows of labels above a lane before they wrap
