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


def test_a_second_sgcflow_job_live_starts_from_the_first_and_lands_on_the_simulator():
    """`learn_from` through the emulated workflow: the second job skips exploring, decodes
    exactly, and its rounds are the simulator's, started from the state the Plan step rebuilt
    out of the first job's round log."""
    from timeouts import scaled

    from coordinator.backends import emulator_backend
    from coordinator.control import prior
    from coordinator.emulator import Emulator
    from coordinator.replay.livereplay import job_spec, live_summary
    from coordinator.spec.jobspec import validate

    settings = Settings(str(TRACE), None, None, mu=1.0, jobs=20, workers=32, seed=1)
    candidate = choose("sgcflow", {}, settings)
    raw = job_spec(candidate, settings)
    with Emulator() as emulator:
        backend = emulator_backend(emulator)
        first = backend.submit(validate(raw))
        emulator.wait(backend.store.job(first)["execution_arn"], scaled(600))
        spec = validate({**raw, "scheme": {"name": "sgcflow", "learn_from": first}})
        second = backend.submit(spec)
        described = emulator.wait(backend.store.job(second)["execution_arn"], scaled(600))
        assert described["status"] == "SUCCEEDED", backend.store.job(second).get("error")
        live = live_summary(backend.store, second, spec.raw)
        learned = prior.learned_from(backend.store, first, spec.raw)
        schemes = [e["collect"]["scheme"] for e in backend.store.rounds(second)]
        explored = [e["collect"]["scheme"] for e in backend.store.rounds(first)][:2]
    assert explored[0] == "gc(s=15)" and schemes[0] != explored[0]  # no full-load start
    predicted = simulated(candidate, settings, spec.jobs, prior=learned)
    assert live["decoded_exactly"] and live["stragglers"] == predicted["stragglers"]
    assert live["round_times_s"] == pytest.approx(predicted["round_times_s"], rel=1e-9)
