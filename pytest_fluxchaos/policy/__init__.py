"""Pure-Python model of image-reflector-controller's ImagePolicy semantics.

Exact behaviour of IRC v1.2.x by default (other releases from v0.32.0 via
``irc_version``); no I/O.  Entry points:

* :func:`latest_tag` / :func:`latest_candidates` - the tag IRC would pick;
* :func:`policy_order` - a :class:`PolicyOrder` to ask "is A behind B?";
* :func:`validate_policy` - reject a spec IRC would stall on;
* :func:`scan_order` - the tag list an ImageRepository scan stores.

Errors are :class:`PolicyError` with IRC's message and condition reason.
"""

from .errors import (
    REASON_DEPENDENCY_NOT_READY,
    REASON_FAILURE,
    REASON_INVALID_POLICY,
    IneligibleTagError,
    PolicyError,
    ScanError,
)
from .oracle import (
    DEFAULT_EXCLUSION_LIST,
    latest_candidates,
    latest_tag,
    policy_order,
    scan_order,
    validate_policy,
)
from .order import PolicyOrder
from .semantics import DEFAULT_IRC_VERSION, Semantics, semantics_for

__all__ = [
    "DEFAULT_EXCLUSION_LIST",
    "DEFAULT_IRC_VERSION",
    "IneligibleTagError",
    "PolicyError",
    "PolicyOrder",
    "REASON_DEPENDENCY_NOT_READY",
    "REASON_FAILURE",
    "REASON_INVALID_POLICY",
    "ScanError",
    "Semantics",
    "latest_candidates",
    "latest_tag",
    "policy_order",
    "scan_order",
    "semantics_for",
    "validate_policy",
]
