"""The registry lies' confirmation, pure: landed only when the liar's own log shows a
response that differed from the registry's, served during the window; never assumed."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pytest_fluxchaos import faults
from pytest_fluxchaos.domain import ServedLie
from pytest_fluxchaos.faults import FaultContext
from pytest_fluxchaos.faults.registry_lies import LieAfter, LieEvidence, lie_id, repositories
from pytest_fluxchaos.scenario import FaultAction

KINDS = {"registry-truncate": ("truncate", {"keep": 2}), "registry-stale": ("stale", {}),
         "registry-error": ("error", {"status": 503}), "registry-slow": ("slow", {"delay_ms": 1500})}
UA = "flux-image-reflector-controller/v1.2.4"


def evidence(kind: str) -> LieEvidence:
    lie_kind, params = KINDS[kind]
    return LieEvidence(f"fluxchaos-ns-{lie_kind}-app", lie_kind, "ns/app", params, "boot1", 7,
                       {"ns/app": 3} if lie_kind == "stale" else {})


def served(ev: LieEvidence, seq: int, lied: bool, **detail: object) -> ServedLie:
    status = 503 if ev.kind == "error" else 200
    return ServedLie(seq, ev.lie, ev.kind, 1796167296.5 + seq, "127.0.0.1:40000", UA, "GET",
                     "/v2/ns/app/tags/list?n=1000", status, 0 if ev.kind == "error" else 200, lied, dict(detail))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_lie_served_to_the_controller_is_confirmed(kind: str) -> None:
    ev = evidence(kind)
    after = LieAfter("boot1", (served(ev, 8, False, passed="x"), served(ev, 9, True, served_tags=2),
                               served(ev, 10, True, served_tags=2)))
    verdict = faults.get(kind).confirm(None, after, ev)
    assert verdict.outcome == "ok", verdict
    facts = verdict.facts
    assert (facts["asked"], facts["lies_served"]) == (3, 2)
    assert facts["clients"] == {f"{UA} @ 127.0.0.1:40000": 2}
    assert facts["paths"] == ["/v2/ns/app/tags/list?n=1000"]
    assert facts["first_at"].startswith("2026-12-01T") and facts["first_at"] < facts["last_at"]
    assert [s["status"] for s in facts["served"]] == [503 if kind == "registry-error" else 200] * 2


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_controller_that_never_asked_leaves_it_unconfirmed(kind: str) -> None:
    ev = evidence(kind)
    verdict = faults.get(kind).confirm(None, LieAfter("boot1", ()), ev)
    assert verdict.outcome == "unconfirmed"
    assert "the controllers never asked" in (verdict.why or "")
    assert verdict.facts["asked"] == 0


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_answers_equal_to_the_registrys_leave_it_unconfirmed(kind: str) -> None:
    ev = evidence(kind)
    after = LieAfter("boot1", (served(ev, 8, False), served(ev, 9, False, passed="the registry answered HTTP 404")))
    verdict = faults.get(kind).confirm(None, after, ev)
    assert verdict.outcome == "unconfirmed"
    assert "asked 2 times, but every answer equalled the registry's" in (verdict.why or "")
    assert "the registry answered HTTP 404: 1" in (verdict.why or "")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_liar_that_restarted_or_told_another_lie_failed(kind: str) -> None:
    ev = evidence(kind)
    restarted = faults.get(kind).confirm(None, LieAfter("boot2", ()), ev)
    assert restarted.outcome == "failed" and "restarted during the fault (boot boot1 -> boot2)" in (restarted.why or "")
    other = ServedLie(9, ev.lie, "slow" if ev.kind != "slow" else "error", 1.0, "c", UA, "GET", "/v2/", 200, 200,
                      True)
    wrong = faults.get(kind).confirm(None, LieAfter("boot1", (other,)), ev)
    assert wrong.outcome == "failed" and f"not {ev.kind}" in (wrong.why or "")


def test_an_unreadable_log_and_entries_before_the_cursor_do_not_confirm() -> None:
    ev = evidence("registry-truncate")
    unreadable = faults.get("registry-truncate").confirm(None, LieAfter("", (), error="connection refused"), ev)
    assert unreadable.outcome == "unconfirmed" and "connection refused" in (unreadable.why or "")
    old = faults.get("registry-truncate").confirm(None, LieAfter("boot1", (served(ev, 7, True),)), ev)
    assert old.outcome == "unconfirmed"  # seq 7 is the cursor: served before this lie was set


def test_suite_params_become_the_liars() -> None:
    def lie(**fields: object) -> dict[str, object]:
        action = FaultAction(duration=5, **fields)  # type: ignore[arg-type]
        kind = faults.get(action.kind)
        return kind.lie_params(action.params)  # type: ignore[attr-defined]

    assert lie(kind="registry-truncate", keep=3) == {"keep": 3}
    assert lie(kind="registry-truncate", **{"drop-link": True}) == {"drop_link": True}
    assert lie(kind="registry-error") == {"status": 503}
    assert lie(kind="registry-error", status=429, **{"retry-after": "1500ms"}) == {"status": 429, "retry_after_s": 2}
    assert lie(kind="registry-slow", delay="250ms") == {"delay_ms": 250}
    assert lie(kind="registry-stale") == {}
    assert FaultAction(kind="registry-stale", duration=5).target == "registry"


@pytest.mark.parametrize("fields, message", [
    ({"kind": "registry-truncate"}, "exactly one of keep: N or drop-link: true"),
    ({"kind": "registry-truncate", "keep": 2, "drop-link": True}, "exactly one of keep"),
    ({"kind": "registry-truncate", "keep": -1}, "greater than or equal to 0"),
    ({"kind": "registry-error", "status": 404}, "status must be 429 or 5xx, not 404"),
    ({"kind": "registry-slow", "delay": 0}, "greater than 0"),
    ({"kind": "registry-stale", "keep": 1}, "Extra inputs are not permitted"),
])
def test_bad_params_are_refused_at_load(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        FaultAction(duration=5, **fields)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="needs a duration"):
        FaultAction(kind=str(fields["kind"]))


def test_patterns_and_ids() -> None:
    assert repositories("ns", "*") == "ns/*" and repositories("ns", "app") == "ns/app"
    ctx = FaultContext(None, "ns", None, None, "registry", injection=3)  # type: ignore[arg-type]
    assert lie_id(ctx, "stale", "*") == "fluxchaos-ns-3-stale-all"
    assert lie_id(ctx, "stale", "team/app") == "fluxchaos-ns-3-stale-team_app"
