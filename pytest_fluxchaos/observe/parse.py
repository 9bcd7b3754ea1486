"""Pure readers of the Kubernetes objects the observers watch (plain dicts, no I/O)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

LEASE_NAME = "image-reflector-controller-leader-election"
IMAGE_GROUP = "image.toolkit.fluxcd.io"


def meta(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def object_key(obj: dict[str, Any]) -> str:
    """``namespace/name`` (the form the history uses for policies and repositories)."""
    m = meta(obj)
    return f"{m.get('namespace') or ''}/{m.get('name') or ''}"


def resource_version(obj: dict[str, Any]) -> str | None:
    return meta(obj).get("resourceVersion")


def split_image_ref(image: str | None) -> tuple[str | None, str | None]:
    """``repo[:tag][@digest]`` -> ``(tag, digest)``.

    The tag is what follows the last ':' that comes after the last '/', so a registry
    port (``127.0.0.1:5000/app``) is never mistaken for a tag.
    """
    if not image:
        return None, None
    digest = None
    if "@" in image:
        image, digest = image.split("@", 1)
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[colon + 1:] or None, digest or None
    return None, digest or None


def policy_latest(obj: dict[str, Any], api_version: str = "v1") -> tuple[str | None, str | None]:
    """The (tag, digest) an ImagePolicy resolved, for its API version.

    v1: ``status.latestRef {name, tag, digest}``. v1beta2 (IRC <= v0.35, served up to
    v1.1): ``status.latestImage "repo:tag"``. The other field is used as a fallback,
    since an object read through a non-storage version may carry either.
    """
    status = obj.get("status") or {}
    ref = status.get("latestRef") or {}
    ref_pair = (ref.get("tag") or None, ref.get("digest") or None) if ref.get("tag") else None
    image_pair = split_image_ref(status.get("latestImage")) if status.get("latestImage") else None
    first, second = (ref_pair, image_pair) if api_version == "v1" else (image_pair, ref_pair)
    for pair in (first, second):
        if pair is not None and pair[0]:
            return pair
    return None, None


def condition(obj: dict[str, Any], kind: str = "Ready") -> dict[str, Any] | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cond
    return None


def ready_state(obj: dict[str, Any]) -> tuple[str, str, str] | None:
    """(status, reason, message) of the Ready condition, or None if it has none."""
    cond = condition(obj)
    if cond is None:
        return None
    status = cond.get("status") or "Unknown"
    if status not in ("True", "False", "Unknown"):
        status = "Unknown"
    return status, cond.get("reason") or "", cond.get("message") or ""


def lease_holder(identity: str | None) -> str | None:
    """Pod name from a leader-election ``holderIdentity`` (``<pod>_<uuid>``)."""
    if not identity:
        return None
    pod, sep, _ = identity.rpartition("_")
    return pod if sep and pod else identity


def parse_time(value: str | None) -> datetime | None:
    """RFC 3339 (``metav1.Time``: seconds; ``MicroTime``: microseconds) -> aware datetime."""
    if not value:
        return None
    text = value.strip()
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    # Python < 3.11 cannot parse nanoseconds; trim fractional part to 6 digits
    if "." in text:
        head, _, rest = text.partition(".")
        frac = ""
        i = 0
        while i < len(rest) and rest[i].isdigit():
            frac += rest[i]
            i += 1
        text = f"{head}.{frac[:6].ljust(6, '0')}{rest[i:]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def time_resolution(value: str | None) -> float:
    """1.0 for second-precision timestamps, else the precision of the fraction."""
    if not value or "." not in value:
        return 1.0
    digits = 0
    for ch in value.split(".", 1)[1]:
        if not ch.isdigit():
            break
        digits += 1
    return 10.0 ** -digits if digits else 1.0


def status_write_time(obj: dict[str, Any], *, subresource: str | None = "status") -> str | None:
    """Latest ``managedFields[].time`` of writers of ``subresource`` (None = main resource).

    ``metav1.Time``: second precision, so it can only bound a latency within 1 s.
    """
    latest: tuple[datetime, str] | None = None
    for entry in meta(obj).get("managedFields") or []:
        if (entry.get("subresource") or None) != subresource:
            continue
        stamp = entry.get("time")
        parsed = parse_time(stamp)
        if parsed is not None and (latest is None or parsed > latest[0]):
            latest = (parsed, stamp)
    return latest[1] if latest else None
