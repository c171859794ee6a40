"""Test timeouts that scale with the machine, and waits that poll instead of sleeping.

``scaled(seconds)`` is a bound times ``factor()``: ``SGC_TEST_TIMEOUT_FACTOR`` (default 1), times
the machine's load when the 1-minute load average exceeds its cores (load / cores, at most
``MAX_LOAD_FACTOR``), so a loaded or slow machine waits longer instead of failing: a slow test
written for an idle machine gets 3x its time when three processes share each core.
``wait_for(condition, seconds, what)`` polls ``condition`` until it returns something truthy
(returned) or the scaled bound passes (AssertionError naming ``what``). Never sleep a fixed time
for something to happen: wait for it. ``holds_for(condition, seconds, what)`` is the one check
that must take time, that something does *not* happen: it polls the condition for
``scaled(seconds)`` and fails at its first lapse.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

FACTOR_VARIABLE = "SGC_TEST_TIMEOUT_FACTOR"
MAX_LOAD_FACTOR = 4.0
T = TypeVar("T")


def factor() -> float:
    """How much longer than written a test may wait, now (see the module docstring)."""
    raw = os.environ.get(FACTOR_VARIABLE, "1") or "1"
    try:
        chosen = float(raw)
    except ValueError:
        chosen = -1.0
    if not chosen > 0:
        raise ValueError(f"{FACTOR_VARIABLE}: must be a number > 0, got {raw!r}")
    try:
        load = os.getloadavg()[0] / (os.cpu_count() or 1)
    except OSError:  # no load average on this platform
        load = 1.0
    return chosen * min(MAX_LOAD_FACTOR, max(1.0, load))


def scaled(seconds: float) -> float:
    """``seconds`` times ``factor()``: the bound to give a wait or a subprocess."""
    return seconds * factor()


def wait_for(condition: Callable[[], T], seconds: float, what: str, poll_s: float = 0.02) -> T:
    """Poll ``condition`` until it is truthy (returned) or ``scaled(seconds)`` pass
    (AssertionError naming ``what`` and the time it had)."""
    allowed = scaled(seconds)
    deadline = time.monotonic() + allowed
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {allowed:.1f} s waiting for {what} "
                                 f"({seconds:g} s x {allowed / seconds:.2f}; "
                                 f"{FACTOR_VARIABLE} raises it)")
        time.sleep(poll_s)


def holds_for(condition: Callable[[], object], seconds: float, what: str,
              poll_s: float = 0.05) -> None:
    """Poll ``condition`` for ``scaled(seconds)``; AssertionError as soon as it is false."""
    deadline = time.monotonic() + scaled(seconds)
    while True:
        assert condition(), what
        if time.monotonic() >= deadline:
            return
        time.sleep(poll_s)
