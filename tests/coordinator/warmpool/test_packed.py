"""Packed streams: the flat form every policy runs on, and the two-band window rule."""

from __future__ import annotations

import numpy as np
import pytest

from coordinator.warmpool.packed import Packed
from coordinator.warmpool.policies import KeepAlive, keep_alive_cold
from coordinator.warmpool.window_loops import apply_windows
from coordinator.warmpool.workload import Stream

INF = np.inf


def stream(func, times, duration=1.0, region="a", memory_gb=0.5, weight=1):
    times = np.asarray(times, dtype=float)
    return Stream(func, 1, times, np.ones(len(times)), duration, memory_gb, weight, region,
                  False)


def test_pack_unpack_select_concat_and_cut_keep_every_call():
    streams = [stream(0, [0, 10, 20]), stream(1, [], region="b"), stream(2, [5, 500])]
    p = Packed.of(streams)
    assert p.offsets.tolist() == [0, 3, 3, 5] and p.regions == ("a", "b")
    back = p.unpack()
    assert [s.times.tolist() for s in back] == [[0, 10, 20], [], [5, 500]]
    assert back[1].region == "b" and back[2].ends.tolist() == [6.0, 501.0]
    assert p.select(np.array([False, True, True])).offsets.tolist() == [0, 0, 2]
    cut = p.before(15.0)  # later calls dropped, the empty stream too
    assert cut.offsets.tolist() == [0, 2, 3] and cut.func.tolist() == [0, 2]
    both = p.concat(Packed.of([stream(7, [1.0], region="c")]))
    assert both.regions == ("a", "b", "c") and both.region.tolist() == [0, 1, 0, 2]
    assert both.offsets.tolist() == [0, 3, 3, 5, 6]


def test_the_packed_keep_alive_is_the_per_stream_rule():
    rng = np.random.default_rng(0)
    streams = [stream(i, np.sort(rng.uniform(0, 5000, 40)), duration=rng.uniform(0, 5))
               for i in range(6)]
    outcomes = KeepAlive(90.0).run(streams, 6000.0)
    for s, outcome in zip(streams, outcomes, strict=True):
        assert outcome.cold.tolist() == keep_alive_cold(s.times, s.duration_s, 90.0).tolist()
        after = np.r_[s.times[1:] - s.ends[:-1], 6000.0 - s.ends[-1]]
        assert outcome.idle_s == pytest.approx(np.minimum(np.maximum(after, 0), 90.0).sum())


def test_two_bands_catch_both_clusters_and_idle_only_in_the_bands_they_reach():
    times = np.array([0.0, 30.0, 1030.0, 3030.0])
    ends = times + 0.0
    # keep loaded 60 s, then pre-warm 950..1050; the third gap (2000 s) is caught by neither
    windows = np.array([[0.0, 60.0, 950.0, 1050.0]] * 4)
    cold = np.zeros(4, dtype=bool)
    idle = apply_windows(times, ends, windows, 3100.0, 0.0, cold)
    assert cold.tolist() == [True, False, False, True]
    # gap 30: 30 s; gap 1000: 60 + 50; gap 2000: 60 + 100; after the last call (70 s): 60
    assert idle == pytest.approx(30 + 110 + 160 + 60)
    one_band = np.array([[0.0, 60.0, INF, INF]] * 4)
    cold = np.zeros(4, dtype=bool)
    assert apply_windows(times, ends, one_band, 3100.0, 0.0, cold) == pytest.approx(
        30 + 60 + 60 + 60)
    assert cold.tolist() == [True, False, True, True]
