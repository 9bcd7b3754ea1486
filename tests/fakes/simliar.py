"""The registry liar in memory, for the simulation: the same lies, rules and log as
``assets/registry_liar``, told to the simulated controllers' scans (one listing per scan,
``?n=1000`` like go-containerregistry), so the lie faults run through the nemesis
without Docker. It can be told to ignore its lies, or to restart (a new boot id, lies
and log lost), so tests can make a lie that did not land."""

from __future__ import annotations

import threading
import time

from pytest_fluxchaos.domain import LIE_KINDS, BackendError, LiarState, LieLog, RegistryLie, ServedLie

PAGE = 1000  # IRC's page size when it lists tags
STAGES = {"truncate": "listing", "stale": "listing", "error": "error", "slow": "slow"}
UA = "image-reflector-controller (simulated)"


def matches(pattern: str, repo: str) -> bool:
    return pattern in ("*", repo) or (pattern.endswith("/*") and repo.startswith(pattern[:-1]))


class SimLiar:
    def __init__(self) -> None:
        self.boots = 1
        self.lies: dict[str, RegistryLie] = {}
        self.snapshots: dict[str, dict[str, list[str] | None]] = {}
        self.log: list[ServedLie] = []
        self.ignores_lies = False  # holds lies, tells none
        self._lock = threading.Lock()

    @property
    def boot(self) -> str:
        return f"sim-{self.boots}"

    def restart(self) -> None:
        with self._lock:
            self.boots += 1
            self.lies.clear()
            self.snapshots.clear()
            self.log.clear()

    def state(self) -> LiarState:
        with self._lock:
            return LiarState(self.boot, tuple(self.lies.values()))

    def set(self, lie: RegistryLie, listings: dict[str, list[str]]) -> RegistryLie:
        """``listings``: the registry now, repository -> tags in its order."""
        if lie.kind not in LIE_KINDS:
            raise BackendError(f"unknown lie kind {lie.kind!r}")
        with self._lock:
            if lie.id in self.lies:
                raise BackendError(f"the registry liar refused PUT /lies/{lie.id}: HTTP 409 already set")
            for other in self.lies.values():
                if STAGES[other.kind] == STAGES[lie.kind] and (matches(other.image, lie.image)
                                                                or matches(lie.image, other.image)):
                    raise BackendError(f"the registry liar refused PUT /lies/{lie.id}: HTTP 409 overlaps {other.id}")
            snapshot: dict[str, int] = {}
            if lie.kind == "stale":
                snap: dict[str, list[str] | None] = {r: list(t) for r, t in listings.items() if matches(lie.image, r)}
                if "*" not in lie.image:
                    snap.setdefault(lie.image, None)
                self.snapshots[lie.id] = snap
                snapshot = {r: -1 if t is None else len(t) for r, t in snap.items()}
            held = RegistryLie(lie.id, lie.kind, lie.image, dict(lie.params),
                               self.log[-1].seq if self.log else 0, snapshot)
            self.lies[lie.id] = held
            return held

    def clear(self, lie_id: str) -> None:
        with self._lock:
            self.lies.pop(lie_id, None)
            self.snapshots.pop(lie_id, None)

    def since(self, since: int, lie: str | None) -> LieLog:
        with self._lock:
            entries = tuple(e for e in self.log if e.seq > since and (lie is None or e.lie == lie))
            return LieLog(self.boot, self.log[-1].seq if self.log else 0, entries)

    def list_tags(self, repo: str, truth: list[str] | None, client: str) -> list[str] | None:
        """One scan's listing through the liar: the tags served, None when the scan fails."""
        with self._lock:
            acting = [] if self.ignores_lies else [lie for lie in self.lies.values() if matches(lie.image, repo)]
            status, served = (200, truth) if truth is not None else (404, None)
            up = status
            for lie in sorted(acting, key=lambda lie: STAGES[lie.kind] != "error"):
                if lie.kind == "error":
                    self._served(lie, repo, client, lie.params["status"], 0, True, {"status": lie.params["status"]})
                    return None
                if lie.kind == "slow":
                    self._served(lie, repo, client, status, up, True,
                                 {"delay_ms": lie.params["delay_ms"], "waited_ms": lie.params["delay_ms"],
                                  "outcome": "served"})
                    continue
                before = served
                if lie.kind == "stale":
                    served = self.snapshots[lie.id].get(repo)
                elif "keep" in lie.params and served is not None:
                    served = served[:lie.params["keep"]]
                elif served is not None:
                    served = served[:PAGE]  # the Link to the next page dropped
                status = 200 if served is not None else 404
                self._served(lie, repo, client, status, up, served != before,
                             {"upstream_tags": len(before or []), "served_tags": len(served or [])})
            if served is None and truth is None:
                return []  # unknown to the registry too: the simulation scans it empty, as without a liar
            return served  # None: the snapshot does not know the repository (NAME_UNKNOWN)

    def _served(self, lie: RegistryLie, repo: str, client: str, status: int, upstream: int, lied: bool,
                detail: dict[str, object]) -> None:
        seq = self.log[-1].seq + 1 if self.log else 1
        self.log.append(ServedLie(seq, lie.id, lie.kind, time.time(), client, UA, "GET",
                                  f"/v2/{repo}/tags/list?n={PAGE}", status, upstream, lied, dict(detail)))
