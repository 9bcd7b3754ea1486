"""The registry liar, built by the asset step, as a host process in front of a real
``registry`` v3.1.2 (no Docker): every lie is seen through the liar while a direct
request shows the truth, and the liar's log records exactly the responses it lied in.
The plugin's own registry client does the pushes (direct) and the listings."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from pytest_fluxchaos.domain import LiarState, LieLog, RegistryLie, ServedLie
from pytest_fluxchaos.history import Fault, History
from pytest_fluxchaos.nemesis import Nemesis
from pytest_fluxchaos.registry import MANIFEST_ACCEPT, RegistryClient, image_for_tag
from pytest_fluxchaos.registry_liar import RegistryLiarClient
from pytest_fluxchaos.scenario import FaultAction
from pytest_fluxchaos.waiting import wait_until

from liar_stack import HostStack, binaries

pytestmark = pytest.mark.go
TAGS = ["1.0.0", "1.1.0", "1.2.0", "2.0.0", "2.1.0"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostStack]:
    t0 = time.monotonic()
    registry_bin, liar_bin = binaries()
    print(f"\n[measure] liar binary ready (asset step, cached or built) in {time.monotonic() - t0:.1f}s: {liar_bin}")
    s = HostStack(tmp_path_factory.mktemp("liar"), registry_bin, liar_bin)
    try:
        s.start_registry()
        s.start_liar()
        yield s
    finally:
        s.close()


@pytest.fixture
def liar(stack: HostStack) -> Iterator[RegistryLiarClient]:
    c = RegistryLiarClient(stack.admin_url)
    yield c
    for lie in c.state().lies:
        c.clear_lie(lie.id)
    c.close()


def clients(stack: HostStack, repo: str, tags: list[str], page: int | None = None) -> tuple[RegistryClient, ...]:
    direct = RegistryClient(stack.registry_url)
    for tag in tags:
        direct.push_tag(repo, tag)
    return direct, RegistryClient(stack.liar_url, page_size=page), RegistryClient(stack.liar_url, page_size=None)


def entries(liar: RegistryLiarClient, lie: RegistryLie) -> list[ServedLie]:
    return list(liar.log(lie.log_cursor, lie.id).entries)


def test_what_no_lie_acts_on_passes_through_untouched(stack: HostStack, liar: RegistryLiarClient) -> None:
    direct, via, _ = clients(stack, "pass/app", TAGS[:3], page=2)
    lie = liar.set_lie(RegistryLie("other", "error", "pass/other", {"status": 503}))
    assert via.list_tags("pass/app") == direct.list_tags("pass/app") == TAGS[:3]
    ping = requests.get(f"{stack.liar_url}/v2/", timeout=5)
    assert ping.status_code == 200 and ping.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
    for method in ("HEAD", "GET"):
        a, b = (requests.request(method, f"{url}/v2/pass/app/manifests/1.1.0", headers={"Accept": MANIFEST_ACCEPT},
                                 timeout=5) for url in (stack.registry_url, stack.liar_url))
        assert (b.status_code, b.headers["Docker-Content-Digest"], b.headers["Content-Length"], b.content) == \
            (a.status_code, a.headers["Docker-Content-Digest"], a.headers["Content-Length"], a.content)
    layer = image_for_tag("pass/app", "1.1.0")["layer"]
    _, manifest = via.get_manifest("pass/app", "1.1.0")
    assert via.get_blob("pass/app", manifest["layers"][0]["digest"]) == layer
    assert entries(liar, lie) == []  # nothing for pass/other was asked: nothing logged


def test_truncate_keep_cuts_the_listing_and_logs_each_lie(stack: HostStack, liar: RegistryLiarClient) -> None:
    direct, via, whole = clients(stack, "trunc/app", TAGS, page=3)
    lie = liar.set_lie(RegistryLie("t1", "truncate", "trunc/app", {"keep": 2}))
    assert via.list_tags("trunc/app") == whole.list_tags("trunc/app") == TAGS[:2]
    assert direct.list_tags("trunc/app") == TAGS
    print(f"[measure] truncate keep=2: via the liar {TAGS[:2]}, direct {TAGS}")
    log = entries(liar, lie)
    assert [(e.path, e.lied, e.detail["served_tags"], e.detail["upstream_tags"]) for e in log] == [
        ("/v2/trunc/app/tags/list?n=3", True, 2, 3), ("/v2/trunc/app/tags/list", True, 2, 5)]
    assert {e.user_agent for e in log} == {"pytest-fluxchaos"} and all(e.client.startswith("127.0.0.1:") for e in log)
    liar.clear_lie("t1")
    wide = liar.set_lie(RegistryLie("t2", "truncate", "trunc/app", {"keep": 10}))
    assert whole.list_tags("trunc/app") == TAGS
    assert [e.lied for e in entries(liar, wide)] == [False]  # acted on, but cut nothing


def test_drop_link_stops_a_paging_client_after_its_first_page(stack: HostStack, liar: RegistryLiarClient) -> None:
    direct, via, whole = clients(stack, "link/app", TAGS, page=2)
    lie = liar.set_lie(RegistryLie("l1", "truncate", "link/*", {"drop_link": True}))
    assert via.list_tags("link/app") == TAGS[:2]
    assert RegistryClient(stack.registry_url, page_size=2).list_tags("link/app") == TAGS
    assert whole.list_tags("link/app") == TAGS  # one unpaged answer: no link to drop
    log = entries(liar, lie)
    assert [(e.path, e.lied) for e in log] == [("/v2/link/app/tags/list?n=2", True),
                                               ("/v2/link/app/tags/list", False)]
    assert log[0].detail["dropped_link"] == '</v2/link/app/tags/list?last=1.1.0&n=2>; rel="next"'


def test_stale_serves_the_snapshot_while_pushes_land(stack: HostStack, liar: RegistryLiarClient) -> None:
    direct, via, whole = clients(stack, "stale/app", TAGS[:2], page=2)
    lie = liar.set_lie(RegistryLie("s1", "stale", "stale/*"))
    assert lie.snapshot == {"stale/app": 2}
    direct.push_tag("stale/app", "1.2.0")
    direct.push_tag("stale/new", "1.0.0")
    assert direct.list_tags("stale/app") == TAGS[:3] and direct.list_tags("stale/new") == ["1.0.0"]
    assert via.list_tags("stale/app") == whole.list_tags("stale/app") == TAGS[:2]
    gone = requests.get(f"{stack.liar_url}/v2/stale/new/tags/list", timeout=5)
    assert gone.status_code == 404 and gone.json()["errors"][0]["code"] == "NAME_UNKNOWN"
    log = entries(liar, lie)
    assert [(e.path, e.status, e.upstream_status, e.lied) for e in log] == [
        ("/v2/stale/app/tags/list?n=2", 200, 200, False),  # the first page is the same two tags, with a link
        ("/v2/stale/app/tags/list?last=1.1.0&n=2", 200, 200, True),  # the registry has 1.2.0 after them
        ("/v2/stale/app/tags/list", 200, 200, True),
        ("/v2/stale/new/tags/list", 404, 200, True)]
    liar.clear_lie("s1")
    assert whole.list_tags("stale/app") == TAGS[:3]


def test_error_answers_in_the_registrys_place(stack: HostStack, liar: RegistryLiarClient) -> None:
    clients(stack, "err/app", TAGS[:1])
    down = liar.set_lie(RegistryLie("e1", "error", "err/app", {}))
    busy = liar.set_lie(RegistryLie("e2", "error", "err/busy", {"status": 429, "retry_after_s": 3}))
    asked = [requests.get(f"{stack.liar_url}/v2/err/app/tags/list", timeout=5),
             requests.head(f"{stack.liar_url}/v2/err/app/manifests/1.0.0", timeout=5),
             requests.get(f"{stack.liar_url}/v2/err/busy/tags/list", timeout=5)]
    assert [r.status_code for r in asked] == [503, 503, 429]
    assert asked[0].json()["errors"][0]["code"] == "UNAVAILABLE" and asked[1].content == b""
    assert asked[2].headers["Retry-After"] == "3" and asked[2].json()["errors"][0]["code"] == "TOOMANYREQUESTS"
    assert requests.get(f"{stack.registry_url}/v2/err/app/tags/list", timeout=5).status_code == 200
    assert [(e.method, e.status, e.upstream_status, e.lied) for e in entries(liar, down)] == \
        [("GET", 503, 0, True), ("HEAD", 503, 0, True)]
    assert [(e.status, e.detail) for e in entries(liar, busy)] == [(429, {"status": 429, "retry_after_s": 3})]


def test_slow_holds_responses_and_a_clear_releases_them(stack: HostStack, liar: RegistryLiarClient) -> None:
    _, via, whole = clients(stack, "slow/app", TAGS[:2])
    lie = liar.set_lie(RegistryLie("w1", "slow", "slow/app", {"delay_ms": 400}))
    t0 = time.monotonic()
    assert whole.list_tags("slow/app") == TAGS[:2]
    held = time.monotonic() - t0
    t0 = time.monotonic()
    RegistryClient(stack.registry_url).list_tags("slow/app")
    print(f"[measure] slow 400ms: listing via the liar {held:.3f}s, direct {time.monotonic() - t0:.3f}s")
    assert held >= 0.4
    log = entries(liar, lie)
    assert len(log) == 1 and log[0].detail["outcome"] == "served" and log[0].detail["waited_ms"] >= 400
    liar.clear_lie("w1")
    long = liar.set_lie(RegistryLie("w2", "slow", "slow/app", {"delay_ms": 60000}))
    got: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: got.update(r=requests.get(f"{stack.liar_url}/v2/slow/app/tags/list",
                                                                       timeout=30)))
    thread.start()

    def holding() -> bool:
        lies = requests.get(f"{stack.admin_url}/lies", timeout=5).json()["lies"]
        return any(held["id"] == "w2" and held["acting"] == 1 for held in lies)

    wait_until(holding, 10, what="the liar to hold the request", interval=0.05)
    t0 = time.monotonic()
    liar.clear_lie("w2")  # returns once the held response went out
    thread.join(10)
    assert got["r"].status_code == 200 and time.monotonic() - t0 < 5
    [released] = entries(liar, long)
    assert released.detail["outcome"] == "cleared" and released.detail["waited_ms"] < 60000


class HostLiarEnv:
    """Just what the lie faults use of an Environment, on the host liar."""

    def __init__(self, stack: HostStack) -> None:
        self.stack = stack

    def _c(self) -> RegistryLiarClient:
        return RegistryLiarClient(self.stack.admin_url)

    def leader(self, namespace: str, controller: str = "reflector") -> str | None:
        return None

    def registry_liar(self) -> LiarState:
        return self._c().state()

    def set_registry_lie(self, lie: RegistryLie) -> RegistryLie:
        return self._c().set_lie(lie)

    def clear_registry_lie(self, lie_id: str) -> None:
        self._c().clear_lie(lie_id)

    def registry_lie_log(self, since: int = 0, lie: str | None = None) -> LieLog:
        return self._c().log(since, lie)


def test_the_fault_kinds_confirm_from_the_real_liars_log(stack: HostStack, tmp_path: Path) -> None:
    clients(stack, "ns7/app", TAGS[:3])
    history = History()
    nemesis = Nemesis(HostLiarEnv(stack), "ns7", history)  # type: ignore[arg-type]
    action = FaultAction(kind="registry-truncate", image="app", keep=1, duration=60)  # type: ignore[call-arg]
    nemesis.inject(action)
    controller = {"User-Agent": "image-reflector-controller/test"}
    requests.get(f"{stack.liar_url}/v2/ns7/app/tags/list", headers=controller, timeout=5)
    nemesis.heal_all()
    nemesis.inject(action)  # the controller never asks this time
    nemesis.heal_all()
    nemesis.inject(FaultAction(kind="registry-stale", duration=60))
    stack.stop("liar")  # the liar restarts mid-fault: its lies and log are gone
    stack.start_liar(stack.liar_url.removeprefix("http://"), stack.admin_url.removeprefix("http://"))
    nemesis.heal_all()
    confirms = [e for e in history.of(Fault) if e.phase == "confirm"]
    print(f"[measure] confirmations from the real liar: {[(c.f, c.outcome, c.detail.get('why')) for c in confirms]}")
    assert [c.outcome for c in confirms] == ["ok", "unconfirmed", "failed"]
    assert (confirms[0].detail["lies_served"], list(confirms[0].detail["clients"])[0].split(" @ ")[0]) == \
        (1, "image-reflector-controller/test")
    assert confirms[0].detail["served"][0]["served_tags"] == 1
    assert "never asked" in confirms[1].detail["why"] and "restarted during the fault" in confirms[2].detail["why"]
    assert [e.outcome for e in history.of(Fault) if e.phase == "heal"] == ["ok", "ok", "ok"]


def test_a_registry_outage_looks_as_it_did_without_the_liar(stack: HostStack) -> None:
    """The liar cannot reach the registry: it closes the client's connection without an
    answer, as Toxiproxy alone did, rather than making up a 502."""
    port = int(stack.registry_url.rsplit(":", 1)[1])
    stack.stop("registry")
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{stack.liar_url}/v2/pass/app/tags/list", timeout=5)
    stack.start_registry(port)
    assert RegistryClient(stack.liar_url).list_tags("pass/app") == TAGS[:3]
