"""Parameter checks shared by the schemes: each error names the parameter and its allowed range."""

from __future__ import annotations

from numbers import Integral


def require_int(name: str, value: object, low: int, high: int | None = None) -> int:
    """Return ``value`` as an int in [low, high], or raise ValueError naming ``name``."""
    allowed = f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]"
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be {allowed}, got {value}")
    return int(value)


def check_bursty(n: int, B: object, W: object, lam: object) -> tuple[int, int, int]:
    """Validate (B, W, lam) of the bursty model: 1 <= B < W and 1 <= lam <= n."""
    W = require_int("W", W, 2)
    B = require_int("B", B, 1, W - 1)
    lam = require_int("lam", lam, 1, n)
    return B, W, lam
