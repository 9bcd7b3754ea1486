"""The Flux release -> IAC table, the offline pairing, provenance and the flux2 module reader."""

from __future__ import annotations

import pytest

from pytest_fluxchaos.assets import provenance, releases, versions
from pytest_fluxchaos.assets.provenance import Controller, ControllerSet


def test_iac_table_covers_every_irc_row():
    assert set(versions.FLUX_TO_IAC) == set(versions.FLUX_TO_IRC)
    assert versions.FLUX_TO_IAC["2.3.0"] == "v0.38.0"
    assert versions.FLUX_TO_IAC["2.8.6"] == "v1.1.2"  # the only release shipping v1.1.2
    assert versions.FLUX_TO_IAC["2.8.8"] == "v1.1.4"
    assert versions.FLUX_TO_IAC["2.9.4"] == "v1.2.4"


def test_pinned_and_offline_iac(monkeypatch):
    monkeypatch.delenv("FLUXCHAOS_IAC_VERSION", raising=False)
    assert versions.pinned_iac("2.9.4", "v1.2.4") == "v1.2.4"
    assert versions.pinned_iac(None, "v1.2.3") == "v1.2.3"  # newest release pinning that IRC
    assert versions.pinned_iac(None, "v9.9.9") is None
    assert versions.offline_iac("v1.2.4") == "v1.1.2"  # not served here: the served one
    assert versions.offline_iac("v1.1.2") == "v1.1.2"
    monkeypatch.setenv("FLUXCHAOS_IAC_VERSION", "1.1.4")
    assert versions.offline_iac("v1.2.4") == "v1.1.4"


def _set(irc: str, iac: str, flux: str | None = "2.9.4", subs=()) -> ControllerSet:
    return ControllerSet(flux, (
        Controller(provenance.IRC, irc, f"fluxchaos/image-reflector-controller:{irc}", provenance.OFFLINE_BUILD,
                   versions.FLUX_TO_IRC.get(flux or ""), tuple(subs)),
        Controller(provenance.IAC, iac, f"fluxchaos/image-automation-controller:{iac}", provenance.OFFLINE_BUILD,
                   versions.FLUX_TO_IAC.get(flux or ""))))


def test_offline_pair_is_mixed():
    cs = _set("v1.2.4", "v1.1.2", subs=[{"module": "github.com/fluxcd/pkg/artifact", "wanted": "v0.18.2",
                                         "used": "v0.18.0"}])
    assert cs.mixed and cs.releases == []
    d = cs.as_dict()
    assert d["mixed_pair"] is True
    irc = d["controllers"][provenance.IRC]
    assert irc["pinned_by_flux"] == "v1.2.4" and irc["source"] == "offline-build"
    assert irc["substitutions"][0]["used"] == "v0.18.0"
    assert d["controllers"][provenance.IAC]["pinned_by_flux"] == "v1.2.4"
    line = provenance.controllers_line(d)
    assert line is not None and "MIXED" in line and "IRC v1.2.4 (offline-build, 1 module substitution(s))" in line


def test_real_release_pair_is_not_mixed():
    cs = _set("v1.1.1", "v1.1.2", flux="2.8.6")
    assert not cs.mixed and cs.releases == ["2.8.6"]
    assert "MIXED" not in cs.summary()


def test_irc_only_is_not_mixed_and_round_trips():
    only = ControllerSet("2.9.4", (Controller(provenance.IRC, "v1.2.4", "x", provenance.OFFICIAL_IMAGE),))
    assert not only.mixed
    back = provenance.from_dict(_set("v1.2.4", "v1.1.2").as_dict())
    assert back is not None and back.mixed and back.get(provenance.IAC).version == "v1.1.2"
    assert provenance.from_dict({}) is None and provenance.controllers_line(None) is None


def test_parse_bases_reads_release_asset_urls(tmp_path):
    for name, ver in (("image-reflector-controller", "v1.2.5"), ("image-automation-controller", "v1.2.5"),
                      ("source-controller", "v1.9.1")):
        d = tmp_path / name
        d.mkdir()
        (d / "kustomization.yaml").write_text(
            "resources:\n"
            f"- https://github.com/fluxcd/{name}/releases/download/{ver}/{name}.crds.yaml\n"
            f"- https://github.com/fluxcd/{name}/releases/download/{ver}/{name}.deployment.yaml\n"
            "- account.yaml\n")
    pins = releases.parse_bases(tmp_path)
    assert pins == {"image-reflector-controller": "v1.2.5", "image-automation-controller": "v1.2.5",
                    "source-controller": "v1.9.1"}


def test_learn_release_adds_a_row(monkeypatch):
    monkeypatch.setattr(versions, "FLUX_TO_IRC", dict(versions.FLUX_TO_IRC))
    monkeypatch.setattr(versions, "FLUX_TO_IAC", dict(versions.FLUX_TO_IAC))
    versions.learn_release("2.9.5", {"image-reflector-controller": "v1.2.5",
                                     "image-automation-controller": "v1.2.5"})
    assert versions.resolve_irc_version("2.9.5") == ("v1.2.5", "2.9.5")
    assert versions.pinned_iac("2.9.5", "v1.2.5") == "v1.2.5"


@pytest.mark.parametrize("flux", ["2.9.4", "v2.9.4", "v1.2.4", "2.9"])
def test_learn_skips_known_or_non_release_versions(flux):
    class NoBuilder:
        def __getattr__(self, name):  # any use would mean a module download
            raise AssertionError(name)
    releases.learn(NoBuilder(), flux)  # type: ignore[arg-type]
