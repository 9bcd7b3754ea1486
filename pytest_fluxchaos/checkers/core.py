"""Verdict types shared by every checker: validity, verdict, the check context.

Validity follows Jepsen's three-valued logic: a checker says ``true`` only when it
judged something and found nothing wrong, ``false`` when it holds evidence of a
violation, and ``unknown`` when the history does not allow a decision (nothing was
observed, a fault never landed, the run ended too early ...). Combining verdicts,
``false`` beats ``unknown`` beats ``true``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from pytest_fluxchaos.history import History


class Validity(str, enum.Enum):
    TRUE = "true"
    FALSE = "false"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value


_RANK = {Validity.TRUE: 0, Validity.UNKNOWN: 1, Validity.FALSE: 2}


def combine(validities: Iterable[Validity | str | bool | None]) -> Validity:
    """Jepsen's merge: ``false`` beats ``unknown`` beats ``true``; empty -> ``true``.

    Accepts ``Validity`` values, their string values, ``bool`` and ``None`` (unknown).
    """
    result = Validity.TRUE
    for v in validities:
        v = _coerce(v)
        if _RANK[v] > _RANK[result]:
            result = v
            if result is Validity.FALSE:
                break
    return result


def _coerce(v: Validity | str | bool | None) -> Validity:
    if isinstance(v, Validity):
        return v
    if v is None:
        return Validity.UNKNOWN
    if isinstance(v, bool):
        return Validity.TRUE if v else Validity.FALSE
    return Validity(str(v).lower())


@dataclass(frozen=True)
class Verdict:
    """One checker's judgement of one history.

    ``summary`` is a single line; ``story`` is the human-readable evidence (one
    headline per anomaly, followed by indented context lines); ``data`` is the same
    evidence in JSON-serialisable form for the artifact.
    """

    checker: str
    valid: Validity
    summary: str
    story: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def render(self) -> str:
        """Text block for a pytest failure report."""
        lines = [f"{self.checker}: {self.valid.value} - {self.summary}"]
        lines.extend(f"  {line}" for line in self.story)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "checker": self.checker,
            "valid": self.valid.value,
            "summary": self.summary,
            "story": list(self.story),
            "data": self.data,
        }


@dataclass(frozen=True)
class PolicyUnderTest:
    """An ImagePolicy the run observes, with what the oracle needs to judge it.

    ``name`` is ``namespace/name`` as in the history's policy events; ``image`` is
    the ``Op.image`` of the registry repository the policy selects from.
    ``exclusion_list`` is the ImageRepository's (``None`` = Flux default
    ``^.*\\.sig$``). ``repository`` (optional, ``namespace/name`` of the
    ImageRepository) narrows the repository-scan lines shown in stories; when
    unset all scans are shown.
    """

    name: str
    image: str
    policy: dict[str, Any]
    filter_tags: dict[str, Any] | None = None
    exclusion_list: tuple[str, ...] | None = None
    repository: str | None = None


@dataclass(frozen=True)
class CheckContext:
    """What the checkers need besides the history.

    Bounds are in seconds. ``spec_grace`` tolerates the observer race where a
    PolicySpec change is recorded shortly *after* the latest-tag change it caused.
    """

    policies: tuple[PolicyUnderTest, ...]
    irc_version: str = "1.2.4"
    converge_bound: float = 120.0
    stuck_bound: float = 90.0
    honest_bound: float = 60.0  # how long a policy may stay Ready=True over a failing repository
    story_window: float = 60.0
    spec_grace: float = 5.0
    story_max_lines: int = 15
    automation: bool = False  # the scenario runs image-automation-controller against Git
    git_lag: float = 60.0  # how long after its policy the automation may commit


@runtime_checkable
class Checker(Protocol):
    name: str

    def check(self, history: History, ctx: CheckContext) -> Verdict: ...


def overall(verdicts: Mapping[str, Verdict] | Iterable[Verdict | Validity | str]) -> Validity:
    """The run's verdict: ``combine`` over all checkers' validities."""
    items = verdicts.values() if isinstance(verdicts, Mapping) else verdicts
    return combine(v.valid if isinstance(v, Verdict) else v for v in items)
