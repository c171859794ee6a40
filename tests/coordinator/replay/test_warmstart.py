"""sgcflow's second job on a workload, replayed out of sample in time: the first job runs on the
trace's first half of measured rounds, the second on the other half starting from what the first
learned."""

from __future__ import annotations

from pathlib import Path

from coordinator.adaptive.family import exploration
from coordinator.replay.round_simulator import Replay
from coordinator.replay.traces import LatencyModel
from coordinator.replay.warmstart import halves, second_job

TRACE = Path(__file__).parents[3] / "data" / "lambda_delays.parquet"


def test_the_halves_split_the_measured_rounds_without_overlap():
    latency = LatencyModel.from_parquet(TRACE, profile="sam-gc-cnn_profile_est_desktop",
                                        region="Canada")
    first, second = halves(latency)
    assert first.n_rounds + second.n_rounds == latency.n_rounds
    assert (first.durations == latency.durations[:, :first.n_rounds]).all()
    assert (second.durations == latency.durations[:, first.n_rounds:]).all()


def test_the_second_job_skips_exploring_and_is_not_slower_than_the_first():
    latency = LatencyModel.from_parquet(TRACE, profile="sam-gc-cnn_profile_est_desktop",
                                        region="Canada")
    result = second_job(latency, 120, Replay(models=2))
    first_block = result["learned"]["blocks"][0]
    assert first_block["kind"] == "gc" and first_block["s"] not in [
        c.s for c in exploration(256, 2)]
    assert result["learned"]["runtime_s"] < result["afresh"]["runtime_s"]
    assert result["learned"]["runtime_s"] >= result["gc_batched"]["runtime_s"] * 0.98
