"""The work-conservation bound on any scheme (replay/work_bound.py), on delays by hand."""

from __future__ import annotations

import numpy as np
import pytest

from coordinator.replay.traces import LatencyModel
from coordinator.replay.work_bound import earliest_work_times, least_total_time, work_bound

# Two workers, loads 1/2 and 1 (one unit = half a job): round 0 and round 1.
DURATIONS = np.array([
    [[1.0, 3.0], [4.0, 1.5]],   # load 1/2: (round, worker)
    [[2.0, 5.0], [6.0, 2.5]],   # load 1
])


def test_earliest_work_times_take_each_workers_largest_finished_load():
    # Round 0: worker 0 has 1 unit at 1 s, 2 at 2 s; worker 1 has 1 unit at 3 s, 2 at 5 s.
    assert earliest_work_times(DURATIONS[:, 0, :], 4).tolist() == [1.0, 1.0, 2.0, 3.0, 5.0]
    assert earliest_work_times(DURATIONS[:, 1, :], 4).tolist() == [1.5, 1.5, 2.5, 4.0, 6.0]


def test_without_delay_every_round_does_its_own_job():
    latency = LatencyModel([0.5, 1.0], DURATIONS)
    # T = 0: two units in each round: 2.0 + 2.5.
    assert work_bound(latency, 2, 0) == pytest.approx(4.5)


def test_delay_lets_work_move_to_a_faster_round():
    tau = np.array([[1.0, 1.0, 2.0, 9.0, 9.0, 9.0, 9.0],
                    [1.0, 1.0, 1.0, 1.5, 1.5, 9.0, 9.0],
                    [1.0, 5.0, 5.0, 5.0, 5.0, 9.0, 9.0]])
    # Two jobs, T = 1, n = 2: job 1's two units wait for round 1, which does 4 units in 1.5 s;
    # round 0 still lasts until its first arrival, and round 2 (slow for any work) never runs.
    assert least_total_time(tau, 2, 1, 2) == pytest.approx(1.0 + 1.5)
    # Without delay each round must finish its own job: 2.0 + 1.0.
    assert least_total_time(tau[:2, :3], 2, 0, 2) == pytest.approx(3.0)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="jobs >= 1"):
        work_bound(LatencyModel([0.5, 1.0], DURATIONS), 0, 1)
