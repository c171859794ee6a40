"""256 workers replaying a short stretch of the measured trace through the emulated workflow."""

from __future__ import annotations

from pathlib import Path

import pytest

from coordinator.replay.livereplay import Settings, choose, replay, simulated

pytestmark = pytest.mark.slow
TRACE = Path(__file__).parents[3] / "data" / "lambda_delays.parquet"


def test_256_workers_replay_lands_on_the_simulator_and_decodes_exactly():
    settings = Settings(str(TRACE), None, None, mu=1.0, jobs=2, workers=256, seed=1)
    # sgcflow at 256 workers: tests/coordinator/emulator/test_emulator_stress.py
    results = replay(settings, [("gc", {"s": 15}), ("m-sgc", {"B": 1, "W": 2, "lam": 27})])
    for row in results.values():
        assert row["decoded_exactly"] and row["max_relative_error"] <= 1e-6
        assert row["same_stragglers"]
        assert row["runtime_s"] == pytest.approx(row["simulated_runtime_s"], rel=0.02)
        assert row["fallbacks"] == row["simulated_fallbacks"]
    assert results["m-sgc"]["ratio_to_gc"] == pytest.approx(
        results["m-sgc"]["simulated_ratio_to_gc"], rel=0.02)
    assert results["gc"]["rounds"] == 2 and results["m-sgc"]["rounds"] == 3


def test_sgcflow_live_makes_the_simulators_online_choices():
    """Past the two exploring jobs the online controller chooses, again and again (its
    schedule re-chooses at jobs 4, 6 and 10); the emulated workflow, learning stragglers'
    times from the log as live, lands on the simulator exactly, round by round."""
    settings = Settings(str(TRACE), None, None, mu=1.0, jobs=20, workers=32, seed=1)
    row = replay(settings, [("sgcflow", {})])["sgcflow"]
    assert row["decoded_exactly"] and row["same_stragglers"] and row["rounds"] >= 10
    assert 1 / 32 <= row["load"] < 1.0  # the run's mean load, not its first job's (full)
    assert row["runtime_s"] == pytest.approx(row["simulated_runtime_s"], rel=1e-9)
    assert row["round_times_s"] == pytest.approx(row["simulated_round_times_s"], rel=1e-9)


def test_batched_models_and_late_results_live_land_on_the_simulator_exactly():
    """Four models: gc-batched carries all four per invocation, M-SGC two (T = 1) and counts
    its stragglers' late results; the live workflow counts the same late results, cold-starts
    the same tasks and decodes every gradient exactly. (One gradient per invocation, plain
    GC, lands on the simulator live in the 256-worker test above: here it is only simulated,
    the baseline batching is measured against.)"""
    settings = Settings(str(TRACE), None, None, mu=1.0, jobs=16, workers=32, seed=2, models=4)
    results = replay(settings, [("gc-batched", {}), ("m-sgc", {"B": 1, "W": 2, "lam": 4}),
                                ("sgcflow", {})])
    for row in results.values():
        assert row["decoded_exactly"] and row["same_stragglers"]
        assert row["runtime_s"] == pytest.approx(row["simulated_runtime_s"], rel=1e-9)
        assert row["late_results"] == row["simulated_late_results"]
        assert row["rounds"] == row["simulated_rounds"]
    assert results["gc-batched"]["rounds"] == 4 and results["m-sgc"]["rounds"] == 8 + 1
    assert results["m-sgc"]["late_results"] > 0
    one_per_invocation = simulated(choose("gc", {}, settings), settings, settings.jobs)
    assert one_per_invocation["rounds"] == 16
    assert results["gc-batched"]["runtime_s"] < 0.6 * one_per_invocation["runtime_s"]
