"""Kubernetes quantities and generated names, as the kubelet and ReplicaSets make them."""

from __future__ import annotations

import json
import math
import random
import re
from fractions import Fraction
from typing import Any

from ...domain import BackendError

# k8s.io/apimachinery/pkg/util/rand: the alphabet of generated names (no vowels,
# no look-alike characters) used for pod-template-hash and pod name suffixes.
_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"

# ----------------------------------------------------------------------------------
# Quantities
# ----------------------------------------------------------------------------------

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 1000),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}
_QUANTITY = re.compile(
    r"^(?P<num>[+-]?(?:\d+\.?\d*|\.\d+))(?:(?P<exp>[eE][+-]?\d+)|(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$"
)


def parse_quantity(value: str | int | float) -> Fraction:
    """A Kubernetes resource quantity (``1Gi``, ``512Mi``, ``1000m``, ``1e3``) as a Fraction."""
    if isinstance(value, bool):
        raise BackendError(f"invalid resource quantity {value!r}")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        return Fraction(str(value))
    text = str(value).strip()
    m = _QUANTITY.match(text)
    if not m:
        raise BackendError(f"invalid resource quantity {value!r} (expected e.g. 1Gi, 512Mi, 500m)")
    num = Fraction(m["num"])
    if m["exp"]:
        return num * Fraction(10) ** int(m["exp"][1:])
    suffix = m["suffix"] or ""
    if suffix in _BINARY:
        return num * _BINARY[suffix]
    return num * _DECIMAL[suffix]


def memory_bytes(value: str | int | float) -> int:
    """Memory quantity -> whole bytes (rounded up, as the kubelet does)."""
    return math.ceil(parse_quantity(value))


def cpu_millis(value: str | int | float) -> int:
    """CPU quantity -> millicores (rounded up)."""
    return math.ceil(parse_quantity(value) * 1000)


# ----------------------------------------------------------------------------------
# Names
# ----------------------------------------------------------------------------------


def _fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for byte in data:
        h ^= byte
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(text: str) -> str:
    """apimachinery's ``rand.SafeEncodeString``: map each character into the alphabet."""
    return "".join(_ALPHANUMS[ord(c) % len(_ALPHANUMS)] for c in text)


def pod_template_hash(template: dict[str, Any]) -> str:
    """A stable ReplicaSet-style ``pod-template-hash`` of a pod template."""
    canonical = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    return safe_encode(str(_fnv32a(canonical)))


def random_suffix(rng: random.Random | None = None, n: int = 5) -> str:
    rng = rng or random.SystemRandom()
    return "".join(rng.choice(_ALPHANUMS) for _ in range(n))


def pod_name(deployment_name: str, template_hash: str, rng: random.Random | None = None) -> str:
    """``<deployment>-<pod-template-hash>-<5 chars>``, as a ReplicaSet names its pods."""
    return f"{deployment_name}-{template_hash}-{random_suffix(rng)}"


def host_memory_bytes() -> int:
    """MemTotal of this host: what a limit of \"no limit\" means to the kernel."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 8 * 2**30


