"""A registry lie's confirmation reads as what was served instead of what."""

from pytest_fluxchaos.checkers.story import lie_text

SERVED = {"user_agent": "go-containerregistry/v0.21.6", "client": "127.0.0.1:1", "method": "GET",
          "path": "/v2/ns/app/tags/list?n=1000", "status": 200}


def test_truncation_names_what_was_cut() -> None:
    detail = {"lies_served": 1, "served": [{**SERVED, "served_tags": 2, "upstream_tags": 3}]}
    assert lie_text(detail) == "served 1 lie(s) to go-containerregistry: tags/list 200, 2 of 3 tags"


def test_dropped_link_is_named() -> None:
    detail = {"lies_served": 2, "served": [{**SERVED, "upstream_link": True, "served_link": False}]}
    assert lie_text(detail) == "served 2 lie(s) to go-containerregistry: tags/list 200, Link header dropped"


def test_not_a_lie_confirmation() -> None:
    assert lie_text({"pid": 7}) is None
    assert lie_text({"lies_served": 0, "served": []}) is None
