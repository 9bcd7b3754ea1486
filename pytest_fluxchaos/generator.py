"""The generator: turns a scenario's steps into timed operations and faults.

Steps run in order. Each waits for its timing (``at`` a run time, ``after`` an
observed condition, ``delay``), then performs its action through the clients (tag
pushes and deletes) or the nemesis (faults); ``repeat`` re-runs a step on a fixed or
jittered period. Jitter comes from one RNG seeded per run and the seed is written to
the history, so a run can be replayed exactly.

Waiting is event-driven: a :class:`View` folds the history into "current state"
(latest tag per policy, leader, scans) and wakes waiters on every new event, with a
bound on every wait.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from dataclasses import dataclass, field

from .environment import Environment
from .history import (Event, Fault, History, LeaseHolder, Note, Op, PolicyLatest, PolicyReady,
                      RepositoryScan)
from .domain import WaitTimeout
from .nemesis import Nemesis
from .scenario import (DeleteAction, Jitter, PushAction, ReconcileAction, Scenario, Step,
                       Trigger)
from .tags import TagCursor, build_series
from .waiting import wait_until

#: A push of this many generated tags (``next: N``) is a bulk load of a big repository:
#: it runs on ``BULK_CLIENTS`` client processes at once, as Jepsen runs concurrent
#: clients, each op recorded under its own process. Smaller pushes stay sequential, in
#: the order the suite gives.
BULK_PUSH = 50
BULK_CLIENTS = 6


class StepTimeout(Exception):
    """A step's trigger did not hold within its bound: the scenario could not proceed."""


@dataclass
class View:
    """Current state folded from the history, with a condition to wait on."""

    latest: dict[str, str | None] = field(default_factory=dict)
    ready: dict[str, str] = field(default_factory=dict)
    leader: str | None = None
    identity: str | None = None  # holderIdentity: a restarted pod leads under a new one
    leader_changes: int = 0
    scans: dict[str, list[float]] = field(default_factory=dict)
    pushed_at: dict[tuple[str, str], float] = field(default_factory=dict)
    confirmed: set[str] = field(default_factory=set)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def apply(self, event: Event) -> None:
        with self.cond:
            if isinstance(event, PolicyLatest):
                self.latest[event.policy] = event.tag
            elif isinstance(event, PolicyReady):
                self.ready[event.policy] = event.status
            elif isinstance(event, LeaseHolder):
                if (event.holder, event.identity) != (self.leader, self.identity):
                    self.leader_changes += 1
                self.leader, self.identity = event.holder, event.identity
            elif isinstance(event, RepositoryScan):
                self.scans.setdefault(event.repository, []).append(event.t)
            elif isinstance(event, Op) and event.f == "push-tag" and event.type == "ok":
                self.pushed_at[(event.image, event.tag)] = event.t
            elif isinstance(event, Fault) and event.phase == "confirm" and event.outcome == "ok":
                self.confirmed.add(event.fault_id)
            self.cond.notify_all()


class Generator:
    """Executes one scenario's steps against one variant namespace."""

    def __init__(self, scenario: Scenario, env: Environment, namespace: str,
                 history: History, nemesis: Nemesis, *, seed: int) -> None:
        self.scenario = scenario
        self.env = env
        self.ns = namespace
        self.history = history
        self.nemesis = nemesis
        self.rng = random.Random(seed)
        self.view = View()
        self._unsubscribe = history.subscribe(self.view.apply)
        for event in history.events:
            self.view.apply(event)
        self.cursors = {
            image.name: TagCursor(build_series(image.tags), signatures=image.signatures,
                                  latest=image.latest)
            for image in scenario.images if image.tags
        }
        self.process = f"client-{namespace}"

    def close(self) -> None:
        self._unsubscribe()

    # -- conditions --------------------------------------------------------------
    def _qualified(self, name: str) -> str:
        return f"{self.ns}/{name}"

    def condition(self, trigger: Trigger, started: float,
                  leader_at_start: tuple[str | None, str | None, int] | None) -> tuple[Callable[[], bool], str]:
        """A predicate over the view, and its description for timeouts and notes."""
        v = self.view
        if trigger.policy is not None:
            key = self._qualified(trigger.policy)
            if trigger.tag is not None:
                return (lambda: v.latest.get(key) == trigger.tag,
                        f"policy {trigger.policy} resolves to {trigger.tag}")
            want = "True" if trigger.ready in (None, True) else "False"
            return (lambda: v.ready.get(key) == want, f"policy {trigger.policy} Ready={want}")
        if trigger.leader is not None:
            if trigger.leader == "any":
                return (lambda: v.leader is not None, "some pod leads")
            if trigger.leader == "other":
                changes = leader_at_start[2] if leader_at_start else v.leader_changes
                start_pod = leader_at_start[0] if leader_at_start else None
                # With a single replica there is no other pod: a new leader process counts.
                single = len(self.env.pods(self.ns)) < 2
                return (lambda: v.leader is not None and v.leader_changes > changes
                        and (single or v.leader != start_pod),
                        f"a pod other than {start_pod} leads" if not single
                        else f"a new process leads (single replica; was {start_pod})")
            if trigger.leader == "changed":
                changes = leader_at_start[2] if leader_at_start else v.leader_changes
                start_process = leader_at_start[:2] if leader_at_start else None
                return (lambda: v.leader is not None and v.leader_changes > changes
                        and (v.leader, v.identity) != start_process,
                        f"leadership moves away from {leader_at_start[0] if leader_at_start else None}")
            index = int(trigger.leader)

            def leads() -> bool:
                pods = self.env.pods(self.ns)
                return index < len(pods) and v.leader == pods[index].name
            return leads, f"pod-{index} leads"
        if trigger.scan is not None:
            key = self._qualified(trigger.scan)
            image = self.scenario.repository(trigger.scan).image
            contains = trigger.contains
            if contains is not None:
                def scanned() -> bool:
                    pushed = v.pushed_at.get((image, contains))
                    return pushed is not None and any(t > pushed for t in v.scans.get(key, []))
                return scanned, f"repository {trigger.scan} scanned after {contains} was pushed"
            return (lambda: any(t > started for t in v.scans.get(key, [])),
                    f"repository {trigger.scan} scanned")
        if trigger.lease_age is not None:
            def renewed_long_ago() -> bool:
                age = self.env.lease_renew_age(self.ns)
                return age is not None and age >= (trigger.lease_age or 0.0)
            return renewed_long_ago, f"the leader's last renewal is {trigger.lease_age:g}s old"
        if trigger.pods is not None:
            def all_running() -> bool:
                pods = self.env.pods(self.ns)
                return bool(pods) and all(p.state == "running" for p in pods)
            return all_running, "every controller pod is running"
        assert trigger.fault is not None
        return (lambda: trigger.fault in v.confirmed, f"fault {trigger.fault} confirmed")

    # -- running -----------------------------------------------------------------
    def run(self, deadline: float) -> None:
        """Run every step; raises StepTimeout when a trigger never holds."""
        self.history.record(Note, message="generator start", data={"namespace": self.ns})
        for index, step in enumerate(self.scenario.steps):
            times = step.repeat.times if step.repeat else 1
            until = step.repeat.until if step.repeat else None
            for iteration in range(times):
                if iteration:
                    self._sleep(self._period(step), deadline)
                self._wait(step, index, deadline)
                leader_at_start = (self.view.leader, self.view.identity, self.view.leader_changes)
                self._act(step)
                if until is not None and self._until(until, index, iteration, leader_at_start,
                                                     deadline):
                    break
            else:
                if until is not None:
                    _pred, what = self.condition(until, self.history.now(), None)
                    raise StepTimeout(f"step {index + 1}: {what} did not hold after {times} attempts")
        self.history.record(Note, message="generator done")

    def _until(self, until: Trigger, index: int, iteration: int,
               leader_at_start: tuple[str | None, str | None, int], deadline: float) -> bool:
        """After an attempt: wait for the outcome; True when ``until`` holds.

        For ``leader: other`` the outcome is known as soon as leadership changes: a new
        identity on the same pod means the restarted pod won the race (try again).
        """
        started = self.history.now()
        predicate, what = self.condition(until, started, leader_at_start)
        decided = predicate
        if until.leader in ("other",):
            changes = leader_at_start[2]
            decided = lambda: predicate() or (self.view.leader is not None  # noqa: E731
                                              and self.view.leader_changes > changes)
        bound = until.timeout or self.scenario.bounds.wait
        limit = min(started + bound, deadline)
        try:
            self._wait_until(decided, limit, what=what, cadence=0.5)
        except WaitTimeout:
            pass  # the attempt's outcome is recorded below; the step may try again
        met = predicate()
        self.history.record(Note, message=f"step {index} attempt {iteration + 1}: "
                                          f"{what}: {'yes' if met else 'no'}",
                            data={"condition": what, "met": met, "attempt": iteration + 1})
        return met

    def _period(self, step: Step) -> float:
        assert step.repeat is not None
        every = step.repeat.every
        if isinstance(every, Jitter):
            return self.rng.uniform(every.min, every.max)
        return float(every)

    def _sleep(self, seconds: float, deadline: float) -> None:
        """Let time pass (a scheduled delay) while healing faults that come due."""
        until = min(self.history.now() + seconds, deadline)
        try:
            self._wait_until(lambda: self.history.now() >= until, until + 1.0,
                             what=f"{seconds:.1f}s to pass", cadence=0.1)
        except WaitTimeout:
            pass  # cannot happen before ``until``; the bound only guards a stuck clock

    def _wait_until(self, predicate: Callable[[], bool], limit: float, *, what: str,
                    cadence: float) -> None:
        """Wait (woken by new observations) until ``predicate`` holds or ``limit`` passes,
        healing faults whose duration ends meanwhile."""
        def check() -> bool:
            self.nemesis.heal_due()
            return predicate()

        wait_until(check, max(0.0, limit - self.history.now()), what=what, interval=cadence,
                   retry_on=(), condition=self.view.cond)

    def _wait(self, step: Step, index: int, deadline: float) -> None:
        if step.at is not None:
            self._sleep(step.at - self.history.now(), deadline)
        if step.after is not None:
            started = self.history.now()
            predicate, what = self.condition(
                step.after, started, (self.view.leader, self.view.identity, self.view.leader_changes))
            bound = step.after.timeout or self.scenario.bounds.wait
            limit = min(started + bound, deadline)
            cadence = 0.05 if step.after.lease_age is not None else 0.5
            try:
                self._wait_until(predicate, limit, what=what, cadence=cadence)
            except WaitTimeout:
                self.history.record(Note, message=f"step {index} trigger timed out",
                                    data={"waiting_for": what, "bound": bound,
                                          "optional": step.after.optional})
                if step.after.optional:
                    return
                raise StepTimeout(f"step {index + 1}: {what} did not happen within "
                                  f"{min(bound, limit - started):.0f}s") from None
            self.history.record(Note, message=f"step {index} trigger met", data={"condition": what})
        if step.delay:
            self._sleep(step.delay, deadline)

    def _act(self, step: Step) -> None:
        action = step.action
        if isinstance(action, PushAction):
            tags = action.tags if action.tags is not None else self.cursors[action.image].take(action.next or 1)
            if action.tags is None and len(tags) >= BULK_PUSH:
                self._bulk_push(action.image, tags)
            else:
                for tag in tags:
                    self.push(action.image, tag)
        elif isinstance(action, DeleteAction):
            for tag in action.tags:
                self.delete(action.image, tag)
        elif isinstance(action, ReconcileAction):
            kind, name = (("ImageRepository", action.repository) if action.repository
                          else ("ImagePolicy", action.policy))
            self.env.request_reconcile(self.ns, kind, name or "")
            self.history.record(Note, message=f"reconcile requested for {kind} {name}")
        elif action is not None:
            self.nemesis.inject(action)

    def push(self, image: str, tag: str, process: str | None = None) -> None:
        self._op("push-tag", image, tag, lambda: self.env.push_tag(self.ns, image, tag), process)

    def _bulk_push(self, image: str, tags: list[str]) -> None:
        """``tags`` split over ``BULK_CLIENTS`` processes, each pushing its share in order."""
        shares = [tags[k::BULK_CLIENTS] for k in range(BULK_CLIENTS)]

        def client(k: int) -> None:
            for tag in shares[k]:
                self.push(image, tag, f"{self.process}-bulk-{k}")

        with ThreadPoolExecutor(max_workers=BULK_CLIENTS, thread_name_prefix="fluxchaos-push") as pool:
            for done in [pool.submit(client, k) for k in range(BULK_CLIENTS) if shares[k]]:
                done.result()

    def delete(self, image: str, tag: str) -> None:
        self._op("delete-tag", image, tag, lambda: self.env.delete_tag(self.ns, image, tag))

    def _op(self, f: str, image: str, tag: str, call: Callable[[], str | None], process: str | None = None) -> None:
        """Invoke, then ok / fail (certainly did not happen) / info (may have happened)."""
        record = partial(self.history.record, Op, f=f, image=image, tag=tag, process=process or self.process)
        record(type="invoke")
        try:
            digest = call()
        except ConnectionError as exc:
            record(type="fail", error=str(exc))
        except Exception as exc:  # indeterminate: the operation may or may not have landed
            record(type="info", error=f"{type(exc).__name__}: {exc}")
        else:
            record(type="ok", digest=digest)
