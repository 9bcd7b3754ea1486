"""Bounded waiting on real conditions (tenacity), never bare sleeps."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tenacity import (RetryError, Retrying, retry_if_exception_type, retry_if_result,
                      stop_after_delay, wait_fixed)

T = TypeVar("T")


def poll(predicate: Callable[[], T], timeout: float, interval: float = 0.25) -> T | None:
    """Call ``predicate`` until it returns something truthy; None after ``timeout`` seconds.

    Exceptions inside the window are treated as "not yet" (an API blip during a fault
    is expected); the last one is lost only if the condition never holds.
    """
    retrying = Retrying(
        stop=stop_after_delay(timeout), wait=wait_fixed(interval),
        retry=retry_if_result(lambda r: not r) | retry_if_exception_type(Exception))
    try:
        return retrying(predicate)
    except RetryError:
        return None
