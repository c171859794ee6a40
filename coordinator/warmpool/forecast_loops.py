"""Numba loops of sgcflow's background policy (``policies.IdleForecast``), one pass per app.

The window after each call has up to two loaded bands ``[a1, b1]`` and ``[a2, b2]`` (seconds
after the call ends; ``a2 = b2 = inf`` means one band), because the idle times the sample's
apps show are often two clusters: an hourly job with bursts in between (seconds, then ~55
minutes), or a timer that skips a cycle now and then (one period, sometimes two). One band
must either idle through the hole between the clusters or give up the far one; two bands keep
the app for the near cluster, unload it, and pre-warm it for the far one, and the second band
costs idle time only on the gaps that reach it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

INF = np.inf


@njit(cache=True)
def periodic_next(times: np.ndarray, last: int, window: int, band_s: float,
                  min_margin_s: float, min_calls: int = 8, period_margin: float = 0.0
                  ) -> tuple[bool, float, float, float]:
    """Where call ``last + 1`` falls if the calls so far follow a clock: (found, lo, hi,
    period).

    The last ``window`` start times are fitted to ``t = a + period * cycle`` (least squares).
    Cycles are counted from a first guess of the period, the mean of the gaps up to 1.5x the
    shortest, so a skipped cycle (a timer that did not fire) is one cycle more, not the end of
    the clock; two calls in one cycle, or more skipped cycles than calls, are not a clock. The
    calls are periodic when every residual lies in a band of at most ``band_s`` (a timer placed
    anywhere inside its minute spreads over 60 s). The next call is expected in that band one
    cycle after the last call, widened by a margin.
    """
    first = max(0, last - window + 1)
    n = last - first + 1
    if n < max(min_calls, 3):
        return False, 0.0, 0.0, 0.0
    shortest = INF
    for j in range(first + 1, last + 1):
        shortest = min(shortest, times[j] - times[j - 1])
    if shortest < 30.0:
        return False, 0.0, 0.0, 0.0
    total, count = 0.0, 0
    for j in range(first + 1, last + 1):
        gap = times[j] - times[j - 1]
        if gap <= 1.5 * shortest:
            total += gap
            count += 1
    guess = total / count
    if guess < 60.0:
        return False, 0.0, 0.0, 0.0
    cycles = np.empty(n)
    for j in range(n):
        cycles[j] = math.floor((times[first + j] - times[first]) / guess + 0.5)
        if j > 0 and cycles[j] <= cycles[j - 1]:
            return False, 0.0, 0.0, 0.0
    if cycles[n - 1] > 2 * (n - 1):
        return False, 0.0, 0.0, 0.0
    x_mean, y_mean = cycles.mean(), 0.0
    for j in range(n):
        y_mean += times[first + j] / n
    covariance, spread = 0.0, 0.0
    for j in range(n):
        covariance += (cycles[j] - x_mean) * (times[first + j] - y_mean)
        spread += (cycles[j] - x_mean) ** 2
    period = covariance / spread
    low, high = INF, -INF
    for j in range(n):
        residual = times[first + j] - (y_mean + period * (cycles[j] - x_mean))
        low, high = min(low, residual), max(high, residual)
    width = high - low
    if width > band_s:
        return False, 0.0, 0.0, 0.0
    center = y_mean + period * (cycles[n - 1] + 1 - x_mean)
    # n residuals under-state the spread: widen by one expected gap between them (width/(n-1))
    margin = max(min_margin_s, 0.15 * width, width / (n - 1), period_margin * period)
    return True, center + low - margin, center + high + margin, period


@njit(cache=True)
def window_value(ordered: np.ndarray, count: int, start: float, last: int,
                 min_margin_s: float, relative_margin: float, exchange_s: float,
                 cap_s: float) -> tuple[float, float]:
    """Best end for a band opening at ``start`` and its value ``exchange_s * hits - idle`` over
    the history (idle times below ``start`` are misses that cost no idle). Candidate ends sit
    a margin (relative to the idle time they catch) above each idle time up to index
    ``last``."""
    first = np.searchsorted(ordered[:count], start)
    m = count - first
    if m == 0 or last < first:
        return start, 0.0
    best_value, best_end = 0.0, start
    below_sum, caught = 0.0, 0
    for j in range(min(m, last - first + 1)):
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


@njit(cache=True)
def _prewarm_start(low: float, min_margin_s: float, relative_margin: float,
                   prewarm_min_s: float) -> float:
    start = low - max(min_margin_s, relative_margin * low)
    return 0.0 if start < prewarm_min_s else start


@njit(cache=True)
def end_table(ordered: np.ndarray, count: int, min_margin_s: float, relative_margin: float,
              exchange_s: float, cap_s: float):
    """What ``window_value`` needs for every start at once, in one pass over the history.

    For candidate end ``c_j`` (a margin above idle time j) and a band opening at ``s`` (first
    idle time at or above it: index f), ``window_value``'s value is
    ``score[j] - exchange_s * f + prefix[f] + (count - f) * s``: the part that depends on the
    end does not depend on the start. So the best end for any start is the best ``score`` at
    or after its first index (``right``: suffix argmax, earliest on ties), or up to index j
    (``left``: prefix argmax) for a band that may only catch the near cluster. Eight scans of
    the history per recomputation become one.
    """
    prefix = np.zeros(count + 1)
    for i in range(count):
        prefix[i + 1] = prefix[i] + ordered[i]
    score, end = np.empty(count), np.empty(count)
    caught = 0
    for j in range(count):
        candidate = min(ordered[j] + max(min_margin_s, relative_margin * ordered[j]), cap_s)
        while caught < count and ordered[caught] <= candidate:
            caught += 1
        hit = 1.0 if ordered[j] <= candidate else 0.0
        score[j] = exchange_s * (j + hit) - prefix[caught] - (count - caught) * candidate
        end[j] = candidate
    right, left = np.empty(count, dtype=np.int64), np.empty(count, dtype=np.int64)
    right[count - 1], left[0] = count - 1, 0
    for j in range(count - 2, -1, -1):
        right[j] = j if score[j] >= score[right[j + 1]] else right[j + 1]
    for j in range(1, count):
        left[j] = j if score[j] > score[left[j - 1]] else left[j - 1]
    return prefix, score, end, right, left


@njit(cache=True)
def band(ordered: np.ndarray, count: int, start: float, last: int, exchange_s: float, table
         ) -> tuple[float, float]:
    """``window_value`` read off ``end_table``: (end, value) of the best band opening at
    ``start`` whose end catches at most up to idle time ``last``."""
    prefix, score, end, right, left = table
    first = np.searchsorted(ordered[:count], start)
    if first >= count or last < first:
        return start, 0.0
    if last >= count - 1:
        j = right[first]
    elif first == 0:
        j = left[last]
    else:
        j = first
        for k in range(first + 1, last + 1):
            if score[k] > score[j]:
                j = k
    value = score[j] - exchange_s * first + prefix[first] + (count - first) * start
    return (end[j], value) if value > 0.0 else (start, 0.0)


@njit(cache=True)
def best_window(ordered: np.ndarray, count: int, heads: np.ndarray, exchange_s: float,
                min_margin_s: float, relative_margin: float, prewarm_min_s: float,
                min_keep_s: float, cap_s: float, surprise: float, tail_order: int,
                out: np.ndarray) -> None:
    """The most valuable window on the sorted history, written to ``out`` (a1, b1, a2, b2).

    One band: keep loaded from the end of the call, or pre-warm at a head quantile (charged
    the chance of a new minimum below it). Two bands: split the history at its widest gap
    (by ratio), keep loaded over the near cluster, pre-warm for the far one (charged the
    chance that the next idle time falls in the hole between them); used when worth more.
    """
    table = end_table(ordered, count, min_margin_s, relative_margin, exchange_s, cap_s)
    best_value = -INF
    out[2], out[3] = INF, INF
    for k in range(len(heads) + 1):
        start = 0.0
        if k > 0:  # k = 0: keep loaded from the end of the call
            start = _prewarm_start(ordered[int(math.floor(heads[k - 1] * (count - 1)))],
                                   min_margin_s, relative_margin, prewarm_min_s)
        end, gain = band(ordered, count, start, count - 1, exchange_s, table)
        if start > 0.0:  # the next idle time is a new minimum with chance 1/(count+1)
            gain -= (surprise * exchange_s * count
                     * new_minimum_chance(ordered, count, start, tail_order))
        if start == 0.0 and end < min_keep_s:
            end = min_keep_s
        if gain > best_value:
            out[0], out[1], best_value = start, end, gain
    _two_bands(ordered, count, exchange_s, prewarm_min_s, min_margin_s, relative_margin,
               min_keep_s, surprise, tail_order, best_value, table, out)


@njit(cache=True)
def _two_bands(ordered: np.ndarray, count: int, exchange_s: float, prewarm_min_s: float,
               min_margin_s: float, relative_margin: float, min_keep_s: float,
               surprise: float, tail_order: int, best_value: float, table,
               out: np.ndarray) -> None:
    split, ratio = -1, 2.0  # clusters at least a factor 2 apart
    for j in range(count - 1):
        low, high = max(ordered[j], 1.0), ordered[j + 1]
        if high - low >= 2.0 * prewarm_min_s and high / low > ratio:
            split, ratio = j, high / low
    if split < 0:
        return
    end1, value1 = band(ordered, count, 0.0, split, exchange_s, table)
    start2 = _prewarm_start(ordered[split + 1], min_margin_s, relative_margin, prewarm_min_s)
    end1 = max(end1, min(min_keep_s, start2))
    if start2 <= end1:
        return
    end2, value2 = band(ordered, count, start2, count - 1, exchange_s, table)
    upper = count - split - 1  # the far cluster's next member may fall below its band:
    tail = new_minimum_chance(ordered[split + 1:count], upper, start2, tail_order) * (upper + 1)
    hole = upper / (count + 1.0) * tail
    value = value1 + value2 - surprise * exchange_s * count * hole
    if value > best_value:
        out[0], out[1], out[2], out[3] = 0.0, end1, start2, end2


@njit(cache=True)
def forecast_windows(times: np.ndarray, ends: np.ndarray, memory_gb: float,
                     exchange_gb_s: float, history: int, heads: np.ndarray,
                     min_margin_s: float, relative_margin: float, prewarm_min_s: float,
                     min_keep_s: float, cap_s: float, stride: int, min_history: int,
                     period_window: int, band_s: float, surprise: float,
                     period_min_calls: int, period_margin: float,
                     tail_order: int) -> np.ndarray:
    """sgcflow's per-app windows (calls x 4: a1, b1, a2, b2) from its own history, priced in
    GB-s.

    A periodic app (``periodic_next``) is pre-warmed for the band its next call falls in, and
    for the band one period later (a skipped cycle costs only that second band's idle time).
    Otherwise one cold start is worth ``exchange_gb_s / memory_gb`` idle seconds and the best
    window on the last ``history`` idle times wins (``best_window``), recomputed after every
    idle time while the history is short, then every ``stride`` idle times or every
    ``count / 4`` (a long history moves slowly). Until ``min_history`` idle times are known,
    the app is kept loaded for as long as a cold start is worth. The last ``history`` idle
    times live in a ring and are sorted only when the window is recomputed (keeping them
    sorted at every call cost a shift of the whole history per call).
    """
    exchange_s = exchange_gb_s / max(memory_gb, 1e-6)
    result = np.empty((len(times), 4))
    current = np.array([0.0, min(exchange_s, cap_s), INF, INF])
    result[0] = current
    recent = np.empty(history)
    since = 0  # idle times added since the window was last recomputed
    for i in range(len(times) - 1):
        recent[i % history] = max(times[i + 1] - ends[i], 0.0)
        count = min(i + 1, history)
        since += 1
        if count >= min_history and (count < 32 or since >= max(stride, count // 4)):
            since = 0
            longest = recent[:count].max()
            if longest < prewarm_min_s and (longest + max(min_margin_s, relative_margin
                                                          * longest) <= min_keep_s):
                # every idle time is caught by the minimum keep-alive and none is far enough
                # to pre-warm for: exactly what the full search returns, without the sort
                current[0], current[1], current[2], current[3] = 0.0, min_keep_s, INF, INF
            else:
                ordered = np.sort(recent[:count])
                best_window(ordered, count, heads, exchange_s, min_margin_s,
                            relative_margin, prewarm_min_s, min_keep_s, cap_s, surprise,
                            tail_order, current)
        result[i + 1] = current
        periodic, low, high, period = periodic_next(times, i + 1, period_window, band_s,
                                                    min_margin_s, period_min_calls,
                                                    period_margin)
        if periodic and high > ends[i + 1]:
            lead = max(0.0, low - ends[i + 1])
            result[i + 1, 0] = lead if lead >= prewarm_min_s else 0.0
            result[i + 1, 1] = high - ends[i + 1]
            result[i + 1, 2] = low + period - ends[i + 1]
            result[i + 1, 3] = high + period - ends[i + 1]
    return result
