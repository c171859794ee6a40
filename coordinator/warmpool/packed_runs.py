"""Every per-stream policy over all packed streams in a few compiled calls, one per core.

Each stream's loop is independent (its own history, its own slice of the cold flags), so the
streams are cut into chunks of about equal calls and each chunk runs in a compiled loop that
releases the GIL, on a thread per core: a policy on 10,000 apps costs a few calls instead of
10,000 Python calls. (Numba's ``parallel=True`` was tried first: its threads made the
allocation-heavy window loops ten times slower per call.) The fixed keep-alive needs no loop
at all: its window never changes, so it is a few whole-array numpy operations.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from coordinator.warmpool.forecast_loops import forecast_windows
from coordinator.warmpool.packed import Packed, PackedOutcome
from coordinator.warmpool.window_loops import apply_windows, hybrid_windows, quantile_windows


def keep_alive(p: Packed, keep_alive_s: float, horizon_s: float, scored_from_s: float
               ) -> PackedOutcome:
    """A fixed keep-alive after every call, on every stream at once."""
    if p.calls == 0:
        return PackedOutcome.empty(p)
    nonempty = p.lengths() > 0
    first, last = p.offsets[:-1][nonempty], p.offsets[1:][nonempty] - 1
    after = np.empty(p.calls)
    after[:-1] = p.times[1:] - p.ends[:-1]
    after[last] = horizon_s - p.ends[last]
    after = np.maximum(after, 0.0)
    cold = np.empty(p.calls, dtype=bool)
    cold[1:] = after[:-1] > keep_alive_s
    cold[first] = True
    loaded = np.maximum(0.0, p.ends + np.minimum(keep_alive_s, after)
                        - np.maximum(p.ends, scored_from_s))
    idle = np.bincount(p.stream_of_call(), weights=loaded, minlength=p.streams)
    return PackedOutcome(cold, idle)


@njit(nogil=True, cache=True)
def _hybrid(offsets, times, ends, horizon_s, scored_from_s, bin_s, bins, head, tail, margin,
            cv_threshold, arima_margin, cold, idle):
    for s in range(len(offsets) - 1):
        a, b = offsets[s], offsets[s + 1]
        if b > a:
            gaps = np.maximum(times[a + 1:b] - ends[a:b - 1], 0.0)
            windows = hybrid_windows(gaps, bin_s, bins, head, tail, margin, cv_threshold,
                                     arima_margin)
            idle[s] = apply_windows(times[a:b], ends[a:b], windows, horizon_s, scored_from_s,
                                    cold[a:b])


@njit(nogil=True, cache=True)
def _quantile(offsets, times, ends, horizon_s, scored_from_s, head, tail, history, min_margin_s,
              relative_margin, spread_margin, prewarm_min_s, exchange_s, cold, idle):
    for s in range(len(offsets) - 1):
        a, b = offsets[s], offsets[s + 1]
        if b > a:
            gaps = np.maximum(times[a + 1:b] - ends[a:b - 1], 0.0)
            windows = quantile_windows(gaps, head, tail, history, min_margin_s,
                                       relative_margin, spread_margin, prewarm_min_s,
                                       exchange_s)
            idle[s] = apply_windows(times[a:b], ends[a:b], windows, horizon_s, scored_from_s,
                                    cold[a:b])


@njit(nogil=True, cache=True)
def _forecast(offsets, times, ends, memory_gb, horizon_s, scored_from_s, exchange_gb_s,
              history, heads, min_margin_s, relative_margin, prewarm_min_s, min_keep_s, cap_s,
              stride, min_history, period_window, band_s, surprise, period_min_calls,
              period_margin, tail_order, cold, idle):
    for s in range(len(offsets) - 1):
        a, b = offsets[s], offsets[s + 1]
        if b > a:
            windows = forecast_windows(times[a:b], ends[a:b], memory_gb[s], exchange_gb_s,
                                       history, heads, min_margin_s, relative_margin,
                                       prewarm_min_s, min_keep_s, cap_s, stride, min_history,
                                       period_window, band_s, surprise, period_min_calls,
                                       period_margin, tail_order)
            idle[s] = apply_windows(times[a:b], ends[a:b], windows, horizon_s, scored_from_s,
                                    cold[a:b])


def threads() -> int:
    """Cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)


def _chunks(p: Packed, pieces: int) -> list[tuple[int, int]]:
    """Stream ranges [lo, hi) of about equal calls."""
    bounds = np.searchsorted(p.offsets, np.linspace(0, p.calls, pieces + 1)[1:-1])
    edges = np.unique(np.r_[0, np.minimum(bounds, p.streams), p.streams])
    return [(int(lo), int(hi)) for lo, hi in zip(edges[:-1], edges[1:], strict=True)]


def _run(kernel, p: Packed, per_stream: tuple, *settings) -> PackedOutcome:
    """``kernel(offsets, times, ends, *per_stream, *settings, cold, idle)`` over chunks of
    streams, one thread per core (the kernels release the GIL)."""
    out = PackedOutcome.empty(p)
    if p.streams == 0:
        return out

    def one(bounds: tuple[int, int]) -> None:
        lo, hi = bounds
        kernel(p.offsets[lo:hi + 1], p.times, p.ends, *(a[lo:hi] for a in per_stream),
               *settings, out.cold, out.idle_s[lo:hi])

    workers = threads()
    pieces = _chunks(p, 4 * workers) if p.streams > 1 else [(0, p.streams)]
    if workers == 1 or len(pieces) == 1:
        for piece in pieces:
            one(piece)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(one, pieces))
    return out


def hybrid(p: Packed, horizon_s: float, scored_from_s: float, *settings) -> PackedOutcome:
    """``HybridHistogram`` on every stream; ``settings`` as ``hybrid_windows`` takes them."""
    return _run(_hybrid, p, (), horizon_s, scored_from_s, *settings)


def quantile(p: Packed, horizon_s: float, scored_from_s: float, *settings) -> PackedOutcome:
    """``QuantileWindow`` on every stream; ``settings`` as ``quantile_windows`` takes them."""
    return _run(_quantile, p, (), horizon_s, scored_from_s, *settings)


def forecast(p: Packed, horizon_s: float, scored_from_s: float, *settings) -> PackedOutcome:
    """``IdleForecast`` on every stream; ``settings`` as ``forecast_windows`` takes them
    after the memory."""
    return _run(_forecast, p, (p.memory_gb,), horizon_s, scored_from_s, *settings)
