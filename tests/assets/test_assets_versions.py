"""Flux release -> image-reflector-controller version resolution."""

import pytest

from pytest_fluxchaos.assets import FLUX_TO_IRC, AssetError, resolve_irc_version


@pytest.mark.parametrize(
    "given, expected",
    [
        ("2.9.4", ("v1.2.4", "2.9.4")),
        ("v2.9.4", ("v1.2.4", "2.9.4")),
        ("2.9.0", ("v1.2.1", "2.9.0")),
        ("2.3.0", ("v0.32.0", "2.3.0")),
        ("2.3", ("v0.32.0", "2.3.0")),  # a Flux minor -> its newest known patch
        ("2.7.0", ("v1.0.1", "2.7.0")),
        ("2.7", ("v1.0.4", "2.7.5")),
        ("2.8.8", ("v1.1.2", "2.8.8")),
        ("2.8", ("v1.1.2", "2.8.8")),
        ("2.9", ("v1.2.4", "2.9.4")),
        # IRC versions directly
        ("v1.2.4", ("v1.2.4", "2.9.4")),
        ("1.2.4", ("v1.2.4", "2.9.4")),
        ("v0.32.0", ("v0.32.0", "2.3.0")),
        ("v1.2.3", ("v1.2.3", "2.9.3")),  # pinned by 2.9.2 and 2.9.3 -> newest
        ("v1.3.0", ("v1.3.0", None)),  # unknown to the table: still accepted
        (" 2.9.4 ", ("v1.2.4", "2.9.4")),
    ],
)
def test_resolve(given, expected):
    assert resolve_irc_version(given) == expected


def test_table_covers_required_lines():
    assert FLUX_TO_IRC["2.3.0"] == "v0.32.0"
    assert all(FLUX_TO_IRC[f].startswith("v1.0.") for f in FLUX_TO_IRC if f.startswith("2.7."))
    assert all(FLUX_TO_IRC[f].startswith("v1.1.") for f in FLUX_TO_IRC if f.startswith("2.8."))
    assert FLUX_TO_IRC["2.9.0"] == "v1.2.1"
    assert FLUX_TO_IRC["2.9.4"] == "v1.2.4"


@pytest.mark.parametrize("bad", ["", "latest", "2.99.0", "2.1", "3.0.0", "v1.2.4-rc.1x", "1"])
def test_resolve_errors_are_one_line(bad):
    with pytest.raises(AssetError) as ei:
        resolve_irc_version(bad)
    msg = str(ei.value)
    assert "\n" not in msg and msg
