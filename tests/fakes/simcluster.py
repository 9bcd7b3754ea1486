"""An in-memory simulation of IRC + leader election + registry, for fast plugin tests.

Only for testing the plugin's own machinery (collection, generator, nemesis, runner,
reports) in seconds. It follows the failover mechanism of flux-irc.md §7 closely enough
to regress the way the real controller does (per-pod tag DB, policies resolved from the
new leader's DB on takeover, revision-gated re-reconcile), but it is never evidence
about Flux: the real-controller tests use the docker backend.
"""

from __future__ import annotations

import itertools
import os
import random
import json
import threading
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from pytest_fluxchaos.domain import (TOXIC_TYPES, BackendError, ContainerProcess, GitEndpoint, HelperResult, LiarState,
                                     LieLog, PodStatus, ProxyState, ProxyToxic, RegistryLie)
from pytest_fluxchaos.history import (History, KubeEvent, LeaseHolder, PodState, PolicyLatest,
                                      PolicyReady, PolicySpec, RepositoryReady, RepositoryScan)
from pytest_fluxchaos.policy import PolicyError, latest_tag, scan_order
from pytest_fluxchaos.scenario import Scenario
from pytest_fluxchaos.variants import Variant

from .simliar import SimLiar

TICK = 0.02


def _stamp() -> str:
    """Now as Kubernetes writes a ``metav1.Time``: UTC, whole seconds."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class SimPod:
    name: str
    slot: int
    container: int
    db: dict[str, list[str]] = field(default_factory=dict)
    running: bool = True
    restart_count: int = 0
    exit_code: int | None = None
    reason: str | None = None
    oom_killed: bool = False
    restart_at: float | None = None
    restart_at_time: float = 0.0  # when the current container started
    frozen: bool = False
    keep_container: bool = False  # a restart that (wrongly) keeps the container id

    def status(self, namespace: str) -> PodStatus:
        return PodStatus(namespace=namespace, name=self.name, container_id=f"c{self.container}",
                         state="running" if self.running else "terminated",
                         reason=self.reason, exit_code=self.exit_code,
                         restart_count=self.restart_count, oom_killed=self.oom_killed)


@dataclass
class SimNamespace:
    name: str
    variant: Variant
    pods: list[SimPod]
    lease_duration: float
    holder: str | None = None
    renewed: float = 0.0
    repos: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> spec + status
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    history: History | None = None
    observed: dict[str, Any] = field(default_factory=dict)
    shared_lock_holder: str | None = None
    warnings: dict[tuple[str, str, str, str], tuple[int, str]] = field(default_factory=dict)


class SimEnvironment:
    """Implements pytest_fluxchaos.environment.Environment in memory."""

    backend_name = "memory"

    def __init__(self, irc_version: str = "v1.2.4", flux_version: str | None = "2.9.4",
                 *, lease_duration: float = 0.6, restart_delay: float = 0.15) -> None:
        self.irc_version = irc_version
        self.flux_version = flux_version
        self.lease_duration = lease_duration
        self.restart_delay = restart_delay
        self.registry: dict[tuple[str, str], set[str]] = {}
        self.registry_up = True
        self.namespaces: dict[str, SimNamespace] = {}
        self._ids = itertools.count(1)
        self._rng = random.Random(0)
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="simcluster", daemon=True)
        self._thread.start()
        self.closed = False
        self.oom_behaviour = os.environ.get("FLUXCHAOS_SIM_OOM", "kernel")
        self.registry_ignores_stop = False
        self.git_up = True
        self.git_ignores_stop = False
        # The registry's fault proxy: toxics by name; a probe's simulated time (no sleep) is
        # the base plus every latency toxic's latency, unless the proxy ignores its toxics.
        self.proxy_toxics: dict[str, ProxyToxic] = {}
        self.proxy_ignores_toxics = False
        self.proxy_base_s = 0.002
        self.liar = SimLiar()  # the registry liar: every scan's listing goes through it
        self.git_repos: set[str] = set()
        self.helper_calls: list[tuple[str, str, dict[str, str]]] = []
        self.reaped: list[int] = []

    # -- Environment API -------------------------------------------------------
    def deploy(self, namespace: str, variant: Variant, progress) -> None:
        le = variant.leader_election
        lease = le.lease_duration if le and le.lease_duration else self.lease_duration
        with self._lock:
            pods = [SimPod(name=f"irc-{namespace}-{i}-{next(self._ids)}", slot=i,
                           container=next(self._ids)) for i in range(variant.replicas or 1)]
            self.namespaces[namespace] = SimNamespace(namespace, variant, pods, lease)

    def apply_objects(self, namespace: str, scenario: Scenario, variant: Variant) -> None:
        with self._lock:
            ns = self.namespaces[namespace]
            for repo in scenario.repositories:
                ns.repos[repo.name] = {"image": repo.image, "interval": repo.interval,
                                       "exclusion": repo.exclusion_list, "scan_time": None,
                                       "revision": None}
            for pol in scenario.policies:
                spec = {"imageRepositoryRef": {"name": pol.repository}, "policy": pol.policy}
                if pol.filter_tags:
                    spec["filterTags"] = pol.filter_tags
                ns.policies[pol.name] = {"repository": pol.repository, "policy": pol.policy,
                                         "filter": pol.filter_tags, "latest": None,
                                         "ready": ("Unknown", "", ""), "pending": True}
                if ns.history:
                    ns.history.record(PolicySpec, policy=f"{namespace}/{pol.name}",
                                      generation=1, spec=spec)

    def push_tag(self, namespace: str, image: str, tag: str) -> str:
        if not self.registry_up:
            raise ConnectionError("registry not reachable")
        with self._lock:
            self.registry.setdefault((namespace, image), set()).add(tag)
        return "sha256:" + zlib.crc32(f"{namespace}/{image}:{tag}".encode()).to_bytes(4, "big").hex()

    def delete_tag(self, namespace: str, image: str, tag: str) -> None:
        if not self.registry_up:
            raise ConnectionError("registry not reachable")
        with self._lock:
            self.registry.get((namespace, image), set()).discard(tag)

    def request_reconcile(self, namespace: str, kind: str, name: str) -> None:
        with self._lock:
            ns = self.namespaces[namespace]
            if kind == "ImageRepository":
                ns.repos[name]["scan_time"] = None  # scan now
            else:
                ns.policies[name]["pending"] = True

    def observe(self, namespace: str, history: History):
        with self._lock:
            ns = self.namespaces[namespace]
            ns.history = history
            # Like a real observer's initial list: record the state as it is now.
            for pod in ns.pods:
                self._emit_pod(ns, pod)
            if ns.holder is not None:
                self._emit_lease(ns)

        def stop() -> list[str]:
            with self._lock:
                if namespace in self.namespaces:
                    self.namespaces[namespace].history = None
            return []
        return stop

    def leader(self, namespace: str) -> str | None:
        with self._lock:
            return self.namespaces[namespace].holder

    def lease_renew_age(self, namespace: str) -> float | None:
        with self._lock:
            ns = self.namespaces[namespace]
            return None if ns.holder is None else time.monotonic() - ns.renewed

    def pods(self, namespace: str) -> list[PodStatus]:
        with self._lock:
            return [p.status(namespace) for p in self.namespaces[namespace].pods]

    def _terminate(self, ns: SimNamespace, pod: SimPod, code: int, reason: str, oom: bool) -> None:
        pod.running, pod.exit_code, pod.reason, pod.oom_killed = False, code, reason, oom
        pod.restart_at = time.monotonic() + self.restart_delay
        if ns.shared_lock_holder == pod.name:
            ns.shared_lock_holder = None
        self._emit_pod(ns, pod)

    def _find(self, namespace: str, name: str) -> tuple[SimNamespace, SimPod]:
        ns = self.namespaces[namespace]
        return ns, next(p for p in ns.pods if p.name == name)

    def signal_container(self, namespace: str, pod: str, signal: str = "KILL") -> str:
        with self._lock:
            ns, p = self._find(namespace, pod)
            if not p.running:
                raise BackendError(f"pod {namespace}/{pod} has no running container to signal")
            cid = f"c{p.container}"
            self._terminate(ns, p, 137 if signal == "KILL" else 143, "Error", False)
            return cid

    def container_process(self, namespace: str, pod: str) -> ContainerProcess:
        with self._lock:
            _ns, p = self._find(namespace, pod)
            if not p.running:
                raise BackendError(f"pod {namespace}/{pod} has no running container")
            return ContainerProcess(container_id=f"c{p.container}", pid=10_000 + p.container, where="sim")

    def run_host_helper(self, namespace: str, pod: str, script: str, env: Mapping[str, str],
                        timeout: float) -> HelperResult:
        """Plays the OOM helper (``TARGET_PID`` set) or the hog reaper (``HOG_PID``).

        ``oom_behaviour`` decides what the "kernel" does, so tests can make the fake
        report the wrong things: a SIGKILL that looks like an OOM, no restart, the same
        container id, the hog dying first, an exit code other than 137.
        """
        self.helper_calls.append((namespace, pod, dict(env)))
        if "HOG_PID" in env:
            self.reaped.append(int(env["HOG_PID"]))
            return HelperResult(0, "")
        how = self.oom_behaviour
        with self._lock:
            ns, p = self._find(namespace, pod)
            lines = {"cgroup_version": 1, "cgroup": f"/memory/sim/{p.name}", "limit": 1 << 30,
                     "oom_kill_before": 3, "hog_pid": 424242, "hog_protected": 0}
            if how == "hog-first":
                lines.update(target_gone=0, oom_kill_after=4, hog_alive=0,
                             error="the hog died before the target")
                code = 5
            elif how == "helper-died":
                lines = {k: v for k, v in lines.items() if k != "oom_kill_after"}
                code = None
            else:
                oom_flag = how == "kernel"
                counter = 4 if how in ("kernel", "runtime-missed", "exit-1", "no-restart", "same-container") else 3
                exit_code = 1 if how == "exit-1" else 137
                self._terminate(ns, p, exit_code, "OOMKilled" if oom_flag else "Error", oom_flag)
                if how == "no-restart":
                    p.restart_at = None
                if how == "same-container":
                    p.keep_container = True
                lines.update(target_gone=1, oom_kill_after=counter, hog_alive=0, elapsed_ms=120)
                code = 0
        output = "\n".join(f"fluxchaos: {k}={v}" for k, v in lines.items())
        return HelperResult(code, output, None if code is not None else "helper did not end")

    def freeze(self, namespace: str, pod: str, frozen: bool) -> str:
        with self._lock:
            _ns, p = self._find(namespace, pod)
            p.frozen = frozen
            return f"c{p.container}"

    def delete_pod(self, namespace: str, pod: str) -> str:
        with self._lock:
            ns, p = self._find(namespace, pod)
            index = ns.pods.index(p)
            new = SimPod(name=f"irc-{namespace}-{p.slot}-{next(self._ids)}", slot=p.slot,
                         container=next(self._ids))
            ns.pods[index] = new
            if ns.shared_lock_holder == p.name:
                ns.shared_lock_holder = None
            self._emit_pod(ns, new)
            return new.name

    def delete_lease(self, namespace: str) -> str | None:
        with self._lock:
            ns = self.namespaces[namespace]
            holder, ns.holder = ns.holder, None
            self._emit_lease(ns)
            return holder

    def stop_registry(self) -> None:
        if not self.registry_ignores_stop:
            self.registry_up = False

    def start_registry(self) -> None:
        self.registry_up = True

    def registry_reachable(self) -> bool:
        return self.registry_up

    def registry_proxy(self) -> ProxyState:
        return ProxyState("registry", "0.0.0.0:5000", "sim-registry:5000", True,
                          tuple(self.proxy_toxics.values()))

    def add_registry_toxic(self, toxic: ProxyToxic) -> ProxyToxic:
        if toxic.kind not in TOXIC_TYPES:
            raise BackendError(f"unknown toxic type {toxic.kind!r}")
        if toxic.name in self.proxy_toxics:
            raise BackendError(f"toxic {toxic.name} already exists")
        self.proxy_toxics[toxic.name] = toxic
        return toxic

    def remove_registry_toxic(self, name: str) -> None:
        self.proxy_toxics.pop(name, None)

    def registry_proxy_probe(self, timeout: float = 30.0) -> float:
        if not self.registry_up:
            raise BackendError("GET through the proxy failed: the registry is down")
        if self.proxy_ignores_toxics:
            return self.proxy_base_s
        added = sum(t.attributes.get("latency", 0) for t in self.proxy_toxics.values() if t.kind == "latency")
        return self.proxy_base_s + added / 1000.0

    def registry_liar(self) -> LiarState:
        return self.liar.state()

    def set_registry_lie(self, lie: RegistryLie) -> RegistryLie:
        with self._lock:
            listings = {f"{ns}/{image}": sorted(tags) for (ns, image), tags in self.registry.items()}
        return self.liar.set(lie, listings)

    def clear_registry_lie(self, lie_id: str) -> None:
        self.liar.clear(lie_id)

    def registry_lie_log(self, since: int = 0, lie: str | None = None) -> LieLog:
        return self.liar.since(since, lie)

    def git_server(self) -> GitEndpoint:
        return GitEndpoint(host_url="http://127.0.0.1:1/git", cluster_url="http://sim-git:8080/git")

    def create_git_repo(self, name: str) -> None:
        if not self.git_up:
            raise ConnectionError("git server not reachable")
        self.git_repos.add(name)

    def stop_git(self) -> None:
        if not self.git_ignores_stop:
            self.git_up = False

    def start_git(self) -> None:
        self.git_up = True

    def git_reachable(self) -> bool:
        return self.git_up

    def undeploy(self, namespace: str) -> None:
        with self._lock:
            self.namespaces.pop(namespace, None)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.closed = True

    # -- the simulated controllers -----------------------------------------------
    def _loop(self) -> None:
        while not self._stop.wait(TICK):
            with self._lock:
                now = time.monotonic()
                for ns in list(self.namespaces.values()):
                    self._tick(ns, now)

    def _tick(self, ns: SimNamespace, now: float) -> None:
        for pod in ns.pods:
            if not pod.running and pod.restart_at is not None and now >= pod.restart_at:
                pod.running, pod.restart_at, pod.restart_at_time = True, None, now
                if not pod.keep_container:
                    pod.container = next(self._ids)
                pod.restart_count += 1
                self._emit_pod(ns, pod)
            if pod.running and ns.variant.storage == "shared":
                # Badger's directory flock: only one process may open a shared /data.
                if ns.shared_lock_holder is None:
                    ns.shared_lock_holder = pod.name
                elif ns.shared_lock_holder != pod.name:
                    self._terminate(ns, pod, 1, "Error", False)
        # The lease names a process (pod + container): a restarted container is a new
        # candidate that must wait for the old lease to expire, like client-go.
        holder_pod = next((p for p in ns.pods if p.name == ns.holder), None)
        if (holder_pod is not None and holder_pod.running and not holder_pod.frozen
                and holder_pod.container == ns.observed.get("container")
                and now - ns.renewed >= ns.lease_duration / 6):
            ns.renewed = now  # renews every retry period, like client-go
        if ns.holder is None or now - ns.renewed > ns.lease_duration:
            candidates = [p for p in ns.pods if p.running and not p.frozen]
            if candidates:
                # The lease race: a long-running standby observed the last renewal
                # earlier than a freshly restarted process, so it usually wins.
                candidates.sort(key=lambda p: p.restart_at_time)
                new_leader = candidates[0] if self._rng.random() < 0.7 else candidates[-1]
                ns.holder, ns.renewed = new_leader.name, now
                ns.observed["container"] = new_leader.container
                self._emit_lease(ns)
                for pol in ns.policies.values():
                    pol["pending"] = True  # takeover: every policy reconciles at once
        leader = next((p for p in ns.pods if p.name == ns.holder and p.running and not p.frozen
                       and p.container == ns.observed.get("container")), None)
        if leader is None:
            return
        for name, repo in ns.repos.items():
            due = (repo["scan_time"] is None or not leader.db.get(repo["image"])
                   or now - repo["scan_time"] >= repo["interval"])
            if due:
                self._scan(ns, name, repo, leader, now)
        for name, pol in ns.policies.items():
            if not pol["pending"]:
                continue
            pol["pending"] = False
            tags = leader.db.get(ns.repos[pol["repository"]]["image"], [])
            if not tags:
                self._set_policy(ns, name, pol, pol["latest"], ("False", "DependencyNotReady",
                                 "retrying in 30s error: no tags in database"))
                continue
            try:
                tag = latest_tag(tags, pol["policy"], pol["filter"], irc_version=self.irc_version)
            except PolicyError as exc:
                self._set_policy(ns, name, pol, pol["latest"], ("False", "Failure", exc.message))
                continue
            self._set_policy(ns, name, pol, tag, ("True", "Succeeded",
                             f"Latest image tag for {ns.repos[pol['repository']]['image']} resolved to {tag}"))

    def _scan(self, ns: SimNamespace, name: str, repo: dict[str, Any], leader: SimPod,
              now: float) -> None:
        """One scan by the leader. A failed scan marks the repository Ready=False and
        leaves the policies alone: IRC re-runs a policy only when its repository's
        revision changes, so it keeps its last Ready=True (image-reflector-controller#449)."""
        repo["scan_time"] = now  # failed or not, the next scan is an interval away
        key = (ns.name, repo["image"])
        served = (self.liar.list_tags(f"{ns.name}/{repo['image']}",
                                      sorted(self.registry[key]) if key in self.registry else None, leader.name)
                  if self.registry_up else None)
        if served is None:
            why = "the registry answered an error" if self.registry_up else "registry unreachable"
            self._set_repository(ns, name, repo, ("False", "ReadOperationFailed",
                                                  f"scan failed: {why} (simulated)"))
            return
        tags = scan_order(served, *([repo["exclusion"]] if repo["exclusion"] is not None else []))
        leader.db[repo["image"]] = list(tags)
        revision = str(zlib.adler32(json.dumps(list(tags), separators=(",", ":")).encode()))
        if revision != repo["revision"]:
            repo["revision"] = revision
            for pol in ns.policies.values():
                if pol["repository"] == name:
                    pol["pending"] = True
        if ns.history:
            ns.history.record(RepositoryScan, repository=f"{ns.name}/{name}",
                              revision=revision, tag_count=len(tags), scan_time=_stamp(),
                              latest_tags=tuple(tags[:10]))
        self._set_repository(ns, name, repo, ("True", "Succeeded", f"successful scan: found {len(tags)} "
                                              f"tags with checksum {revision}"))

    def _set_repository(self, ns: SimNamespace, name: str, repo: dict[str, Any],
                        ready: tuple[str, str, str]) -> None:
        """Ready as the observer records it: on a change of status or reason; a failure
        also warns, as IRC's notify does after every reconcile that ends not Ready."""
        if ready[:2] != repo.get("ready", ("", ""))[:2] and ns.history:
            ns.history.record(RepositoryReady, repository=f"{ns.name}/{name}", status=ready[0],
                              reason=ready[1], message=ready[2])
        repo["ready"] = ready
        if ready[0] == "False":
            self._warn(ns, "ImageRepository", name, ready[1], ready[2])

    def _warn(self, ns: SimNamespace, kind: str, name: str, reason: str, message: str) -> None:
        """A Warning Event, folded like the API server folds repetitions: one Event object
        per (object, reason, message) whose count and lastTimestamp grow."""
        key = (kind, name, reason, message)
        count, first = ns.warnings.get(key, (0, _stamp()))
        ns.warnings[key] = (count + 1, first)
        if ns.history:
            ns.history.record(KubeEvent, involved_kind=kind, involved=f"{ns.name}/{name}",
                              type="Warning", reason=reason, message=message, count=count + 1,
                              first_timestamp=first, last_timestamp=_stamp(),
                              name=f"{ns.name}/{name}.{zlib.crc32(repr(key).encode()):08x}",
                              reporter="image-reflector-controller")

    def _set_policy(self, ns: SimNamespace, name: str, pol: dict[str, Any], tag: str | None,
                    ready: tuple[str, str, str]) -> None:
        key = f"{ns.name}/{name}"
        if tag != pol["latest"] and ns.history:
            ns.history.record(PolicyLatest, policy=key, tag=tag, previous=pol["latest"])
        pol["latest"] = tag
        if ready[:2] != pol["ready"][:2] and ns.history:
            ns.history.record(PolicyReady, policy=key, status=ready[0], reason=ready[1],
                              message=ready[2])
        pol["ready"] = ready
        if ready[0] == "False":
            self._warn(ns, "ImagePolicy", name, ready[1], ready[2])

    def _emit_pod(self, ns: SimNamespace, pod: SimPod) -> None:
        if ns.history:
            ns.history.record(PodState, pod=f"{ns.name}/{pod.name}", container_id=f"c{pod.container}",
                              state="running" if pod.running else "terminated",
                              reason=pod.reason, exit_code=pod.exit_code,
                              restart_count=pod.restart_count)

    def _emit_lease(self, ns: SimNamespace) -> None:
        if ns.history:
            pod = next((p for p in ns.pods if p.name == ns.holder), None)
            ns.history.record(LeaseHolder, lease=f"{ns.name}/image-reflector-controller-leader-election",
                              holder=ns.holder,
                              identity=f"{ns.holder}_c{pod.container}" if pod else None)
