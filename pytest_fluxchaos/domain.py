"""The words every layer shares: pods, endpoints, helper results and the error types.

They live here, at the bottom of the import graph, so the domain (scenario, faults,
nemesis, generator, checkers) and the backends (docker, kind) can both use them
without the domain ever importing a backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class FluxChaosError(Exception):
    """Base of the plugin's own errors: shown as one line, never a traceback."""


class BackendError(FluxChaosError):
    """A one-line, actionable failure of the environment (shown without a traceback)."""


class WaitTimeout(BackendError):
    """A bounded wait ended without its condition holding; says what it waited for."""

    def __init__(self, what: str, timeout: float, last: object = None) -> None:
        self.what = what
        self.timeout = timeout
        self.last = last
        seen = (f"{type(last).__name__}: {one_line(last, 200)}" if isinstance(last, BaseException)
                else one_line(repr(last), 200))
        super().__init__(f"timed out after {timeout:g}s waiting for {what} (last: {seen})")


def one_line(text: object, limit: int = 300) -> str:
    """Whitespace collapsed and cut: how errors from tools are quoted in messages."""
    return " ".join(str(text).split())[:limit]


@dataclass(frozen=True)
class RegistryEndpoint:
    """Where the registry is reached from the plugin and from inside the cluster."""

    host_url: str  # e.g. "http://127.0.0.1:41234", for the plugin's registry client
    cluster_host: str  # e.g. "fluxchaos-registry-ab12:5000", for ImageRepository.spec.image
    insecure: bool = True  # plain HTTP; ImageRepository.spec.insecure must be set


#: Toxic types the registry's fault proxy offers (Toxiproxy's names).
TOXIC_TYPES = ("latency", "timeout", "reset_peer", "bandwidth")


@dataclass(frozen=True)
class ProxyToxic:
    """One toxic on the fault proxy: ``kind`` is a :data:`TOXIC_TYPES` name, ``stream``
    ``downstream`` (to the client) or ``upstream``, ``attributes`` e.g. ``{"latency": 1500}``."""

    name: str
    kind: str
    stream: str = "downstream"
    toxicity: float = 1.0
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProxyState:
    """The fault proxy as it reports itself: where it listens (in the environment), what it
    forwards to, and its active toxics."""

    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: tuple[ProxyToxic, ...] = ()

    def toxic(self, name: str) -> ProxyToxic | None:
        return next((t for t in self.toxics if t.name == name), None)


#: Lies the registry liar tells (``assets/registry_liar``), by the liar's names.
LIE_KINDS = ("truncate", "stale", "error", "slow")


@dataclass(frozen=True)
class RegistryLie:
    """One lie of the registry liar: ``image`` is a repository, ``<prefix>/*`` or ``*``;
    ``params`` as the liar takes them (``keep``, ``drop_link``, ``status``,
    ``retry_after_s``, ``delay_ms``). The liar's answer adds ``log_cursor`` (its log's last
    seq when it took the lie) and, for ``stale``, ``snapshot`` (tags per repository, -1:
    unknown)."""

    id: str
    kind: str
    image: str
    params: dict[str, Any] = field(default_factory=dict)
    log_cursor: int = 0
    snapshot: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class LiarState:
    """The liar as it reports itself: ``boot`` is new at every start (lies and log lost)."""

    boot: str
    lies: tuple[RegistryLie, ...] = ()

    def lie(self, lie_id: str) -> RegistryLie | None:
        return next((lie for lie in self.lies if lie.id == lie_id), None)


@dataclass(frozen=True)
class ServedLie:
    """One response a lie acted on, from the liar's own log. ``lied``: the client got
    something other than the registry's answer; ``client`` is the TCP peer (Toxiproxy on
    docker, so ``user_agent`` tells controllers apart); ``at`` is Unix seconds."""

    seq: int
    lie: str
    kind: str
    at: float
    client: str
    user_agent: str
    method: str
    path: str
    status: int
    upstream_status: int  # 0: the registry was not asked
    lied: bool
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LieLog:
    """Entries after a cursor; ``last`` is the next cursor; ``dropped`` entries were lost."""

    boot: str
    last: int
    entries: tuple[ServedLie, ...] = ()
    dropped: int = 0


@dataclass(frozen=True)
class GitEndpoint:
    """Where the environment's smart-HTTP Git server is reached: by the plugin (host) and by
    the controllers inside the environment (cluster). Repositories are ``<url>/<name>.git``."""

    host_url: str  # e.g. "http://127.0.0.1:41235/git", for the plugin's own clones and pushes
    cluster_url: str  # e.g. "http://fluxchaos-ab12-git:8080/git" (docker) or an IP on kind's network

    def repo_url(self, name: str, *, host: bool) -> str:
        """The clone URL of repository ``name``, from the host or from inside the cluster."""
        return f"{self.host_url if host else self.cluster_url}/{name}.git"


@dataclass(frozen=True)
class ClusterAccess:
    """How the plugin reaches the Kubernetes API of the environment."""

    kubeconfig: Path
    context: str | None = None
    created_by_plugin: bool = True


@dataclass(frozen=True)
class PodStatus:
    """A controller pod's container as the backend sees it (docker or kubelet).

    ``reason``/``exit_code``/``oom_killed`` describe the last termination while the
    container runs again, as a kubelet's ``lastState.terminated`` does.
    """

    namespace: str
    name: str
    container_id: str | None
    state: str  # waiting | running | terminated
    reason: str | None = None  # OOMKilled, Error, CrashLoopBackOff, ...
    exit_code: int | None = None
    restart_count: int = 0
    oom_killed: bool = False
    started_at: str | None = None
    controller: str = "reflector"  # which controller's pod: reflector (IRC) | automation (IAC)


@dataclass(frozen=True)
class ContainerProcess:
    """The controller's running container and its main process, as the host helper sees it."""

    container_id: str
    pid: int  # in the PID namespace where host helpers run (the Docker host or the kind node)
    where: str = "host"  # the Docker host, or the kind node's name


@dataclass(frozen=True)
class HelperResult:
    """What a privileged host helper printed, and how it ended."""

    exit_code: int | None
    output: str
    error: str | None = None  # the backend could not run or wait for it


#: The controllers a namespace can run, by the short name faults and pods use.
REFLECTOR = "reflector"
AUTOMATION = "automation"
CONTROLLERS: dict[str, str] = {REFLECTOR: "image-reflector-controller",
                               AUTOMATION: "image-automation-controller"}


def lease_name(controller: str = REFLECTOR) -> str:
    """The leader election Lease of a controller (``<controller name>-leader-election``)."""
    return f"{CONTROLLERS[controller]}-leader-election"


def controller_of(deployment_name: str) -> str:
    """reflector or automation, from a Deployment (or pod name prefix)."""
    return AUTOMATION if deployment_name.startswith(CONTROLLERS[AUTOMATION]) else REFLECTOR


@dataclass(frozen=True)
class InstallRequest:
    """Run one variant's IRC Deployment in a namespace (one namespace per variant),
    and IAC's beside it when ``automation`` holds its Deployment."""

    namespace: str
    deployment: dict[str, Any]  # the full, patched apps/v1 Deployment manifest
    irc_version: str
    labels: dict[str, str] = field(default_factory=dict)
    automation: dict[str, Any] | None = None  # IAC's apps/v1 Deployment, namespaced
    automation_version: str | None = None
