"""Test timeouts that scale with the machine: ``SGC_TEST_TIMEOUT_FACTOR`` (default 1) multiplies
every bound, so a loaded or slow machine waits longer instead of failing; tests poll for the
condition they need and never sleep a fixed time."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

FACTOR_VARIABLE = "SGC_TEST_TIMEOUT_FACTOR"


def factor() -> float:
    value = float(os.environ.get(FACTOR_VARIABLE, "1") or 1)
    if not value > 0:
        raise ValueError(f"{FACTOR_VARIABLE} must be > 0, got {value}")
    return value


def scaled(seconds: float) -> float:
    """``seconds`` times the machine's factor."""
    return seconds * factor()


def wait_for(condition: Callable[[], object], seconds: float, what: str,
             poll_s: float = 0.02) -> object:
    """Poll ``condition`` until it is truthy (returned) or ``scaled(seconds)`` pass
    (AssertionError naming ``what``)."""
    deadline = time.monotonic() + scaled(seconds)
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {scaled(seconds):.0f} s waiting for {what}")
        time.sleep(poll_s)
