"""Masterminds/semver ``Version`` and fluxcd/pkg/version ``ParseVersion``.

Hand-written port: there is no Python port of Masterminds/semver, and the
PyPI ``semver``/``packaging`` libraries differ (no ``v`` prefix, no partial
versions, no leading zeros, different prerelease precedence corner cases).
Behaviour differences between library versions are selected by
:class:`~pytest_fluxchaos.policy.semantics.Semantics`.
"""

from __future__ import annotations

from functools import lru_cache

from dataclasses import dataclass, field
from typing import NamedTuple

from .semantics import Semantics

_DIGITS = frozenset("0123456789")
_ALLOWED = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789")
_UINT64_MAX = (1 << 64) - 1

# (1,) for a release; (0, identifiers) for a prerelease, each identifier (0, n, b"")
# if numeric else (1, 0, utf-8 bytes)
PrereleaseKey = tuple[int] | tuple[int, tuple[tuple[int, int, bytes], ...]]
VersionSortKey = tuple[int, int, int, PrereleaseKey]


class VersionError(ValueError):
    """A string Masterminds would refuse to parse."""


def _only(s: str, chars: frozenset[str]) -> bool:
    """Go containsOnly: true for the empty string."""
    return all(ch in chars for ch in s)


def parse_uint64(s: str) -> int | None:
    """strconv.ParseUint(s, 10, 64): ASCII digits only, no sign, <= 2^64-1."""
    if not s or not _only(s, _DIGITS):
        return None
    n = int(s)
    return n if n <= _UINT64_MAX else None


def _valid_ids(s: str) -> bool:
    """``[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*`` as a whole string."""
    return all(part and _only(part, _ALLOWED) for part in s.split("."))


class _Shape(NamedTuple):
    major: str
    minor: str | None
    patch: str | None
    pre: str | None
    meta: str | None


def _loose_shape(s: str) -> _Shape | None:
    """Match Masterminds' loose version regex against the whole string.

    ``v?([0-9]+)(\\.[0-9]+)?(\\.[0-9]+)?(-IDS)?(\\+IDS)?`` anchored at both
    ends; the greedy optional groups make a left-to-right scan exact.
    """
    n = len(s)
    i = 1 if s.startswith("v") else 0

    def digits(j: int) -> int:
        while j < n and s[j] in _DIGITS:
            j += 1
        return j

    j = digits(i)
    if j == i:
        return None
    major, i = s[i:j], j
    nums: list[str | None] = [None, None]
    for k in range(2):
        if i < n and s[i] == "." and i + 1 < n and s[i + 1] in _DIGITS:
            j = digits(i + 1)
            nums[k], i = s[i + 1 : j], j
        else:
            break
    pre = meta = None
    if i < n and s[i] == "-":
        end = s.find("+", i + 1)
        end = n if end < 0 else end
        pre, i = s[i + 1 : end], end
        if not _valid_ids(pre):
            return None
    if i < n and s[i] == "+":
        meta, i = s[i + 1 :], n
        if not _valid_ids(meta):
            return None
    if i != n:
        return None
    return _Shape(major, nums[0], nums[1], pre, meta)


def _prerelease_error(pre: str, reject_empty: bool) -> str | None:
    """validatePrerelease: numeric identifiers must not have leading zeros."""
    for part in pre.split("."):
        if part == "":
            if reject_empty:
                return "invalid prerelease string"
        elif _only(part, _DIGITS):
            if len(part) > 1 and part[0] == "0":
                return "version segment starts with 0"
        elif not _only(part, _ALLOWED):
            return "invalid prerelease string"
    return None


def _metadata_error(meta: str, reject_empty: bool) -> str | None:
    for part in meta.split("."):
        if (part == "" and reject_empty) or not _only(part, _ALLOWED):
            return "invalid metadata string"
    return None


def _leading_zero(num: str) -> bool:
    return len(num) > 1 and num[0] == "0"


@dataclass(frozen=True)
class Version:
    """A parsed version; ``original`` is the exact input (Go ``Original()``).

    ``==`` is field equality (metadata included); use :meth:`compare` for
    Masterminds precedence, which ignores metadata.
    """

    major: int
    minor: int
    patch: int
    pre: str = ""
    metadata: str = ""
    original: str = field(default="", compare=False)

    def __str__(self) -> str:
        """Go ``Version.String()``: normalised, without a ``v`` prefix."""
        out = f"{self.major}.{self.minor}.{self.patch}"
        if self.pre:
            out += "-" + self.pre
        if self.metadata:
            out += "+" + self.metadata
        return out

    def compare(self, other: Version) -> int:
        """Go ``Version.Compare``: -1, 0 or 1; build metadata is ignored."""
        for a, b in (
            (self.major, other.major),
            (self.minor, other.minor),
            (self.patch, other.patch),
        ):
            if a != b:
                return -1 if a < b else 1
        if self.pre == other.pre == "":
            return 0
        if self.pre == "":
            return 1
        if other.pre == "":
            return -1
        return compare_prerelease(self.pre, other.pre)

    def sort_key(self) -> VersionSortKey:
        """A key whose order equals :meth:`compare` for validated versions."""
        if not self.pre:
            pre_key: PrereleaseKey = (1,)
        else:
            parts: list[tuple[int, int, bytes]] = []
            for part in self.pre.split("."):
                num = parse_uint64(part)
                parts.append((0, num, b"") if num is not None else (1, 0, part.encode()))
            pre_key = (0, tuple(parts))
        return (self.major, self.minor, self.patch, pre_key)


def _compare_pre_part(s: str, o: str) -> int:
    if s == o:
        return 0
    if s == "":
        return -1
    if o == "":
        return 1
    oi, si = parse_uint64(o), parse_uint64(s)
    if oi is None and si is None:
        return 1 if s.encode() > o.encode() else -1
    if oi is None:  # s numeric, o alphanumeric: numbers sort first
        return -1
    if si is None:
        return 1
    return 1 if si > oi else -1


def compare_prerelease(a: str, b: str) -> int:
    """Go comparePrerelease: identifier by identifier, shorter list lower."""
    aparts, bparts = a.split("."), b.split(".")
    for i in range(max(len(aparts), len(bparts))):
        d = _compare_pre_part(
            aparts[i] if i < len(aparts) else "", bparts[i] if i < len(bparts) else ""
        )
        if d:
            return d
    return 0


def new_version(s: str, sem: Semantics) -> Version:
    """Masterminds ``NewVersion`` for the library version in ``sem``."""
    if sem.max_version_len is not None and len(s.encode()) > sem.max_version_len:
        raise VersionError(f"version string is too long (max {sem.max_version_len} bytes)")
    shape = _loose_shape(s)
    if shape is None:
        raise VersionError("invalid semantic version")
    nums = [shape.major, shape.minor or "0", shape.patch or "0"]
    if sem.new_version == "strict" and any(_leading_zero(x) for x in nums):
        raise VersionError("invalid semantic version")
    values = [parse_uint64(x) for x in nums]
    if any(v is None for v in values):
        raise VersionError("error parsing version segment: value out of range")
    reject_empty = sem.new_version != "loose"
    err = (shape.pre and _prerelease_error(shape.pre, reject_empty)) or (
        shape.meta and _metadata_error(shape.meta, reject_empty)
    )
    if err:
        raise VersionError(err)
    return Version(values[0], values[1], values[2], shape.pre or "", shape.meta or "", s)  # type: ignore[arg-type]


def strict_new_version(s: str, sem: Semantics) -> Version:
    """Masterminds ``StrictNewVersion`` (used by pkg/version <= v0.7.0)."""
    if s == "":
        raise VersionError("version string empty")
    parts = s.split(".", 2)
    if len(parts) != 3:
        raise VersionError("invalid semantic version")
    reject_empty = sem.new_version == "strict" or sem.new_version == "coerce"
    last, pre, meta = parts[2], "", ""
    if "+" in last:
        last, meta = last.split("+", 1)
        if err := _metadata_error(meta, reject_empty):
            raise VersionError(err)
    if "-" in last:
        last, pre = last.split("-", 1)
        if err := _prerelease_error(pre, reject_empty):
            raise VersionError(err)
    nums = [parts[0], parts[1], last]
    for num in nums:
        if not _only(num, _DIGITS):
            raise VersionError("invalid characters in version")
        if _leading_zero(num):
            raise VersionError("version segment starts with 0")
    values = [parse_uint64(x) for x in nums]
    if any(v is None for v in values):
        raise VersionError("invalid syntax")
    return Version(values[0], values[1], values[2], pre, meta, s)  # type: ignore[arg-type]


@lru_cache(maxsize=1 << 17)
def parse_tag_version(tag: str, sem: Semantics) -> Version | None:
    """fluxcd/pkg/version ``ParseVersion``; None where Flux skips the tag.

    Cached: the checkers ask for every tag at every registry state, and a big repository
    has thousands of tags and as many states (Version and Semantics are immutable)."""
    try:
        if sem.parse_version == "split3":
            if len(tag.split(".", 2)) != 3:
                return None
        else:
            strict_new_version(tag[1:] if tag.startswith("v") else tag, sem)
        return new_version(tag, sem)
    except VersionError:
        return None
