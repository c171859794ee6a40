"""Option types the CLI shares: click's FloatRange lets NaN through (every comparison with NaN is
false), so numbers go through ``FiniteFloat``."""

from __future__ import annotations

import math

import click


class FiniteFloat(click.ParamType):
    """A finite float in [low, high] (``open_low``: strictly above low)."""

    name = "number"

    def __init__(self, low: float | None = None, high: float | None = None, *,
                 open_low: bool = False):
        self.low, self.high, self.open_low = low, high, open_low

    def convert(self, value, param, ctx) -> float:
        if isinstance(value, float) and math.isfinite(value):
            number = value
        else:
            try:
                number = float(value)
            except (TypeError, ValueError):
                self.fail(f"{str(value)[:40]!r} is not a number", param, ctx)
        if not math.isfinite(number):
            self.fail(f"must be a finite number, got {value!r}", param, ctx)
        too_low = self.low is not None and (number <= self.low if self.open_low
                                            else number < self.low)
        if too_low or (self.high is not None and number > self.high):
            self.fail(f"{number:g} is not in {self._range()}", param, ctx)
        return number

    def _range(self) -> str:
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return f"{'(' if self.open_low or self.low is None else '['}{low}, {high}]"


SEED = click.IntRange(0, 2**32 - 1)


def finite_values(ctx, param, values):
    """Callback for float options (single or ``multiple``): refuse NaN and infinities."""
    for value in values if isinstance(values, tuple | list) else [values]:
        if value is not None and not math.isfinite(value):
            raise click.BadParameter(f"must be a finite number, got {value}")
    return values
