"""Substituting a dependency version that the Go module proxy refuses."""

import stat

import pytest

from pytest_fluxchaos.assets import AssetError, tools
from pytest_fluxchaos.assets.build import Builder

TIDY_403 = """go: fluxchaos.local/build/image-reflector-controller imports
\tgithub.com/fluxcd/image-reflector-controller imports
\tgithub.com/fluxcd/pkg/artifact/storage: github.com/fluxcd/pkg/artifact@v0.18.2: reading https://proxy.golang.org/github.com/fluxcd/pkg/artifact/@v/v0.18.2.zip: 403 Forbidden
\tserver response: This module version is not available."""


def test_refused_module_parsing():
    assert tools.refused_module(TIDY_403) == ("github.com/fluxcd/pkg/artifact", "v0.18.2")
    sumdb = ("github.com/x/y@v1.2.0: verifying go.mod: github.com/x/y@v1.2.0/go.mod: reading "
             "https://proxy.golang.org/sumdb/sum.golang.org/lookup/github.com/x/y@v1.2.0: 404 Not Found")
    assert tools.refused_module(sumdb) == ("github.com/x/y", "v1.2.0")
    assert tools.refused_module("dial tcp: lookup proxy.golang.org: no such host") is None


@pytest.mark.parametrize(
    "wanted, served, pick",
    [
        ("v0.18.2", ["v0.3.0", "v0.5.0", "v0.8.0", "v0.18.0"], "v0.18.0"),  # highest older
        ("v0.18.2", ["v0.18.0", "v0.18.3", "v0.19.0"], "v0.18.3"),  # lowest newer first
        # the proxy on 2026-12-02: a patch of the same minor before a minor jump (v0.29.0 needs Go 1.27)
        ("v0.18.2", ["v0.3.0", "v0.5.0", "v0.8.0", "v0.18.0", "v0.29.0"], "v0.18.0"),
        ("v0.18.2", ["v0.17.0", "v0.20.0"], "v0.20.0"),  # no patch: the lowest newer
        ("v1.2.0", ["v1.2.1-rc.1", "v1.1.0"], "v1.1.0"),  # releases before pre-releases
        ("v1.2.0", ["v1.2.1-rc.1"], "v1.2.1-rc.1"),
        ("v1.2.0", [], None),
        ("v1.2.0", ["v1.2.0"], None),
    ],
)
def test_nearest_version(wanted, served, pick):
    assert tools.nearest_version(wanted, served) == pick


def test_substitutes_order():
    assert tools.substitutes("v0.18.2", ["v0.3.0", "v0.18.0", "v0.29.0", "v0.19.1", "v0.18.5"]) == \
        ["v0.18.5", "v0.18.0", "v0.19.1", "v0.29.0", "v0.3.0"]
    assert tools.needs_newer_go("go: github.com/fluxcd/pkg/artifact@v0.29.0 requires go >= 1.27.0 "
                                "(running go 1.26.8; GOTOOLCHAIN=local)") == ("github.com/fluxcd/pkg/artifact", "v0.29.0")
    assert tools.needs_newer_go(TIDY_403) is None


FAKE_GO = r"""#!/bin/sh
case "$1 $2" in
  "env GOVERSION") echo go1.26.8 ;;
  "list -m") echo "github.com/fluxcd/pkg/artifact v0.3.0 v0.18.0" ;;
  "mod edit") echo "replace ${3#-replace=}" | sed 's/=/ => /; s/@v/ v/' >> go.mod ;;
  "mod tidy")
     if grep -q "github.com/fluxcd/pkg/artifact => github.com/fluxcd/pkg/artifact v0.18.0" go.mod; then exit 0; fi
     cat "$FAKE_TIDY_OUTPUT" >&2; exit 1 ;;
  *) exit 1 ;;
esac
"""


def _fake_go_workdir(tmp_path, monkeypatch, script: str):
    """A fake ``go`` on PATH (``script``), a Builder recording its progress lines, a work dir."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    go = bindir / "go"
    go.write_text(script)
    go.chmod(go.stat().st_mode | stat.S_IXUSR)
    out = tmp_path / "tidy.out"
    out.write_text(TIDY_403 + "\n")
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
    monkeypatch.setenv("FAKE_TIDY_OUTPUT", str(out))
    monkeypatch.delenv("FLUXCHAOS_NO_SUBSTITUTE", raising=False)
    lines: list[str] = []
    b = Builder(tmp_path / "cache", progress=lines.append)
    w = tmp_path / "w"
    w.mkdir()
    (w / "go.mod").write_text("module fluxchaos.local/x\n\ngo 1.26.0\n")
    return b, w, lines


def test_tidy_substitutes_and_records(tmp_path, monkeypatch):
    b, w, lines = _fake_go_workdir(tmp_path, monkeypatch, FAKE_GO)
    subs = b.tidy(w, "building x", tmp_path / "x.log", dict(__import__("os").environ))
    assert subs == [{"module": "github.com/fluxcd/pkg/artifact", "wanted": "v0.18.2", "used": "v0.18.0"}]
    assert "github.com/fluxcd/pkg/artifact => github.com/fluxcd/pkg/artifact v0.18.0" in (w / "go.mod").read_text()
    assert any("substituting v0.18.0" in line for line in lines)

    # ... and with substitution disabled the refusal is a one-line AssetError
    monkeypatch.setenv("FLUXCHAOS_NO_SUBSTITUTE", "1")
    (w / "go.mod").write_text("module fluxchaos.local/x\n\ngo 1.26.0\n")
    with pytest.raises(AssetError) as ei:
        b.tidy(w, "building x", tmp_path / "x.log", dict(__import__("os").environ))
    assert "does not serve" in str(ei.value) and "\n" not in str(ei.value)


FAKE_GO_NEWER = r"""#!/bin/sh
case "$1 $2" in
  "env GOVERSION") echo go1.26.8 ;;
  "list -m") echo "github.com/fluxcd/pkg/artifact v0.18.3 v0.18.0" ;;
  "mod edit") echo "replace ${3#-replace=}" | sed 's/=/ => /; s/@v/ v/' >> go.mod ;;
  "mod tidy")
     if tail -n 1 go.mod | grep -q "artifact v0.18.0"; then exit 0; fi
     if tail -n 1 go.mod | grep -q "artifact v0.18.3"; then
       echo "go: github.com/fluxcd/pkg/artifact@v0.18.3 requires go >= 1.27.0 (running go 1.26.8; GOTOOLCHAIN=local)" >&2; exit 1
     fi
     cat "$FAKE_TIDY_OUTPUT" >&2; exit 1 ;;
  *) exit 1 ;;
esac
"""


def test_tidy_takes_the_next_substitute_when_one_needs_a_newer_go(tmp_path, monkeypatch):
    b, w, lines = _fake_go_workdir(tmp_path, monkeypatch, FAKE_GO_NEWER)
    subs = b.tidy(w, "building x", tmp_path / "x.log", dict(__import__("os").environ))
    assert subs == [{"module": "github.com/fluxcd/pkg/artifact", "wanted": "v0.18.2", "used": "v0.18.0"}]
    assert any("needs a newer Go; substituting v0.18.0" in line for line in lines)
