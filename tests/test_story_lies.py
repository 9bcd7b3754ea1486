"""A registry lie's confirmation reads as what was served instead of what."""

from pytest_fluxchaos.checkers.story import lie_text

SERVED = {"user_agent": "go-containerregistry/v0.21.6", "client": "127.0.0.1:1", "method": "GET",
          "path": "/v2/ns/app/tags/list?n=1000", "status": 200}


def test_truncation_names_what_was_cut() -> None:
    detail = {"lies_served": 1, "served": [{**SERVED, "served_tags": 2, "upstream_tags": 3}]}
    assert lie_text(detail) == "served 1 lie(s) to go-containerregistry: tags/list 200, 2 of 3 tags"


def test_dropped_link_is_named() -> None:
    detail = {"lies_served": 2, "served": [{**SERVED, "dropped_link": '</v2/ns/app/tags/list?last=9&n=1000>; rel="next"'}]}
    assert lie_text(detail) == "served 2 lie(s) to go-containerregistry: tags/list 200, Link to the next page dropped"


def test_not_a_lie_confirmation() -> None:
    assert lie_text({"pid": 7}) is None
    assert lie_text({"lies_served": 0, "served": []}) is None


def test_slow_and_throttled_say_how() -> None:
    slow = {"lies_served": 1, "served": [{**SERVED, "delay_ms": 3000, "waited_ms": 3004}]}
    assert lie_text(slow) == "served 1 lie(s) to go-containerregistry: tags/list 200 after 3.0s"
    throttled = {"lies_served": 4, "served": [{**SERVED, "status": 429, "retry_after_s": 5}]}
    assert lie_text(throttled) == "served 4 lie(s) to go-containerregistry: tags/list 429, Retry-After 5s"


def test_the_fault_line_of_a_story_says_what_the_lie_served() -> None:
    from pytest_fluxchaos.checkers import CheckContext, PolicyUnderTest
    from pytest_fluxchaos.checkers.story import StoryTeller
    from pytest_fluxchaos.history import Fault, History

    detail = {"lie": "l1", "lies_served": 1, "served": [{**SERVED, "served_tags": 2, "upstream_tags": 3}]}
    inject = Fault(t=1.0, wall="2026-01-01T00:00:01.000+00:00", fault_id="short", f="registry-truncate",
                   phase="inject", target="registry", resolved="registry")
    confirm = Fault(t=2.0, wall="2026-01-01T00:00:02.000+00:00", fault_id="short", f="registry-truncate",
                    phase="confirm", target="registry", outcome="ok", detail=detail)
    ctx = CheckContext(policies=(PolicyUnderTest("ns/app", "app", {"semver": {"range": ">=1.0.0"}}),))
    line = StoryTeller(History.from_events([inject, confirm]), ctx).text(inject, None)
    assert line == ("fault short registry-truncate registry injected; confirmed t=2.0s "
                    "(served 1 lie(s) to go-containerregistry: tags/list 200, 2 of 3 tags)")
