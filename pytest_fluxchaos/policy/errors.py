"""Exceptions raised by the ImagePolicy oracle.

Messages reproduce the error strings image-reflector-controller (IRC) would
put into the ImagePolicy condition, so checkers can compare them verbatim.
"""

from __future__ import annotations

# Condition reasons IRC sets for the errors below
# (internal/controller/imagepolicy_controller.go).
REASON_INVALID_POLICY = "InvalidPolicy"  # Stalled=True, no retry
REASON_FAILURE = "Failure"  # Ready=False, metav1.StatusFailure, retried
REASON_DEPENDENCY_NOT_READY = "DependencyNotReady"  # no tags in the DB


class PolicyError(Exception):
    """An ImagePolicy evaluation error, worded as IRC words it.

    ``message`` is ``err.Error()`` of the Go error returned by
    ``applyPolicy``; ``reason`` is the condition reason IRC derives from it.
    """

    def __init__(self, message: str, reason: str = REASON_FAILURE) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason

    def __repr__(self) -> str:
        return f"PolicyError({self.message!r}, reason={self.reason!r})"


class IneligibleTagError(ValueError):
    """Raised by PolicyOrder.compare/sort_key for a tag the policy ignores."""

    def __init__(self, tag: str, why: str) -> None:
        super().__init__(f"tag {tag!r} is not eligible for this policy: {why}")
        self.tag = tag
        self.why = why


class ScanError(Exception):
    """An ImageRepository scan error (e.g. invalid exclusion list regex)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
