"""Which library behaviour each IRC release has, keyed by IRC version.

IRC's policy code (internal/policy) is unchanged from v0.32.0 to v1.2.4; what
moves is the Masterminds/semver and fluxcd/pkg/version it is linked with, and
whether the scan sorts tags before storing them.  Pins were read from IRC's
go.mod at each tag (v1.2.4 from the Go module proxy).

| IRC            | Masterminds | pkg/version | prerelease rule | tag parse           | DB order  |
|----------------|-------------|-------------|-----------------|---------------------|-----------|
| v0.32.x        | v3.2.1      | v0.4.0      | per constraint  | strict + NewVersion | registry  |
| v0.33.x        | v3.3.0      | v0.4.1      | per constraint  | strict + NewVersion | registry  |
| v0.34.x        | v3.3.1      | v0.6.0      | per constraint  | strict + NewVersion | registry  |
| v0.35.x        | v3.3.0      | v0.7.0      | per constraint  | strict + NewVersion | registry  |
| v1.0.x-v1.1.x  | v3.4.0      | v0.10-v0.12 | per AND group   | 3 parts + coerce    | desc sort |
| v1.2.x         | v3.5.0      | v0.16.0     | per AND group   | 3 parts + coerce    | desc sort |

v3.2.1 and v3.3.0 behave identically for everything the policy uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# How Masterminds NewVersion accepts a string:
#   loose  - v3.2.1/v3.3.0: loose regex, leading zeros allowed
#   strict - v3.3.1: strict regex, no leading zeros anywhere numeric
#   coerce - v3.4.0+: loose regex (CoerceNewVersion=true), empty ids rejected
NewVersionMode = Literal["loose", "strict", "coerce"]
# How fluxcd/pkg/version.ParseVersion accepts a tag:
#   strict_then_new - <= v0.7.0: StrictNewVersion(TrimPrefix(v,"v")) and NewVersion(v)
#   split3          - >= v0.10.0: SplitN(v, ".", 3) has 3 parts, then NewVersion(v)
ParseVersionMode = Literal["strict_then_new", "split3"]
PrereleaseRule = Literal["per_constraint", "and_group"]
DbOrder = Literal["registry", "desc"]


@dataclass(frozen=True)
class Semantics:
    """Behaviour switches for one IRC release line."""

    label: str
    masterminds: str
    pkg_version: str
    new_version: NewVersionMode
    parse_version: ParseVersionMode
    prerelease_rule: PrereleaseRule
    # "improper constraint: %q" (v3.5.0) or "%s" (older)
    quote_constraint_errors: bool
    # errors.New text for an unparsable constraint version
    parser_error_text: str
    # v3.5.0 input limits (None = unlimited)
    max_version_len: int | None
    max_constraint_len: int | None
    max_constraint_groups: int | None
    # order of the tag list the policy reads from the DB (see scan_order)
    db_order: DbOrder


def _v0(label: str, masterminds: str, pkg_version: str, new_version: NewVersionMode) -> Semantics:
    """A v0.x row: per-constraint prerelease rule, strict tag parsing."""
    return Semantics(
        label,
        masterminds,
        pkg_version,
        new_version=new_version,
        parse_version="strict_then_new",
        prerelease_rule="per_constraint",
        quote_constraint_errors=False,
        parser_error_text="constraint Parser Error",
        max_version_len=None,
        max_constraint_len=None,
        max_constraint_groups=None,
        db_order="registry",
    )


V0_32 = _v0("v0.32.x", "3.2.1", "0.4.0", "loose")
V0_33 = _v0("v0.33.x", "3.3.0", "0.4.1", "loose")
V0_34 = _v0("v0.34.x", "3.3.1", "0.6.0", "strict")
V0_35 = _v0("v0.35.x", "3.3.0", "0.7.0", "loose")
V1_0 = Semantics(
    "v1.0.x-v1.1.x",
    "3.4.0",
    "0.10.0-0.12.0",
    new_version="coerce",
    parse_version="split3",
    prerelease_rule="and_group",
    quote_constraint_errors=False,
    parser_error_text="constraint parser error",
    max_version_len=None,
    max_constraint_len=None,
    max_constraint_groups=None,
    db_order="desc",
)
V1_2 = Semantics(
    "v1.2.x",
    "3.5.0",
    "0.16.0",
    new_version="coerce",
    parse_version="split3",
    prerelease_rule="and_group",
    quote_constraint_errors=True,
    parser_error_text="constraint parser error",
    max_version_len=256,
    max_constraint_len=512,
    max_constraint_groups=32,
    db_order="desc",
)

# (first version inclusive, last minor inclusive) -> semantics
_TABLE: tuple[tuple[tuple[int, int], tuple[int, int], Semantics], ...] = (
    ((0, 32), (0, 32), V0_32),
    ((0, 33), (0, 33), V0_33),
    ((0, 34), (0, 34), V0_34),
    ((0, 35), (0, 35), V0_35),
    ((1, 0), (1, 1), V1_0),
    ((1, 2), (1, 2), V1_2),
)

DEFAULT_IRC_VERSION = "1.2.4"


def parse_irc_version(irc_version: str) -> tuple[int, int, int]:
    """Parse "1.2.4" or "v1.2.4" into a tuple; ValueError if malformed."""
    text = irc_version[1:] if irc_version.startswith("v") else irc_version
    parts = text.split(".")
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() for p in parts):
        raise ValueError(f"irc_version must look like 'v1.2.4', got {irc_version!r}")
    return int(parts[0]), int(parts[1]), int(parts[2])


def semantics_for(irc_version: str = DEFAULT_IRC_VERSION) -> Semantics:
    """Return the Semantics row for an IRC version.

    Raises NotImplementedError for releases outside v0.32.0-v1.2.x: their
    pins were not checked (older ones predate Flux 2.3; newer ones do not
    exist in the sources read).
    """
    major, minor, _patch = parse_irc_version(irc_version)
    for lo, hi, sem in _TABLE:
        if lo <= (major, minor) <= hi:
            return sem
    raise NotImplementedError(
        f"IRC {irc_version}: policy semantics are only modelled for "
        "v0.32.0 through v1.2.x"
    )
