"""The job spec checker: collects (field path, message) pairs so every problem is reported at once,
and shows offending values cut short (a hostile value may be huge or unprintable)."""

from __future__ import annotations

import math
from typing import Any


def show(value: Any, limit: int = 80) -> str:
    """A value for an error message: its repr, cut short (a hostile value may be huge)."""
    try:
        text = repr(value)
    except Exception:  # a repr that fails or recurses
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[:limit] + f"... ({type(value).__name__})"


def field_key(key: Any) -> str:
    """A mapping key for a field path: as is when a short plain string, else its short repr."""
    return key if isinstance(key, str) and key.isprintable() and len(key) <= 40 else show(key, 40)


def did_you_mean(value: Any, allowed: Any) -> str:
    """`` (did you mean 'x'?)`` when ``value`` is a near miss of one of ``allowed``, else ""."""
    import difflib

    if not isinstance(value, str) or len(value) > 100:
        return ""
    close = difflib.get_close_matches(value, [str(a) for a in allowed], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Checker:
    def __init__(self) -> None:
        self.errors: list[tuple[str, str]] = []

    def fail(self, where: str, message: str) -> None:
        self.errors.append((where, message))

    def integer(self, where: str, value: Any, low: int, high: int | None = None) -> int | None:
        allowed = f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]"
        if isinstance(value, bool) or not isinstance(value, int) or value < low or (
                high is not None and value > high):
            self.fail(where, f"must be {allowed}, got {show(value)}")
            return None
        return value

    def number(self, where: str, value: Any, low: float, *, strict: bool = True,
               high: float = math.inf) -> float | None:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(
            value) and (value > low if strict else value >= low) and value <= high
        if not ok:
            bound = f"{'>' if strict else '>='} {low}" if high == math.inf else \
                f"in {'(' if strict else '['}{low}, {high}]"
            self.fail(where, f"must be a finite number {bound}, got {show(value)}")
            return None
        return float(value)

    def mapping(self, where: str, value: Any, allowed: tuple[str, ...]) -> dict | None:
        if not isinstance(value, dict):
            self.fail(where, f"must be a mapping with keys from {list(allowed)}, got "
                             f"{show(value)}")
            return None
        for key in value:
            if key not in allowed:
                self.fail(f"{where}.{field_key(key)}", f"unknown key; allowed {list(allowed)}"
                                                       f"{did_you_mean(key, allowed)}")
        return value

    def choice(self, where: str, value: Any, allowed: tuple[str, ...], note: str = "") -> bool:
        """Whether ``value`` is one of ``allowed``; else an error with a "did you mean"."""
        if isinstance(value, str) and value in allowed:
            return True
        self.fail(where, f"must be one of {list(allowed)}{note}, got {show(value)}"
                         f"{did_you_mean(value, allowed)}")
        return False
