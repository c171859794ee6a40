"""Each policy on small hand-checked traces."""

from __future__ import annotations

import numpy as np
import pytest

from coordinator.warmpool.faascache import FaasCache
from coordinator.warmpool.policies import (
    HybridHistogram,
    KeepAlive,
    QuantileWindow,
    ar1_log_forecast,
    keep_alive_cold,
)
from coordinator.warmpool.workload import Stream

HOUR = 3600.0


def stream(times, duration=0.0, memory_gb=1.0, weight=1, costs=None, func=0, planned=False):
    times = np.asarray(times, dtype=float)
    costs = np.ones(len(times)) if costs is None else np.asarray(costs, dtype=float)
    return Stream(func, 1, times, costs, duration, memory_gb, weight, "R1", planned)


def run(policy, s, horizon):
    return policy.run([s], horizon)[0]


def test_hourly_function_histogram_reaches_zero_cold_starts_with_6_idle_minutes():
    calls = 24
    s = stream(np.arange(calls) * HOUR)
    outcome = run(HybridHistogram(), s, calls * HOUR)
    # first call cold; the second is caught by the 4 h warm-up keep-alive, all later ones are
    # pre-warmed at 0.9 * 60 min = 54 min and unloaded after the call
    assert outcome.cold.tolist() == [True] + [False] * (calls - 1)
    assert outcome.idle_s == pytest.approx(HOUR + (calls - 1) * 360.0)


def test_hourly_function_is_always_cold_under_a_10_minute_keep_alive():
    s = stream(np.arange(24) * HOUR, duration=0.5)
    outcome = run(KeepAlive(600.0), s, 24 * HOUR)
    assert outcome.cold.all()
    assert outcome.idle_s == pytest.approx(24 * 600.0)


def test_calls_every_61_to_119_seconds_are_all_cold_under_60s_keep_alive():
    rng = np.random.default_rng(0)
    times = np.cumsum(rng.uniform(61, 119, 200))
    outcome = run(KeepAlive(60.0), stream(times), times[-1] + 1000)
    assert outcome.cold.all()
    assert outcome.idle_s == pytest.approx(200 * 60.0)
    assert keep_alive_cold(times, 0.0, 60.0).all()


def test_keep_alive_resets_on_every_call():
    times = np.arange(0, 300, 30.0)  # every 30 s, 0.5 s runs
    outcome = run(KeepAlive(60.0), stream(times, duration=0.5), 400.0)
    assert outcome.cold.tolist() == [True] + [False] * 9
    assert outcome.idle_s == pytest.approx(9 * 29.5 + 60.0)


def _last_window(policy, idle_times):
    times = np.r_[0.0, np.cumsum(idle_times)]
    return tuple(policy.windows(stream(times))[-1])


def test_histogram_keeps_alive_over_the_range_when_not_representative():
    # one idle time in each of 120 one-minute bins: CV of the 240 bin counts = 1 < 2
    spread = np.arange(120) * 60.0 + 30.0
    assert _last_window(HybridHistogram(), spread) == (0.0, 4 * 3600.0)
    # 30 bins (10..39): CV = 2.65 -> representative; head bin 11, tail bin 39
    narrow = np.arange(10, 40) * 60.0 + 30.0
    assert _last_window(HybridHistogram(), narrow) == pytest.approx(
        (11 * 60 * 0.9, 40 * 60 * 1.1))


def test_histogram_on_a_spread_of_idle_times_ends_up_keeping_alive():
    rng = np.random.default_rng(2)
    gaps = rng.permutation(np.repeat(np.arange(120) * 60.0 + 30.0, 2))
    times = np.r_[0.0, np.cumsum(gaps)]
    outcome = run(HybridHistogram(), stream(times), times[-1])
    # a few early misses while the first idle times look representative; once the histogram
    # spans enough bins (CV < 2) it keeps alive over the whole 4 h range and every call is warm
    assert np.flatnonzero(outcome.cold).tolist() == [0, 2, 3, 4, 10, 49]


def test_histogram_forecasts_out_of_range_idle_times():
    day = 86400.0
    outcome = run(HybridHistogram(), stream(np.arange(5) * day), 5 * day)
    # gap 1 exceeds the 4 h warm-up keep-alive; then over half the idle times are out of range
    # and the forecast (exactly one day) pre-warms at 85 % and keeps until 115 %
    assert outcome.cold.tolist() == [True, True, False, False, False]
    assert outcome.idle_s == pytest.approx(4 * 3600 + 4 * 0.15 * day)
    assert ar1_log_forecast([day, day, day]) == pytest.approx(day)


def test_quantile_window_idles_seconds_not_minutes_on_an_hourly_timer():
    calls = 24
    outcome = run(QuantileWindow(), stream(np.arange(calls) * HOUR), calls * HOUR)
    assert outcome.cold.tolist() == [True] + [False] * (calls - 1)
    # warm-up keep-alive 1 h, margin 2 % of the period (doubled while < 4 samples)
    expected = HOUR + 3 * 144.0 + (calls - 4) * 72.0
    assert outcome.idle_s == pytest.approx(expected)
    hybrid = run(HybridHistogram(), stream(np.arange(calls) * HOUR), calls * HOUR)
    assert outcome.idle_s < hybrid.idle_s


def test_quantile_window_catches_timers_just_over_the_keep_alive():
    rng = np.random.default_rng(1)
    times = np.cumsum(rng.uniform(61, 119, 300))
    outcome = run(QuantileWindow(), stream(times), times[-1] + 10)
    assert outcome.cold.tolist() == [True] + [False] * 299  # warm-up keeps 1 h, then windows
    assert outcome.idle_s == pytest.approx(times[-1] - times[0] + 10)


def test_faascache_greedy_dual_evicts_the_lowest_priority():
    # A is hit often; B once; C needs room for one entry -> B (lower priority) is evicted
    a = stream([0, 10, 20, 30], memory_gb=1.0, func=0, costs=[2] * 4)
    b = stream([5], memory_gb=1.0, func=1, costs=[2])
    c = stream([40, 50], memory_gb=1.0, func=2, costs=[2, 2])
    outcomes = FaasCache(2.0).run([a, b, c], 60.0)
    assert [o.cold.tolist() for o in outcomes] == [
        [True, False, False, False], [True], [True, False]]
    # idle: A 10+10+10 then until the horizon 30; B from 5 to its eviction at 40; C 10 + 10
    assert [o.idle_s for o in outcomes] == pytest.approx([60.0, 35.0, 20.0])


def test_faascache_too_small_makes_everything_cold():
    a = stream([0, 10], memory_gb=1.0, func=0)
    b = stream([5, 15], memory_gb=1.0, func=1)
    outcomes = FaasCache(1.0).run([a, b], 20.0)
    assert all(o.cold.all() for o in outcomes)


def test_negative_keep_alive_is_refused():
    with pytest.raises(ValueError, match="keep_alive_s"):
        KeepAlive(-1.0)


def test_quantile_window_forgets_an_old_rhythm_after_its_history():
    times = np.r_[np.arange(100) * HOUR, 99 * HOUR + np.arange(1, 71) * 2 * HOUR]
    windows = QuantileWindow(history=64).windows(stream(times))
    assert tuple(windows[99]) == pytest.approx((HOUR - 72.0, HOUR + 72.0))
    # 70 two-hour gaps later the hourly gaps have left the 64-long history
    assert tuple(windows[-1]) == pytest.approx((2 * HOUR - 144.0, 2 * HOUR + 144.0))


def test_quantile_window_lets_sparse_irregular_streams_go():
    # idle times of 3 to 9 hours: catching one costs more than exchange_s (2.5 h) of idle
    rng = np.random.default_rng(4)
    times = np.cumsum(rng.uniform(3 * HOUR, 9 * HOUR, 40))
    windows = QuantileWindow().windows(stream(times))
    assert (windows[10:, 1] == windows[10:, 0]).all()  # empty window: unload at once
    outcome = run(QuantileWindow(), stream(times), times[-1])
    assert outcome.cold[10:].all()


def _reference_greedy_dual(streams, capacity, horizon, scored_from):
    """The Python Greedy-Dual (heapq, a new item per call, stale items skipped) the compiled
    loop replaced: cold flags and idle seconds per stream."""
    import heapq

    cold = [np.zeros(len(s.times), bool) for s in streams]
    idle = [0.0] * len(streams)
    events = sorted((float(t), i, k) for i, s in enumerate(streams)
                    for k, t in enumerate(s.times))
    size = [s.weight * s.memory_gb for s in streams]
    cost = [float(np.mean(s.costs)) for s in streams]
    warm, heap, clock, used, version = {}, [], 0.0, 0.0, 0
    for t, i, k in events:
        entry = warm.get(i)
        if entry is not None:
            idle[i] += max(0.0, t - max(entry[2], scored_from))
            entry[1] += float(streams[i].requests[k])
        else:
            cold[i][k] = True
            kept = []
            while used > capacity - size[i] and heap:
                priority, v, j = heapq.heappop(heap)
                other = warm.get(j)
                if other is None or other[3] != v:
                    continue
                if other[2] > t:
                    kept.append((priority, v, j))
                    continue
                idle[j] += max(0.0, t - max(other[2], scored_from))
                clock, used = priority, used - size[j]
                del warm[j]
            for item in kept:
                heapq.heappush(heap, item)
            if size[i] > capacity:
                continue
            entry = warm[i] = [0.0, float(streams[i].requests[k]), 0.0, 0]
            used += size[i]
        version += 1
        entry[0] = clock + entry[1] * cost[i] / max(size[i], 1e-9)
        entry[2], entry[3] = float(streams[i].ends[k]), version
        heapq.heappush(heap, (entry[0], version, i))
    for i, entry in warm.items():
        idle[i] += max(0.0, horizon - max(entry[2], scored_from))
    return cold, idle


def test_compiled_faascache_is_the_python_greedy_dual():
    rng = np.random.default_rng(1)
    for _ in range(8):
        streams = []
        for i in range(int(rng.integers(2, 25))):
            times = np.sort(rng.uniform(0, 5000, int(rng.integers(1, 50))))
            gaps_ok = np.r_[np.diff(times), 50.0]
            streams.append(Stream(i, 1, times, rng.uniform(0.1, 5, len(times)),
                                  rng.uniform(0, 1, len(times)) * gaps_ok,
                                  rng.uniform(0.1, 2), int(rng.integers(1, 4)), "R1", False,
                                  rng.integers(1, 5, len(times)).astype(float)))
        capacity = float(rng.uniform(0.5, 20))
        cold, idle = _reference_greedy_dual(streams, capacity, 6000.0, 1000.0)
        outcomes = FaasCache(capacity).run(streams, 6000.0, 1000.0)
        assert [o.cold.tolist() for o in outcomes] == [c.tolist() for c in cold]
        assert [o.idle_s for o in outcomes] == pytest.approx(idle)
