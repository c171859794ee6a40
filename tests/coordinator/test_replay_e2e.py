"""256 workers replaying a short stretch of the measured trace through the emulated workflow."""

from __future__ import annotations

from pathlib import Path

import pytest

from coordinator.livereplay import Settings, replay

pytestmark = pytest.mark.slow
TRACE = Path(__file__).parents[2] / "data" / "lambda_delays.parquet"


def test_256_workers_replay_lands_on_the_simulator_and_decodes_exactly():
    settings = Settings(str(TRACE), None, None, mu=1.0, jobs=2, workers=256, seed=1)
    results = replay(settings, [("gc", {"s": 15}), ("m-sgc", {"B": 1, "W": 2, "lam": 27})])
    for row in results.values():
        assert row["decoded_exactly"] and row["max_relative_error"] <= 1e-6
        assert row["same_stragglers"]
        assert row["runtime_s"] == pytest.approx(row["simulated_runtime_s"], rel=0.02)
        assert row["fallbacks"] == row["simulated_fallbacks"]
    assert results["m-sgc"]["ratio_to_gc"] == pytest.approx(
        results["m-sgc"]["simulated_ratio_to_gc"], rel=0.02)
    assert results["gc"]["rounds"] == 2 and results["m-sgc"]["rounds"] == 3


def test_sgcflow_replays_onto_its_simulated_online_run():
    """The Round task's online controller and the simulator's OnlineRun, on the same trace."""
    settings = Settings(str(TRACE), None, None, mu=1.0, jobs=6, workers=16, seed=2)
    results = replay(settings, [("gc", {}), ("sgcflow", {})])
    for row in results.values():
        assert row["decoded_exactly"]
        assert row["runtime_s"] == pytest.approx(row["simulated_runtime_s"], rel=1e-9)
    # sgcflow's live job is planned for J + 1 rounds (T = 1 with two models); when the controller
    # runs GC (T = 0) the last round has no work and ends at once: the simulator stops at J.
    assert results["sgcflow"]["rounds"] - len(results["sgcflow"]["simulated_round_times_s"]) \
        in (0, 1)
    assert results["sgcflow"]["ratio_to_gc"] == pytest.approx(
        results["sgcflow"]["simulated_ratio_to_gc"], rel=1e-9)
