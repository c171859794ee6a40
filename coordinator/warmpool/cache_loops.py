"""FaasCache's Greedy-Dual loop compiled: one region's calls in time order, an indexed binary
heap in arrays (priority, then insertion version) with one entry per warm stream.

The Python loop with ``heapq`` (a new heap item per call, stale ones skipped) took ~11 s per
1,000 Azure apps; this is the same algorithm step for step (``faascache.py`` documents it), so
the hand-checked tests hold unchanged. A call that refreshes an entry moves it in the heap in
place, so the heap holds at most one item per stream.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _before(pri, ver, i, j) -> bool:
    return pri[i] < pri[j] or (pri[i] == pri[j] and ver[i] < ver[j])


@njit(cache=True)
def _swap(pri, ver, own, pos, i, j) -> None:
    pri[i], pri[j] = pri[j], pri[i]
    ver[i], ver[j] = ver[j], ver[i]
    own[i], own[j] = own[j], own[i]
    pos[own[i]], pos[own[j]] = i, j


@njit(cache=True)
def _up(pri, ver, own, pos, i) -> None:
    while i > 0:
        parent = (i - 1) // 2
        if not _before(pri, ver, i, parent):
            return
        _swap(pri, ver, own, pos, i, parent)
        i = parent


@njit(cache=True)
def _down(pri, ver, own, pos, i, n) -> None:
    while True:
        left, right, low = 2 * i + 1, 2 * i + 2, i
        if left < n and _before(pri, ver, left, low):
            low = left
        if right < n and _before(pri, ver, right, low):
            low = right
        if low == i:
            return
        _swap(pri, ver, own, pos, i, low)
        i = low


@njit(cache=True)
def _push(pri, ver, own, pos, n, priority, version, stream) -> int:
    pri[n], ver[n], own[n], pos[stream] = priority, version, stream, n
    _up(pri, ver, own, pos, n)
    return n + 1


@njit(cache=True)
def _pop(pri, ver, own, pos, n) -> int:
    """Remove the top; it is left at index ``n - 1``. Returns the new size."""
    n -= 1
    _swap(pri, ver, own, pos, 0, n)
    pos[own[n]] = -1
    _down(pri, ver, own, pos, 0, n)
    return n


@njit(cache=True)
def greedy_dual(order, owner, times, ends, hits, size, cost, members, capacity, horizon_s,
                scored_from_s, cold, idle) -> None:
    """One region: ``order`` = its call indices by time; ``owner`` = each call's stream."""
    streams = len(size)
    warm = np.zeros(streams, dtype=np.bool_)
    frequency, busy_until = np.zeros(streams), np.zeros(streams)
    pri, ver = np.empty(streams), np.empty(streams, dtype=np.int64)
    own, pos = np.empty(streams, dtype=np.int64), np.full(streams, -1, dtype=np.int64)
    kept_pri, kept_ver = np.empty(streams), np.empty(streams, dtype=np.int64)
    kept_own = np.empty(streams, dtype=np.int64)
    n, clock, used, version = 0, 0.0, 0.0, 0
    for k in order:
        i, t = owner[k], times[k]
        if warm[i]:
            idle[i] += max(0.0, t - max(busy_until[i], scored_from_s))
            frequency[i] += hits[k]
        else:
            cold[k] = True
            limit, held = capacity - size[i], 0
            while used > limit and n > 0:
                n = _pop(pri, ver, own, pos, n)
                j = own[n]
                if busy_until[j] > t:  # busy: cannot evict now, goes back unchanged
                    kept_pri[held], kept_ver[held], kept_own[held] = pri[n], ver[n], j
                    held += 1
                    continue
                idle[j] += max(0.0, t - max(busy_until[j], scored_from_s))
                clock = pri[n]
                used -= size[j]
                warm[j] = False
            for h in range(held):
                n = _push(pri, ver, own, pos, n, kept_pri[h], kept_ver[h], kept_own[h])
            if size[i] > capacity:
                continue  # cannot be cached at all
            warm[i] = True
            frequency[i] = hits[k]
            used += size[i]
        version += 1
        busy_until[i] = ends[k]
        priority = clock + frequency[i] * cost[i] / max(size[i], 1e-9)
        if pos[i] >= 0:  # refreshed in place (the clock may have moved either way)
            at = pos[i]
            pri[at], ver[at] = priority, version
            _up(pri, ver, own, pos, at)
            _down(pri, ver, own, pos, pos[i], n)
        else:
            n = _push(pri, ver, own, pos, n, priority, version, i)
    for i in members:
        if warm[i]:
            idle[i] += max(0.0, horizon_s - max(busy_until[i], scored_from_s))
