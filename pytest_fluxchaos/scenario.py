"""The Scenario model: what to deploy, what to push, which faults, what to expect.

YAML suites and Python tests build the same :class:`Scenario`. The models are strict
(pydantic, ``extra="forbid"``) so a typo in a suite is an error at load time, before any
environment exists. Keys mirror the Flux API where they map to it (``filterTags``,
``exclusionList``, ``digestReflectionPolicy``) and are kebab-case where they are the
plugin's own (``flux-versions``, ``confirm-timeout``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator,
                      model_validator)

from . import faults
from .checkers import checker_names

from .durations import parse_duration

Duration = Annotated[float, BeforeValidator(parse_duration)]
Name = Annotated[str, Field(pattern=r"^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$")]
"""A Kubernetes object name (RFC 1123 subdomain, kept to 63 chars)."""

ExpectedVerdict = Literal[True, False, "unknown", "any"]
"""``any`` records a finding without asserting it (e.g. whether a regression is sticky)."""


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class ImageSpec(Model):
    """An image (registry repository) and the tag sequence pushes draw from."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9]+([._/-][a-z0-9]+)*$")]
    tags: list[str] | dict[str, dict[str, Any] | None] = Field(
        default_factory=list,
        description="explicit tags, or one generator: semver | calver | timestamps | "
                    "build-numbers | sha")
    signatures: bool = False
    latest: bool = False

    @field_validator("tags")
    @classmethod
    def _one_generator(cls, value: Any) -> Any:
        if isinstance(value, dict):
            from .tags import SERIES_KINDS, build_series
            if len(value) != 1:
                raise ValueError(
                    f"expected exactly one tag generator ({', '.join(SERIES_KINDS)}), "
                    f"got {len(value)}")
            kind = next(iter(value))
            if kind not in SERIES_KINDS:
                raise ValueError(
                    f"unknown tag generator {kind!r}; expected one of {', '.join(SERIES_KINDS)}")
            try:
                it = iter(build_series(value))
                next(it)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"invalid {kind} generator: {exc}") from None
        return value


class RepositorySpec(Model):
    """An ImageRepository scanning one of the scenario's images."""

    name: Name
    image: str
    interval: Duration = 60.0
    timeout: Duration | None = None
    exclusion_list: list[str] | None = Field(default=None, alias="exclusionList")


class PolicyDef(Model):
    """An ImagePolicy: the spec fields Flux has, by their Flux names."""

    name: Name
    repository: str
    policy: dict[str, dict[str, Any]]
    filter_tags: dict[str, str] | None = Field(default=None, alias="filterTags")
    digest_reflection_policy: Literal["Never", "IfNotPresent", "Always"] = Field(
        default="Never", alias="digestReflectionPolicy")
    interval: Duration | None = None

    @model_validator(mode="after")
    def _interval_rule(self) -> PolicyDef:
        # Flux's CEL rule: interval only with Always, and required with Always.
        if self.interval is not None and self.digest_reflection_policy != "Always":
            raise ValueError("interval is only allowed with digestReflectionPolicy: Always")
        return self


class Trigger(Model):
    """Wait for an observation before a step acts (``after:``)."""

    policy: str | None = None
    tag: str | None = None
    ready: bool | None = None
    leader: Literal["any", "changed", "other"] | int | None = None
    scan: str | None = None
    contains: str | None = None
    fault: str | None = None
    pods: Literal["running"] | None = None
    lease_age: Duration | None = Field(default=None, alias="lease-age")
    """The leader's last Lease renewal is at least this old: a fault injected then lands
    late in the renew cycle, when the standby observed the last renewal long ago."""
    timeout: Duration | None = None
    optional: bool = False
    """On timeout, note it and go on instead of ending the run "could not proceed" (the
    explorer's waits: a schedule that gets stuck must still be judged)."""

    @model_validator(mode="after")
    def _shape(self) -> Trigger:
        subjects = [k for k in ("policy", "leader", "scan", "fault", "pods", "lease_age")
                    if getattr(self, k) is not None]
        if len(subjects) != 1:
            raise ValueError("expected exactly one of policy, leader, scan, fault, pods, lease-age")
        if (self.tag is not None or self.ready is not None) and self.policy is None:
            raise ValueError("tag/ready apply to a policy trigger")
        if self.contains is not None and self.scan is None:
            raise ValueError("contains applies to a scan trigger")
        return self


class Jitter(Model):
    min: Duration
    max: Duration

    @model_validator(mode="after")
    def _order(self) -> Jitter:
        if self.min > self.max:
            raise ValueError("min must not exceed max")
        return self


class Repeat(Model):
    """Re-run a step ``times`` times, ``every`` apart; with ``until``, stop once it holds.

    ``until`` makes a step adaptive: e.g. "OOM-kill the leader until another pod leads"
    (the restarted pod may win the lease race; each attempt is recorded).
    """

    times: Annotated[int, Field(ge=1, le=10_000)]
    every: Duration | Jitter = 0.0
    until: Trigger | None = None


class PushAction(Model):
    image: str
    tags: list[str] | None = None
    next: Annotated[int, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _one(self) -> PushAction:
        if (self.tags is None) == (self.next is None):
            raise ValueError("expected exactly one of tags (a list) or next (a count)")
        return self


class DeleteAction(Model):
    image: str
    tags: list[str]


class ReconcileAction(Model):
    """Request an immediate reconcile (``reconcile.fluxcd.io/requestedAt``), as a
    registry webhook or ``flux reconcile image repository`` would."""

    repository: str | None = None
    policy: str | None = None

    @model_validator(mode="after")
    def _one(self) -> ReconcileAction:
        if (self.repository is None) == (self.policy is None):
            raise ValueError("expected exactly one of repository or policy")
        return self


class FaultAction(Model):
    """A fault from the :mod:`~pytest_fluxchaos.faults` table; a kind's own fields are extra keys."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    kind: str
    target: Annotated[str, Field(pattern=r"^(leader|standby|registry|git|pod-\d+)$")] = "leader"
    duration: Duration | None = None
    id: str | None = None
    confirm_timeout: Duration = Field(default=60.0, alias="confirm-timeout")
    keep_down: bool = Field(default=False, alias="keep-down")
    """After an oom-kill/kill, freeze the restarted container until another pod leads, so
    the standby (not the restarted pod) wins the lease race; a replica that is slow to
    come back, e.g. replaying a large Badger value log. Ignored with a single replica."""
    keep_down_timeout: Duration = Field(default=120.0, alias="keep-down-timeout")

    @field_validator("kind")
    @classmethod
    def _known(cls, kind: str) -> str:
        faults.get(kind)
        return kind

    @model_validator(mode="after")
    def _fit(self) -> FaultAction:
        fault = faults.get(self.kind)
        fault.validate(self)
        if "pod" not in fault.targets:
            server = next(iter(fault.targets))  # "registry" or "git"
            if "target" in self.model_fields_set and self.target != server:
                raise ValueError(f"{self.kind} targets the {server} server, not {self.target}")
            object.__setattr__(self, "target", server)
        elif self.target in ("registry", "git"):
            raise ValueError(f"{self.kind} cannot target the {self.target} server")
        self.params  # noqa: B018 - validates the kind's own fields now, at load time
        return self

    @property
    def params(self) -> BaseModel:
        """The kind's own fields (``FaultKind.params``), validated."""
        try:
            return faults.get(self.kind).params.model_validate(self.model_extra or {})
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ValueError(f"{self.kind}: {problems}") from None


class Step(Model):
    """One scheduled step: timing (at / after / delay / repeat) and at most one action."""

    id: str | None = None
    at: Duration | None = None
    after: Trigger | None = None
    delay: Duration | None = None
    repeat: Repeat | None = None
    push: PushAction | None = None
    delete: DeleteAction | None = None
    fault: FaultAction | None = None
    reconcile: ReconcileAction | None = None

    @model_validator(mode="after")
    def _shape(self) -> Step:
        actions = [k for k in ("push", "delete", "fault", "reconcile") if getattr(self, k) is not None]
        if len(actions) > 1:
            raise ValueError(f"a step has at most one action, got {', '.join(actions)}")
        if not actions and self.after is None and self.at is None and self.delay is None:
            raise ValueError("empty step: expected an action (push, delete, fault, reconcile) "
                             "or a wait (at, after, delay)")
        if self.at is not None and self.after is not None:
            raise ValueError("use either at or after, not both")
        return self

    @property
    def action(self) -> PushAction | DeleteAction | FaultAction | ReconcileAction | None:
        return self.push or self.delete or self.fault or self.reconcile


class Bounds(Model):
    """Time bounds: checker bounds and the run's own limits."""

    converge: Duration = 180.0
    stuck: Duration = 120.0
    honest: Duration = 60.0  # ready-honest: how long a policy may stay Ready=True over a failing repository
    wait: Duration = 240.0  # default timeout of an ``after`` trigger
    settle: Duration = 10.0  # converged state must hold this long before the run ends early
    timeout: Duration = 1200.0  # whole scenario


class GitRef(Model):
    branch: Annotated[str, Field(pattern=r"^[A-Za-z0-9._/-]+$")] = "main"


class GitCheckout(Model):
    ref: GitRef = Field(default_factory=GitRef)


class GitPush(Model):
    branch: Annotated[str, Field(pattern=r"^[A-Za-z0-9._/-]+$")] | None = None


class CommitAuthor(Model):
    name: str = "fluxcdbot"
    email: str = "fluxcdbot@users.noreply.github.com"


class CommitSpec(Model):
    author: CommitAuthor = Field(default_factory=CommitAuthor)
    message_template: str | None = Field(default=None, alias="messageTemplate")


class GitSpec(Model):
    """ImageUpdateAutomation ``spec.git``, by Flux's names."""

    checkout: GitCheckout = Field(default_factory=GitCheckout)
    push: GitPush = Field(default_factory=GitPush)
    commit: CommitSpec = Field(default_factory=CommitSpec)


class UpdateSpec(Model):
    path: str = "./"
    strategy: Literal["Setters"] = "Setters"


class AutomationSpec(Model):
    """An ImageUpdateAutomation (plus the GitRepository it reads) writing to the
    environment's Git server: the last link of the 4984 chain, where a rolled-back tag
    reaches Git.

    ``manifests`` are the repository's files (path -> text) with setter markers;
    ``${namespace}`` and ``${registry}`` are replaced at run time. Without them, each
    policy gets ``deploy/<policy>.yaml``, a Deployment whose image carries its marker.
    """

    interval: Duration = 60.0
    git: GitSpec = Field(default_factory=GitSpec)
    update: UpdateSpec = Field(default_factory=UpdateSpec)
    manifests: dict[str, str] | None = None

    @property
    def checkout_branch(self) -> str:
        return self.git.checkout.ref.branch

    @property
    def push_branch(self) -> str:
        return self.git.push.branch or self.git.checkout.ref.branch

    @field_validator("manifests")
    @classmethod
    def _paths(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for path in value or {}:
            parts = path.split("/")
            if not path or path.startswith("/") or ".." in parts or "" in parts:
                raise ValueError(f"manifest path {path!r} must be relative, without '..'")
        return value


class Scenario(Model):
    """A complete chaos scenario, independent of where (backend) and how (variant) it runs."""

    name: Name
    description: str = ""
    variants: list[str] | None = None
    flux_versions: list[str] | None = Field(default=None, alias="flux-versions")
    seed: int | None = None
    images: list[ImageSpec] = Field(min_length=1)
    repositories: list[RepositorySpec] = Field(min_length=1)
    policies: list[PolicyDef] = Field(min_length=1)
    automation: AutomationSpec | None = None
    steps: list[Step] = Field(default_factory=list)
    expect: dict[str, dict[str, ExpectedVerdict]] = Field(default_factory=dict)
    bounds: Bounds = Field(default_factory=Bounds)

    def image(self, name: str) -> ImageSpec:
        return next(i for i in self.images if i.name == name)

    def repository(self, name: str) -> RepositorySpec:
        return next(r for r in self.repositories if r.name == name)

    def expected(self, variant: str, irc_version: str | None = None,
                 flux_version: str | None = None) -> dict[str, ExpectedVerdict]:
        """Expected verdict per checker: defaults true, then ``*``, variant, variant@version."""
        result: dict[str, ExpectedVerdict] = {
            name: True for name in checker_names(self.automation is not None)}
        versions = [v for v in (flux_version, irc_version) if v]
        keys = ["*", *(f"*@{v}" for v in versions), variant,
                *(f"{variant}@{v}" for v in versions)]
        for key in keys:
            result.update({k: v for k, v in self.expect.get(key, {}).items() if k in result})
        return result

    @model_validator(mode="after")
    def _markers_name_policies(self) -> Scenario:
        if self.automation is None or not self.automation.manifests:
            return self
        from .setters import parse_markers
        names = {p.name for p in self.policies}
        for path, text in self.automation.manifests.items():
            for m in parse_markers(path, text.replace("${namespace}", "ns")):
                policy = m.policy.split("/", 1)[1]
                if policy not in names:
                    raise ValueError(f"automation.manifests {path}:{m.line}: marker names policy "
                                     f"{policy!r}, not one of {', '.join(sorted(names))}")
        return self
