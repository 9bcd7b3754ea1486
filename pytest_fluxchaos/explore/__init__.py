"""Explore: generate the schedules nobody wrote, confirm failures, shrink them (docs/explore.md).

``spec`` (the suite's ``explore:`` section) -> ``grammar.generate`` (seeded schedules of
moves) -> ``schedule.compile_schedule`` (an ordinary scenario and variant) -> the caller's
``execute`` -> ``explorer.Explorer`` (K at a time, budgets, k-of-r confirmation via
``judge``, ``shrink.Shrinker``) -> ``finding`` (replayable YAML, an upstream paragraph).
"""

from .explorer import Exploration, Explorer, Finding, Outcome, Trial, failing_checkers
from .schedule import (Delete, Inject, InvalidSchedule, Move, Push, Reconcile, Schedule, VariantPick, Wait,
                       compile_schedule, describe, signature)
from .spec import ExploreSpec

__all__ = ["Delete", "Exploration", "Explorer", "ExploreSpec", "Finding", "Inject", "InvalidSchedule", "Move",
           "Outcome", "Push", "Reconcile", "Schedule", "Trial", "VariantPick", "Wait", "compile_schedule",
           "describe", "failing_checkers", "signature"]
