"""Numba loops for the two history-dependent policies (one pass over a stream's idle times).

Each returns the loaded window ``[start, end]`` for the gap after every call (row 0: no history
yet), exactly as documented in ``policies.py``; they are compiled once and cached, because the
synthetic trace has ~350k calls and a Python loop per call took ~20 s per policy.
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
def _window_value(ordered: np.ndarray, count: int, start: float, min_margin_s: float,
                  relative_margin: float, exchange_s: float, cap_s: float
                  ) -> tuple[float, float]:
    """Best end for a window opening at ``start`` and its value ``exchange_s * hits - idle``
    over the whole history (idle times below ``start`` are misses that cost no idle). Candidate
    ends sit a margin (relative to the idle time they catch) above each idle time."""
    first = np.searchsorted(ordered[:count], start)
    m = count - first
    if m == 0:
        return start, 0.0
    best_value, best_end = 0.0, start
    below_sum, caught = 0.0, 0
    for j in range(m):
        sample = ordered[first + j]
        candidate = min(sample + max(min_margin_s, relative_margin * sample), cap_s)
        while caught < m and ordered[first + caught] <= candidate:
            below_sum += ordered[first + caught] - start
            caught += 1
        hits = j + 1 if ordered[first + j] <= candidate else j
        idle = below_sum + (m - caught) * (candidate - start)
        value = exchange_s * hits - idle
        if value > best_value:
            best_value, best_end = value, candidate
    return best_end, best_value


@njit(cache=True)
def periodic_next(times: np.ndarray, last: int, window: int, band_s: float,
                  min_margin_s: float, min_calls: int = 8, period_margin: float = 0.0
                  ) -> tuple[bool, float, float]:
    """Where call ``last + 1`` falls if the calls so far follow a clock: (found, lo, hi).

    The last ``window`` start times are fitted to ``t = a + period * cycle`` (least squares on
    consecutive cycles: a history with a skipped cycle is not a clock); the calls are periodic
    when every residual lies in a band of at most ``band_s`` (a timer placed anywhere inside
    its minute spreads over 60 s). The next call is expected in that band one cycle on, widened
    by a margin.
    """
    first = max(0, last - window + 1)
    n = last - first + 1
    if n < max(min_calls, 3):
        return False, 0.0, 0.0
    guess = (times[last] - times[first]) / (n - 1)  # no skipped cycle: the mean period
    if guess < 60.0:
        return False, 0.0, 0.0
    for j in range(first + 1, last + 1):  # one call per cycle, in order
        if math.floor((times[j] - times[first]) / guess + 0.5) != j - first:
            return False, 0.0, 0.0
    x_mean = (n - 1) / 2.0
    y_mean, covariance, spread = 0.0, 0.0, 0.0
    for j in range(first, last + 1):
        y_mean += times[j] / n
    for j in range(first, last + 1):
        covariance += (j - first - x_mean) * (times[j] - y_mean)
        spread += (j - first - x_mean) ** 2
    period = covariance / spread
    low, high = np.inf, -np.inf
    for j in range(first, last + 1):
        residual = times[j] - (y_mean + period * (j - first - x_mean))
        low, high = min(low, residual), max(high, residual)
    width = high - low
    if width > band_s:
        return False, 0.0, 0.0
    center = y_mean + period * (n - x_mean)
    # n residuals under-state the spread: widen by one expected gap between them (width/(n-1))
    margin = max(min_margin_s, 0.15 * width, width / (n - 1), period_margin * period)
    return True, center + low - margin, center + high + margin


@njit(cache=True)
def forecast_windows(times: np.ndarray, ends: np.ndarray, memory_gb: float,
                     exchange_gb_s: float, history: int, heads: np.ndarray,
                     min_margin_s: float, relative_margin: float, prewarm_min_s: float,
                     min_keep_s: float, cap_s: float, stride: int, min_history: int,
                     period_window: int, band_s: float, surprise: float,
                     period_min_calls: int, period_margin: float,
                     tail_order: int) -> np.ndarray:
    """sgcflow's per-app window from its own history, priced in GB-s.

    A periodic app (``periodic_next``) is pre-warmed for the band its next call falls in.
    Otherwise one cold start is worth ``exchange_gb_s / memory_gb`` idle seconds (a small app
    may idle longer for the same GB-s): over the last ``history`` idle times, every head
    quantile in ``heads`` is a candidate pre-warm point (minus a margin, and charged the chance
    1/(n+1) that the next idle time is a new minimum); for each, the end maximising
    exchange * hits - idle is found exactly, and the best pair wins. Recomputed after every
    idle time while the history is short, then every ``stride`` idle times or every
    ``count / 16`` (a long history moves slowly). A window that keeps
    the app loaded from the end of the call lasts at least ``min_keep_s``: a history cannot
    show the rare long idle time of a busy app, and covering it costs a busy app almost
    nothing. Until ``min_history`` idle times are known, the app is kept loaded for as long as
    a cold start is worth.
    """
    idle = np.maximum(times[1:] - ends[:-1], 0.0)
    exchange_s = exchange_gb_s / max(memory_gb, 1e-6)
    result = np.empty((len(times), 2))
    result[0, 0], result[0, 1] = 0.0, min(exchange_s, cap_s)
    recent = np.empty(history)
    ordered = np.empty(history)
    count = 0
    start, end = result[0, 0], result[0, 1]  # the distribution's window, kept between updates
    for i in range(len(idle)):
        value = idle[i]
        count = _slide(ordered, recent, count, history, i, value)
        if count >= min_history and (count < 32 or i % max(stride, count // 16) == 0):
            start, end = _best_window(ordered, count, heads, exchange_s, min_margin_s,
                                      relative_margin, prewarm_min_s, min_keep_s, cap_s,
                                      surprise, tail_order)
        result[i + 1, 0], result[i + 1, 1] = start, end
        periodic, low, high = periodic_next(times, i + 1, period_window, band_s, min_margin_s,
                                            period_min_calls, period_margin)
        if periodic and high > ends[i + 1]:
            lead = max(0.0, low - ends[i + 1])
            result[i + 1, 0] = lead if lead >= prewarm_min_s else 0.0
            result[i + 1, 1] = high - ends[i + 1]
    return result


@njit(cache=True)
def _slide(ordered: np.ndarray, recent: np.ndarray, count: int, history: int, i: int,
           value: float) -> int:
    """Add idle time ``i`` to the sorted window of the last ``history`` (in place, no copies)."""
    if count == history:
        at = np.searchsorted(ordered[:count], recent[i % history])
        for k in range(at, count - 1):
            ordered[k] = ordered[k + 1]
        count -= 1
    recent[i % history] = value
    at = np.searchsorted(ordered[:count], value)
    for k in range(count, at, -1):
        ordered[k] = ordered[k - 1]
    ordered[at] = value
    return count + 1


@njit(cache=True)
def _best_window(ordered: np.ndarray, count: int, heads: np.ndarray, exchange_s: float,
                 min_margin_s: float, relative_margin: float, prewarm_min_s: float,
                 min_keep_s: float, cap_s: float, surprise: float, tail_order: int
                 ) -> tuple[float, float]:
    best_start, best_end, best_value = 0.0, 0.0, -np.inf
    for k in range(len(heads) + 1):
        start = 0.0
        if k > 0:  # k = 0: keep loaded from the end of the call
            low = ordered[int(math.floor(heads[k - 1] * (count - 1)))]
            start = low - max(min_margin_s, relative_margin * low)
            if start < prewarm_min_s:
                start = 0.0
        end, gain = _window_value(ordered, count, start, min_margin_s, relative_margin,
                                  exchange_s, cap_s)
        if start > 0.0:  # the next idle time is a new minimum with chance 1/(count+1)
            gain -= (surprise * exchange_s * count
                     * new_minimum_chance(ordered, count, start, tail_order))
        if start == 0.0 and end < min_keep_s:
            end = min_keep_s
        if gain > best_value:
            best_start, best_end, best_value = start, end, gain
    return best_start, best_end


@njit(cache=True)
def new_minimum_chance(ordered: np.ndarray, count: int, start: float, tail_order: int) -> float:
    """Chance that the next idle time falls below ``start`` though no idle time so far did.

    A new minimum comes with chance 1/(count+1); with ``tail_order`` k > 0 the lower tail below
    the smallest idle time is taken as exponential with the mean spacing of the k+1 smallest, so
    a pre-warm point well below a tight cluster (a timer's idle times) is rarely missed, and one
    near the smallest of scattered idle times is charged almost the full chance. k = 0: always
    the full chance.
    """
    chance = 1.0 / (count + 1.0)
    below = ordered[0] - start
    if tail_order <= 0 or below <= 0.0:
        return chance
    k = min(tail_order, count - 1)
    if k < 1:
        return chance
    spacing = (ordered[k] - ordered[0]) / k
    if spacing <= 0.0:
        return 0.0
    return chance * math.exp(-below / spacing)
