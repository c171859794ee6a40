"""Straggler injection schedules: models from the scheme library, fixed patterns, a real trace."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from coordinator.control import inject
from coordinator.schemes.stragglers import BurstyModel

TRACE = Path(__file__).parents[3] / "data" / "lambda_delays.parquet"


def test_fixed_pattern_delays_exactly_the_named_workers():
    delays = inject.delays({"model": "fixed", "rounds": {"2": [1, 3]}, "delay_s": 4.0},
                           n=5, rounds=3, load=0.1, default_delay_s=9.0)
    expected = np.zeros((3, 5))
    expected[1, [1, 3]] = 4.0
    assert np.array_equal(delays, expected)


def test_bursty_injection_stays_inside_the_model_and_uses_the_default_delay():
    spec = {"model": "bursty", "B": 1, "W": 2, "lam": 3, "seed": 7}
    pattern = inject.pattern(spec, n=16, rounds=12)
    assert BurstyModel(16, 1, 2, 3).is_admissible(pattern)
    assert any(pattern)
    delays = inject.delays(spec, n=16, rounds=12, load=0.1, default_delay_s=2.5)
    assert set(np.unique(delays)) <= {0.0, 2.5}
    assert [set(np.flatnonzero(row)) for row in delays] == [set(s) for s in pattern]
    assert inject.pattern(spec, n=16, rounds=12) == pattern  # seeded: the same for GC and M-SGC


def test_trace_replay_scales_measured_latencies():
    spec = {"trace": str(TRACE), "time_scale": 0.01, "seed": 1}
    delays = inject.delays(spec, n=8, rounds=4, load=0.05, default_delay_s=1.0)
    assert delays.shape == (4, 8)
    assert (delays > 0).all() and (delays < 10 * 0.01 * 60).all()
    assert inject.pattern(spec, n=8, rounds=4) is None
