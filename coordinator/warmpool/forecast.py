"""Day-ahead forecasts of per-minute invocation series: simple forecasters and their ensemble.

Ensembles of simple forecasters beat single models for demand forecasting
(docs/coldstart.md, "The policies to beat"); here the members are seasonal naive (yesterday),
the mean daily profile, an hour-of-day profile and an exponentially weighted daily profile,
each smoothed over a few minutes, and the ensemble is their mean. Errors are measured on
held-out days (rolling origin: train on every earlier day).
WAPE (sum |error| / sum actual) replaces MAPE, which is undefined on the many empty minutes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

MINUTES_PER_DAY = 1440


def _days(series: np.ndarray) -> np.ndarray:
    series = np.asarray(series, dtype=float)
    if len(series) % MINUTES_PER_DAY:
        raise ValueError(f"series: length {len(series)} is not a whole number of days (1440/day)")
    return series.reshape(-1, MINUTES_PER_DAY)


def _smooth(day: np.ndarray, width: int = 15) -> np.ndarray:
    kernel = np.ones(width) / width
    padded = np.r_[day[-(width // 2):], day, day[: width // 2]]  # the day wraps around
    return np.convolve(padded, kernel, mode="valid")[: len(day)]


def seasonal_naive(history: np.ndarray) -> np.ndarray:
    return _days(history)[-1].copy()


def daily_mean(history: np.ndarray) -> np.ndarray:
    return _smooth(_days(history).mean(axis=0))


def hourly_profile(history: np.ndarray) -> np.ndarray:
    hours = _days(history).reshape(-1, 24, 60).mean(axis=(0, 2))
    return np.repeat(hours, 60)


def weighted_profile(history: np.ndarray, decay: float = 0.5) -> np.ndarray:
    days = _days(history)
    weights = decay ** np.arange(len(days))[::-1]
    return _smooth((weights[:, None] * days).sum(axis=0) / weights.sum())


FORECASTERS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "seasonal-naive": seasonal_naive,
    "daily-mean": daily_mean,
    "hourly-profile": hourly_profile,
    "weighted-profile": weighted_profile,
}


def ensemble(history: np.ndarray) -> np.ndarray:
    """Mean of every member's forecast for the next day."""
    return np.mean([member(history) for member in FORECASTERS.values()], axis=0)


def errors(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    error = predicted - actual
    total = float(np.abs(actual).sum())
    return {"mae": float(np.abs(error).mean()), "rmse": float(np.sqrt((error**2).mean())),
            "wape": float(np.abs(error).sum() / total) if total else float("nan")}


def evaluate(series: np.ndarray, held_out_days: int = 1) -> dict[str, dict[str, float]]:
    """Error of each forecaster and the ensemble over the last ``held_out_days`` days."""
    days = _days(series)
    if not 1 <= held_out_days < len(days):
        raise ValueError(f"held_out_days: need 1..{len(days) - 1} for {len(days)} days of data")
    members = {**FORECASTERS, "ensemble": ensemble}
    predictions: dict[str, list[np.ndarray]] = {name: [] for name in members}
    for day in range(len(days) - held_out_days, len(days)):
        history = days[:day].ravel()
        for name, member in members.items():
            predictions[name].append(member(history))
    actual = days[len(days) - held_out_days:].ravel()
    return {name: errors(actual, np.concatenate(p)) for name, p in predictions.items()}


def baseline_amount(forecast: np.ndarray, break_even: float) -> int:
    """Provisioned environments worth keeping for forecast demand: level k pays off when demand
    reaches k in more than ``break_even`` of the minutes, i.e. the (1 - break_even) quantile."""
    return int(np.floor(np.quantile(np.asarray(forecast, dtype=float), 1.0 - break_even)))
