"""The ``explore:`` section of a suite: the world to explore, and the grammar's weights and bounds.

An exploration generates schedules nobody wrote. It needs what a scenario needs except
the steps (images, repositories, policies, optionally an automation, bounds), plus what
the grammar may draw from: which variants or variant axes, how many steps, how likely
each kind of move and fault is, and the budgets of exploring and shrinking. Every field
has a default, so ``explore: {name: x, images: ..., repositories: ..., policies: ...}``
is a complete exploration.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from .. import faults
from ..checkers import CHECKER_NAMES
from ..scenario import (AutomationSpec, Bounds, Duration, ExpectedVerdict, ImageSpec, Model, Name,
                        PolicyDef, RepositorySpec, Scenario)


class Span(Model):
    """A closed range of durations the grammar draws from (uniformly, whole seconds)."""

    min: Duration
    max: Duration

    @model_validator(mode="after")
    def _order(self) -> Span:
        if self.min < 0 or self.min > self.max:
            raise ValueError(f"expected 0 <= min <= max, got min {self.min:g}s, max {self.max:g}s")
        return self


class Count(Model):
    min: Annotated[int, Field(ge=1, le=200)]
    max: Annotated[int, Field(ge=1, le=200)]

    @model_validator(mode="after")
    def _order(self) -> Count:
        if self.min > self.max:
            raise ValueError(f"expected min <= max, got min {self.min}, max {self.max}")
        return self


LEASE_TIMINGS = {"default": None, "fast": (15.0, 10.0, 2.0)}
"""Leader-election axis: controller-runtime's defaults, or flux2#4984's faster timings
(lease-duration, renew-deadline, retry-period)."""


StorageKind = Literal["emptyDir", "shared", "pvc"]
LeaseTiming = Literal["default", "fast"]


def _storage_default() -> list[StorageKind]:
    return ["emptyDir"]


def _lease_default() -> list[LeaseTiming]:
    return ["default"]


class Axes(Model):
    """Variant axes: each generated schedule draws one value per axis (the first is the
    default the shrinker moves back to)."""

    replicas: list[Annotated[int, Field(ge=1, le=5)]] = Field(default_factory=lambda: [1, 2], min_length=1)
    storage: list[StorageKind] = Field(default_factory=_storage_default, min_length=1)
    memory: list[Annotated[str, Field(pattern=r"^\d+(\.\d+)?(Ki|Mi|Gi)$")]] = Field(
        default_factory=lambda: ["1Gi"], min_length=1)
    leader_election: list[LeaseTiming] = Field(default_factory=_lease_default, alias="leader-election",
                                               min_length=1)


class Weights(Model):
    """Relative weights of the extra moves a round may hold besides its pushes and its fault
    (0 turns one off)."""

    delete: Annotated[float, Field(ge=0)] = 0.5
    reconcile: Annotated[float, Field(ge=0)] = 1.0
    wait: Annotated[float, Field(ge=0)] = 2.0


class Targets(Model):
    """Relative weights of a pod fault's targets (standby and pod-1 need two replicas)."""

    leader: Annotated[float, Field(ge=0)] = 5.0
    standby: Annotated[float, Field(ge=0)] = 1.0
    pod_0: Annotated[float, Field(ge=0)] = Field(default=1.0, alias="pod-0")
    pod_1: Annotated[float, Field(ge=0)] = Field(default=1.0, alias="pod-1")

    def table(self, replicas: int) -> dict[str, float]:
        weights = {"leader": self.leader, "pod-0": self.pod_0}
        if replicas >= 2:
            weights |= {"standby": self.standby, "pod-1": self.pod_1}
        return {k: v for k, v in weights.items() if v > 0} or {"leader": 1.0}


class PushRules(Model):
    max_tags: Annotated[int, Field(ge=1, le=50)] = Field(default=2, alias="max-tags")
    out_of_order: Annotated[float, Field(ge=0, le=1)] = Field(default=0.15, alias="out-of-order")
    """Probability that a push holds one older tag back and pushes it later."""


class Budget(Model):
    """Stop exploring after this many schedules or this much time, whichever comes first."""

    schedules: Annotated[int, Field(ge=1)] | None = 20
    time: Duration | None = None
    until_found: bool = Field(default=False, alias="until-found")
    """Also stop once every checker in ``expect-findings`` has a confirmed (and shrunk)
    finding: a reproduction, or a benchmark of the time to find, needs no more."""


class Confirm(Model):
    """A schedule counts as failing only when it fails in ``k`` of ``r`` runs (docs/explore.md)."""

    k: Annotated[int, Field(ge=1, le=20)] = 3
    r: Annotated[int, Field(ge=1, le=20)] = 3

    @model_validator(mode="after")
    def _order(self) -> Confirm:
        if self.k > self.r:
            raise ValueError(f"k ({self.k}) must not exceed r ({self.r})")
        return self


class ShrinkRules(Model):
    runs: Annotated[int, Field(ge=0)] = 40
    """At most this many runs per finding spent on shrinking (0: do not shrink)."""
    time: Duration | None = None
    verify: Confirm | None = Field(default_factory=lambda: Confirm(k=4, r=5))
    """After shrinking, the minimal schedule runs ``r`` more times and must fail in ``k``,
    or the shrink falls back to the schedule it kept before it (docs/explore.md: a
    candidate judged in one process's conditions can be a race those conditions won;
    null: do not verify)."""
    fallbacks: Annotated[int, Field(ge=0, le=10)] = 2
    """How many earlier schedules of the shrink path a failed verification may fall back
    to before the finding keeps its original, confirmed schedule."""


DEFAULT_FAULT_WEIGHTS = {"oom-kill": 3.0, "kill": 2.0, "pod-delete": 1.0, "lease-delete": 1.0,
                         "registry-outage": 1.0}


class ExploreSpec(Model):
    """What to explore (the world) and how (grammar weights, bounds and budgets)."""

    name: Name
    description: str = ""
    images: list[ImageSpec] = Field(min_length=1)
    repositories: list[RepositorySpec] = Field(min_length=1)
    policies: list[PolicyDef] = Field(min_length=1)
    automation: AutomationSpec | None = None
    bounds: Bounds = Field(default_factory=Bounds)
    variants: list[str] | None = None
    """Named variants to draw from (presets or the suite's own); default single and ha-emptydir."""
    axes: Axes | None = None
    """Generate variants from axes instead of naming them."""
    rounds: Count = Field(default_factory=lambda: Count(min=1, max=4))
    """Nemesis rounds per schedule, as in Jepsen's nemesis cycle: each round pushes, may
    do one extra move, then injects one fault (and may let the system recover)."""
    pushes: Count = Field(default_factory=lambda: Count(min=1, max=2))
    """Pushes per round."""
    extra: Annotated[float, Field(ge=0, le=1)] = 0.5
    """Probability of one extra move (delete, reconcile, wait) per round."""
    weights: Weights = Field(default_factory=Weights)
    targets: Targets = Field(default_factory=Targets)
    keep_down: Annotated[float, Field(ge=0, le=1)] = Field(default=0.8, alias="keep-down")
    """Probability of keep-down on a leader kill with two or more replicas: a replica slow to
    come back (a large Badger value log to replay), so the standby takes over."""
    faults: dict[str, Annotated[float, Field(ge=0)]] = Field(
        default_factory=lambda: dict(DEFAULT_FAULT_WEIGHTS))
    push: PushRules = Field(default_factory=PushRules)
    durations: Span = Field(default_factory=lambda: Span(min=5.0, max=30.0))
    delays: Span = Field(default_factory=lambda: Span(min=0.0, max=20.0))
    settle: Annotated[float, Field(ge=0, le=1)] = 0.7
    """Probability that a push is followed by a wait for convergence, and a pod fault by a
    wait for running pods: how people and pipelines act (push, watch it roll out; break
    something, let it recover), and what makes a later step meet a settled system."""
    webhook: bool = False
    """Follow every push and deletion at once with a reconcile request of each repository of
    that image, as a registry webhook to a Flux ``Receiver`` does. A world with a
    production scan interval (5m) then reacts to every push within seconds, and which
    replica scans when is decided by the schedule, not by where the interval's timer
    happens to stand: what makes a finding replay. It is part of the push, so the
    shrinker never separates the two."""
    waits: Duration = 90.0
    """How long a generated wait (for convergence, running pods, a leader) waits before the
    schedule goes on anyway."""
    budget: Budget = Field(default_factory=Budget)
    parallel: Annotated[int, Field(ge=1, le=16)] = 1
    confirm: Confirm = Field(default_factory=Confirm)
    shrink: ShrinkRules = Field(default_factory=ShrinkRules)
    expect: dict[str, ExpectedVerdict] = Field(default_factory=dict)
    """What every run should give (default: every checker true); e.g. ``faults-landed: any``."""
    expect_findings: list[str] = Field(default_factory=list, alias="expect-findings")
    seed: Annotated[int, Field(ge=0)] | None = None
    """The exploration's seed when ``--fluxchaos-seed`` gives none (default: a random one,
    printed): a suite that pins a seed known to find its bug replays the same schedules."""
    """Checkers the exploration is expected to find false (a known bug); the item then
    passes when exactly these are found, and a silent upstream fix turns it red."""

    @field_validator("faults")
    @classmethod
    def _known_faults(cls, value: dict[str, float]) -> dict[str, float]:
        for kind in value:
            faults.get(kind)  # unknown kind: ValueError naming the known ones
        return value

    @field_validator("expect", "expect_findings")
    @classmethod
    def _known_checkers(cls, value: dict[str, object] | list[str]) -> dict[str, object] | list[str]:
        for name in value:
            if name not in CHECKER_NAMES:
                raise ValueError(f"unknown checker {name!r}; expected one of: {', '.join(CHECKER_NAMES)}")
        return value

    @model_validator(mode="after")
    def _variants_or_axes(self) -> ExploreSpec:
        if self.variants is not None and self.axes is not None:
            raise ValueError("use either variants (names) or axes, not both")
        if "git-outage" in self.faults and self.automation is None:
            raise ValueError("faults: git-outage needs an automation: section")
        return self

    def variant_names(self) -> list[str]:
        return list(self.variants or ["single", "ha-emptydir"])

    def base(self) -> Scenario:
        """The world as a scenario without steps: what every generated schedule starts from."""
        return Scenario(name=self.name, description=self.description, images=self.images,
                        repositories=self.repositories, policies=self.policies,
                        automation=self.automation, bounds=self.bounds)
