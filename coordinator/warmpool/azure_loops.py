"""The Azure replay's per-invocation work compiled: arrivals, execution times, busy periods.

``azure_streams.arrival_times``, ``execution_times`` and ``busy_periods`` say what is computed;
this loop does the same for a whole trace, app by app, without materialising one array per
function (10,000 resampled apps made 34 million invocations: sorting them as one array took
longer than every policy together). Apps are independent, so chunks of apps run on a thread
per core. Random numbers come from a counter-based generator (SplitMix64) keyed by the seed
and the app, so an app's streams do not depend on which thread ran it, or on the other apps.
"""

from __future__ import annotations

import numpy as np
from numba import njit

GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@njit(cache=True)
def _mix(x: np.uint64) -> np.uint64:
    """SplitMix64's finaliser: a well-mixed 64-bit value from a counter."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@njit(cache=True)
def _uniform(state: np.uint64) -> float:
    """A uniform in [0, 1) from a counter (53 random bits)."""
    return float(_mix(state) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def _draw(row: np.ndarray, points: np.ndarray, u: float) -> float:
    """Inverse CDF of one function's execution time: linear between its percentiles."""
    for k in range(len(points) - 1):
        if u < points[k + 1] or k == len(points) - 2:
            fraction = (u - points[k]) / (points[k + 1] - points[k])
            return row[k] + fraction * (row[k + 1] - row[k])
    return row[-1]


@njit(cache=True)
def _sort_small(values: np.ndarray, begin: int, end: int) -> None:
    """Sort ``values[begin:end]`` in place: insertion sort for a minute's few arrivals
    (no allocation), numpy's sort for a busy minute."""
    if end - begin > 32:
        values[begin:end] = np.sort(values[begin:end])
        return
    for i in range(begin + 1, end):
        x, j = values[i], i - 1
        while j >= begin and values[j] > x:
            values[j + 1] = values[j]
            j -= 1
        values[j + 1] = x


@njit(cache=True)
def _invocations(counts, first_row, last_row, table, points, even, state, times, finish):
    """One app's invocations (arrival, end), sorted by arrival; returns the counter."""
    k = 0
    for r in range(first_row, last_row):
        for minute in range(counts.shape[1]):
            c = counts[r, minute]
            begin = k
            for q in range(c):
                if even:
                    times[k] = 60.0 * minute + 60.0 * (q + 0.5) / c
                else:
                    state += GOLDEN
                    times[k] = 60.0 * minute + 60.0 * _uniform(state)
                k += 1
            if not even and c > 1:
                _sort_small(times, begin, k)
            for j in range(begin, k):
                state += GOLDEN
                finish[j] = times[j] + _draw(table[r], points, _uniform(state))
    if last_row - first_row > 1:  # several functions: merge their arrivals
        order = np.argsort(times[:k], kind="mergesort")
        times[:k], finish[:k] = times[:k][order], finish[:k][order]
    return state


@njit(nogil=True, cache=True)
def busy_periods(counts: np.ndarray, app_rows: np.ndarray, table: np.ndarray,
                 points: np.ndarray, even: bool, split_at: np.ndarray, seed: int,
                 first_app: int, last_app: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Busy periods of apps ``first_app:last_app``: (starts, ends, invocations, app) in app
    order, then time.

    ``counts`` (functions x minutes) is ordered by app; app ``a`` owns rows
    ``app_rows[a]:app_rows[a + 1]``; ``table`` has each function's execution-time percentiles
    (seconds) at ``points``. Arrivals are uniform inside their minute (``even``: spaced 60/n s
    apart from the middle of their slot); overlapping executions fold into one period, which
    is also cut at each ``split_at``.
    """
    total = counts[app_rows[first_app]:app_rows[last_app]].sum()
    starts, ends = np.empty(total), np.empty(total)
    calls, owner = np.empty(total), np.empty(total, dtype=np.int64)
    times, finish = np.empty(total), np.empty(total)
    periods = 0
    for a in range(first_app, last_app):
        size = counts[app_rows[a]:app_rows[a + 1]].sum()
        if size == 0:
            continue
        _invocations(counts, app_rows[a], app_rows[a + 1], table, points, even,
                     _mix(np.uint64(seed) * GOLDEN + np.uint64(a)), times, finish)
        running = -np.inf
        for j in range(size):
            t = times[j]
            new = j == 0 or t > running
            for boundary in split_at:
                if j > 0 and times[j - 1] < boundary <= t:
                    new = True
            if new:
                starts[periods], calls[periods], owner[periods] = t, 0.0, a
                running = finish[j]
                periods += 1
            running = max(running, finish[j])
            ends[periods - 1] = running
            calls[periods - 1] += 1.0
    return starts[:periods], ends[:periods], calls[:periods], owner[:periods]
