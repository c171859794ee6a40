"""Numba loops: the hybrid histogram's and the quantile window's windows, and applying any
policy's windows to a stream.

A window function returns the loaded band(s) ``[a, b]`` for the gap after every call (row 0: no
history yet), as documented in ``policies.py``; ``apply_windows`` turns them into cold flags and
idle seconds. They are compiled once and cached, because the synthetic trace has ~350k calls
and a Python loop per call took ~20 s per policy. sgcflow's own windows are in
``forecast_loops``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def ar1_log_forecast(samples: np.ndarray) -> float:
    """Next value of a positive series: AR(1) on the logs (least squares), last value if < 3."""
    logs = np.log(np.maximum(samples, 1e-3))
    n = len(logs)
    if n < 3:
        return math.exp(logs[n - 1])
    x, y = logs[:-1], logs[1:]
    x_mean, y_mean = x.mean(), y.mean()
    spread = ((x - x_mean) ** 2).sum()
    slope = 0.0
    if spread > 1e-12:
        slope = ((x - x_mean) * (y - y_mean)).sum() / spread
        slope = min(0.99, max(-0.99, slope))
    mean = logs.mean()
    return math.exp(mean + slope * (logs[n - 1] - mean))


@njit(cache=True)
def hybrid_windows(idle: np.ndarray, bin_s: float, bins: int, head: float, tail: float,
                   margin: float, cv_threshold: float, arima_margin: float) -> np.ndarray:
    """Shahrad et al. (ATC 2020) hybrid histogram, updated after every idle time."""
    range_s = bins * bin_s
    result = np.empty((len(idle) + 1, 2))
    result[0, 0], result[0, 1] = 0.0, range_s
    counts = np.zeros(bins, dtype=np.int64)
    out_of_range = np.empty(len(idle))
    n_out, n_in, sum_squares = 0, 0, 0.0
    for i in range(len(idle)):
        index = int(idle[i] // bin_s)
        if index < bins:
            sum_squares += 2 * counts[index] + 1
            counts[index] += 1
            n_in += 1
        else:
            out_of_range[n_out] = idle[i]
            n_out += 1
        row = result[i + 1]
        if n_out > n_in:  # over half out of range: forecast the next idle time
            guess = ar1_log_forecast(out_of_range[max(0, n_out - 32):n_out])
            row[0], row[1] = guess * (1 - arima_margin), guess * (1 + arima_margin)
            continue
        mean = n_in / bins
        variance = sum_squares / bins - mean * mean
        if n_in == 0 or math.sqrt(max(variance, 0.0)) / mean < cv_threshold:
            row[0], row[1] = 0.0, range_s
            continue
        cumulative, head_bin, tail_bin = 0, -1, -1
        for b in range(bins):
            cumulative += counts[b]
            if head_bin < 0 and cumulative >= head * n_in:
                head_bin = b
            if cumulative >= tail * n_in:
                tail_bin = b
                break
        row[0] = head_bin * bin_s * (1 - margin)
        row[1] = (tail_bin + 1) * bin_s * (1 + margin)
    return result


@njit(cache=True)
def _cost_aware_end(ordered: np.ndarray, count: int, start: float, end: float, margin: float,
                    exchange_s: float) -> float:
    """End in (start, end] maximising exchange_s * hits - idle over the history.

    Candidate j ends ``margin`` after the j-th smallest idle time and is credited only with the
    idle times up to that one, so the margin is kept above the last call it means to catch.
    """
    first = np.searchsorted(ordered[:count], start)
    sample = ordered[first:count]
    m = len(sample)
    if m == 0:
        return end
    prefix = np.cumsum(sample - start)
    best_value, best_end = 0.0, start
    for j in range(m):
        candidate = min(sample[j] + margin, end)
        hits = np.searchsorted(sample, sample[j], side="right")
        caught = np.searchsorted(sample, candidate, side="right")
        idle = prefix[caught - 1] + (m - caught) * (candidate - start)
        value = exchange_s * hits - idle
        if value > best_value:
            best_value, best_end = value, candidate
    return best_end


@njit(cache=True)
def quantile_windows(idle: np.ndarray, head: float, tail: float, history: int,
                     min_margin_s: float, relative_margin: float, spread_margin: float,
                     prewarm_min_s: float, exchange_s: float) -> np.ndarray:
    """sgcflow's window: quantiles of the last ``history`` idle times, margins, cost-aware end."""
    result = np.empty((len(idle) + 1, 2))
    result[0, 0], result[0, 1] = 0.0, exchange_s
    recent = np.empty(history)
    ordered = np.empty(history)
    count = 0
    for i in range(len(idle)):
        value = idle[i]
        if count == history:  # drop the oldest from the sorted window
            oldest = recent[i % history]
            at = np.searchsorted(ordered[:count], oldest)
            ordered[at:count - 1] = ordered[at + 1:count].copy()
            count -= 1
        recent[i % history] = value
        at = np.searchsorted(ordered[:count], value)
        ordered[at + 1:count + 1] = ordered[at:count].copy()
        ordered[at] = value
        count += 1
        low = ordered[int(math.floor(head * (count - 1)))]
        high = ordered[int(math.ceil(tail * (count - 1)))]
        margin = max(min_margin_s, relative_margin * high, spread_margin * (high - low))
        if count < 4:  # few samples: the next gap may still surprise, widen
            margin *= 2
        start = low - margin
        if start < prewarm_min_s:
            start = 0.0
        result[i + 1, 0] = start
        result[i + 1, 1] = _cost_aware_end(ordered, count, start, high + margin, margin,
                                           exchange_s)
    return result


@njit(cache=True)
def apply_windows(times: np.ndarray, ends: np.ndarray, windows: np.ndarray, horizon_s: float,
                  scored_from_s: float, cold: np.ndarray) -> float:
    """Cold flags (into ``cold``) and idle seconds of one stream under per-gap windows.

    ``windows`` has one row per call and one or more bands ``(a, b)`` per row (columns 2k,
    2k + 1): the next call is warm when its gap falls in a band or is zero (still loaded); each
    band the gap reaches is loaded from ``a`` to ``min(b, gap)``. The first call is cold; the
    last call's gap runs to the horizon. Idle time before ``scored_from_s`` is not counted.
    """
    n = len(times)
    idle = 0.0
    if n == 0:
        return idle
    cold[0] = True
    for i in range(n):
        after = horizon_s - ends[i] if i + 1 == n else times[i + 1] - ends[i]
        after = max(after, 0.0)
        warm = after <= 0.0
        for k in range(0, windows.shape[1], 2):
            start, end = windows[i, k], windows[i, k + 1]
            if after >= start:
                if after <= end:
                    warm = True
                low = max(ends[i] + start, scored_from_s)
                high = ends[i] + min(end, after)
                if high > low:
                    idle += high - low
        if i + 1 < n:
            cold[i + 1] = not warm
    return idle
