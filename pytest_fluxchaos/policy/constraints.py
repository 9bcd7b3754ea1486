"""Masterminds/semver ``Constraints``: range grammar and Check.

Hand-written port (no Python library implements this grammar).  Parsing is
regex-driven in the library, so the same grammar is expressed here with
RE2 (google-re2), which shares Go's leftmost-first semantics and ASCII
``\\s``; Python's ``re`` would differ on Unicode whitespace.

Grammar quirks kept on purpose:

* version digits may be ``[0-9xX*|]`` (the library's character class
  includes ``|``); e.g. ``1|2`` passes the grammar and fails later with the
  "constraint parser error" text;
* hyphen ranges need whitespace around ``-`` and are rewritten textually to
  ``>= a, <= b`` before the ``||`` split;
* a partial version (``1``, ``1.x``, ``1.2.*``) is "dirty": missing or
  wildcard parts become 0 and change how each operator compares; a dirty
  constraint drops its build metadata and ``v`` prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable

import re2

from .errors import PolicyError
from .gostrings import go_quote
from .semantics import Semantics
from .version import Version, VersionError, compare_prerelease, new_version

_OPTS = re2.Options()
_OPTS.log_errors = False

_WS = r"[\t\n\f\r ]"  # Go/RE2 \s
_NUM = r"[0-9xX*|]+"
_IDS = r"[0-9A-Za-z\-]+(?:\.[0-9A-Za-z\-]+)*"
# one version-like operand, no capture groups
_CV = rf"v?{_NUM}(?:\.{_NUM})?(?:\.{_NUM})?(?:-{_IDS})?(?:\+{_IDS})?"
# the same with the groups parseConstraint reads
_CV_GROUPS = (
    rf"(?P<cv>v?(?P<major>{_NUM})(?P<minor>\.{_NUM})?(?P<patch>\.{_NUM})?"
    rf"(?P<pre>-{_IDS})?(?:\+{_IDS})?)"
)
# operator alternatives in the library's order (leftmost-first matters)
_OPS = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^"

_RANGE_RE = re2.compile(rf"{_WS}*(?P<a>{_CV}){_WS}+-{_WS}+(?P<b>{_CV}){_WS}*", _OPTS)
_FIND_RE = re2.compile(rf"(?:{_OPS}){_WS}*{_CV}", _OPTS)
_VALID_RE = re2.compile(
    rf"^{_WS}*(?:{_OPS}){_WS}*{_CV}{_WS}*(?:(?:{_WS}+|,{_WS}*)(?:{_OPS}){_WS}*{_CV}{_WS}*)*$", _OPTS
)
_ONE_RE = re2.compile(rf"^{_WS}*(?P<op>{_OPS}){_WS}*{_CV_GROUPS}{_WS}*$", _OPTS)


def _is_x(s: str) -> bool:
    return s in ("x", "X", "*")


@dataclass(frozen=True)
class Constraint:
    """One ``<op><version>`` term of an AND group."""

    op: str
    orig: str
    con: Version
    dirty: bool = False
    minor_dirty: bool = False
    patch_dirty: bool = False

    def check(self, v: Version, include_pre: bool, sem: Semantics) -> bool:
        return _OPS_TABLE[self.op](v, self, include_pre, sem)


def rewrite_range(c: str) -> str:
    """Rewrite ``a - b`` to ``>= a, <= b `` (first textual occurrence each)."""
    out = c
    for m in _RANGE_RE.finditer(c):
        out = out.replace(m.group(0), f">= {m.group('a')}, <= {m.group('b')} ", 1)
    return out


def _improper(piece: str, sem: Semantics) -> PolicyError:
    shown = go_quote(piece) if sem.quote_constraint_errors else piece
    return PolicyError(f"improper constraint: {shown}")


def parse_constraint(c: str, sem: Semantics) -> Constraint:
    """Masterminds ``parseConstraint`` for one term ("" means ``*``)."""
    if c == "":
        return Constraint("", "", Version(0, 0, 0, original="0.0.0"), dirty=True)
    m = _ONE_RE.search(c)
    if m is None:
        raise _improper(c, sem)
    major, minor, patch = m.group("major"), m.group("minor") or "", m.group("patch") or ""
    pre = m.group("pre") or ""
    dirty = minor_dirty = patch_dirty = False
    ver = m.group("cv")
    if _is_x(major):
        ver, dirty = f"0.0.0{pre}", True
    elif minor == "" or _is_x(minor[1:]):
        ver, dirty, minor_dirty = f"{major}.0.0{pre}", True, True
    elif patch == "" or _is_x(patch[1:]):
        ver, dirty, patch_dirty = f"{major}{minor}.0{pre}", True, True
    try:
        con = new_version(ver, sem)
    except VersionError:
        raise PolicyError(sem.parser_error_text) from None
    return Constraint(m.group("op"), m.group("cv"), con, dirty, minor_dirty, patch_dirty)


@dataclass(frozen=True)
class Constraints:
    """OR of AND groups, as ``semver.NewConstraint`` builds it."""

    groups: tuple[tuple[Constraint, ...], ...]
    sem: Semantics

    def check(self, v: Version) -> bool:
        """``Constraints.Check`` with IncludePrerelease=false (as IRC uses it)."""
        for group in self.groups:
            group_pre = any(c.con.pre for c in group)
            if all(c.check(v, self._include_pre(c, group_pre), self.sem) for c in group):
                return True
        return False

    def _include_pre(self, c: Constraint, group_pre: bool) -> bool:
        # Masterminds >= 3.4.0: one prerelease anywhere in the AND group
        # admits prereleases for the whole group; older: per constraint.
        if self.sem.prerelease_rule == "and_group":
            return group_pre
        return c.con.pre != ""


def new_constraint(c: str, sem: Semantics) -> Constraints:
    """``semver.NewConstraint``; raises PolicyError with the library's text."""
    if sem.max_constraint_len is not None and len(c.encode()) > sem.max_constraint_len:
        raise PolicyError(f"constraint string is too long (max {sem.max_constraint_len} bytes)")
    ors = rewrite_range(c).split("||")
    if sem.max_constraint_groups is not None and len(ors) > sem.max_constraint_groups:
        raise PolicyError(f"too many constraint groups (max {sem.max_constraint_groups})")
    groups = []
    for segment in ors:
        if _VALID_RE.search(segment) is None:
            raise _improper(segment, sem)
        pieces = [m.group(0) for m in _FIND_RE.finditer(segment)] or [segment]
        groups.append(tuple(parse_constraint(p, sem) for p in pieces))
    return Constraints(tuple(groups), sem)


# ---- operator semantics (constraints.go constraint* functions) ----


def _pre_blocked(v: Version, include_pre: bool) -> bool:
    return v.pre != "" and not include_pre


def _not_equal(v: Version, c: Constraint, inc: bool, sem: Semantics) -> bool:
    # Before 3.4.0 only the dirty branch refused prereleases.
    if (sem.prerelease_rule == "and_group" or c.dirty) and _pre_blocked(v, inc):
        return False
    if c.dirty:
        if c.con.major != v.major:
            return True
        if c.con.minor != v.minor and not c.minor_dirty:
            return True
        if c.minor_dirty:
            return False
        if c.con.patch != v.patch and not c.patch_dirty:
            return True
        if c.patch_dirty:
            if v.pre or c.con.pre:
                return compare_prerelease(v.pre, c.con.pre) != 0
            return False
    return v.compare(c.con) != 0


def _greater_than(v: Version, c: Constraint, inc: bool, sem: Semantics) -> bool:
    if _pre_blocked(v, inc):
        return False
    if not c.dirty:
        return v.compare(c.con) == 1
    if v.major > c.con.major:
        return True
    if v.major < c.con.major or c.minor_dirty:
        return False
    if c.patch_dirty:
        return v.minor > c.con.minor
    return v.compare(c.con) == 1


def _less_than(v: Version, c: Constraint, inc: bool, sem: Semantics) -> bool:
    return not _pre_blocked(v, inc) and v.compare(c.con) < 0


def _greater_equal(v: Version, c: Constraint, inc: bool, sem: Semantics) -> bool:
    return not _pre_blocked(v, inc) and v.compare(c.con) >= 0


def _less_equal(v: Version, c: Constraint, inc: bool, sem: Semantics) -> bool:
    if _pre_blocked(v, inc):
        return False
    if not c.dirty:
        return v.compare(c.con) <= 0
    if v.major > c.con.major:
        return False
    if v.major == c.con.major and v.minor > c.con.minor and not c.minor_dirty:
        return False
    return True


def _tilde(v: Version, c: Constraint, inc: bool, sem: Semantics) -> bool:
    if _pre_blocked(v, inc) or v.compare(c.con) < 0:
        return False
    con = c.con
    if con.major == con.minor == con.patch == 0 and not c.minor_dirty and not c.patch_dirty:
        return True  # ~0.0.0 and ~* accept everything at or above 0.0.0
    if v.major != con.major:
        return False
    return not (v.minor != con.minor and not c.minor_dirty)


def _tilde_or_equal(v: Version, c: Constraint, inc: bool, sem: Semantics) -> bool:
    if _pre_blocked(v, inc):
        return False
    if c.dirty:
        return _tilde(v, c, inc, sem)
    return v.compare(c.con) == 0


def _caret(v: Version, c: Constraint, inc: bool, sem: Semantics) -> bool:
    if _pre_blocked(v, inc) or v.compare(c.con) < 0:
        return False
    con = c.con
    if con.major > 0 or c.minor_dirty:
        return v.major == con.major
    if v.major > 0:
        return False
    if con.minor > 0 or c.patch_dirty:
        return v.minor == con.minor
    if v.minor > 0:
        return False
    return v.patch == con.patch


_OPS_TABLE: dict[str, Callable[[Version, Constraint, bool, Semantics], bool]] = {
    "": _tilde_or_equal,
    "=": _tilde_or_equal,
    "!=": _not_equal,
    ">": _greater_than,
    "<": _less_than,
    ">=": _greater_equal,
    "=>": _greater_equal,
    "<=": _less_equal,
    "=<": _less_equal,
    "~": _tilde,
    "~>": _tilde,
    "^": _caret,
}
