"""The one bounded wait: a condition polled (or woken) until it holds, never bare sleeps.

Every wait in the plugin goes through :func:`wait_until`, which raises
:class:`~pytest_fluxchaos.domain.WaitTimeout` naming what it waited for and the last
value or error it saw, so a timeout reads as a sentence in the history or the report.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from tenacity import (RetryError, Retrying, retry_if_exception_type, retry_if_result,
                      stop_after_delay, wait_fixed)

from .domain import WaitTimeout

T = TypeVar("T")


def wait_until(predicate: Callable[[], T | None], timeout: float, *, what: str, interval: float = 0.25,
               retry_on: tuple[type[BaseException], ...] = (Exception,),
               condition: threading.Condition | None = None) -> T:
    """Call ``predicate`` until it returns something truthy and return that value.

    Exceptions in ``retry_on`` count as "not yet" (an API blip during a fault is
    expected); others propagate at once. With ``condition``, the pause between attempts
    wakes on its ``notify`` (a new observation) instead of sleeping the whole
    ``interval``; the predicate itself runs outside the lock, so it may record events.
    After ``timeout`` seconds: :class:`WaitTimeout`.
    """
    last: list[object] = [None]

    def attempt() -> T | None:
        try:
            value = predicate()
        except retry_on as exc:
            if isinstance(exc, WaitTimeout):
                raise
            last[0] = exc
            raise
        last[0] = value
        return value

    retry = retry_if_result(lambda value: not value) | retry_if_exception_type(retry_on)
    stop = stop_after_delay(max(timeout, 0.0))
    if condition is None:
        retrying = Retrying(stop=stop, wait=wait_fixed(interval), retry=retry)
    else:
        retrying = Retrying(stop=stop, wait=wait_fixed(interval), retry=retry,
                            sleep=partial(_pause, condition))
    try:
        result = retrying(attempt)
    except RetryError:
        raise WaitTimeout(what, timeout, last[0]) from None
    assert result is not None  # a falsy result is retried, so only a truthy one returns
    return result


def _pause(condition: threading.Condition, seconds: float) -> None:
    with condition:
        condition.wait(seconds)
