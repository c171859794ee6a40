"""What Lambda runs beyond a round: invocations to their end, cold starts past the warm pool,
late results (coordinator/replay/fleet.py, the simulator's use of it)."""

from __future__ import annotations

import numpy as np
import pytest

from coordinator.policy import make_policy
from coordinator.replay.fleet import Fleet, LateResults
from coordinator.replay.round_simulator import Replay, run_scheme
from coordinator.schemes import make_scheme


def constant_cold(rng, size):
    return np.full(size, 10.0)


def test_a_busy_workers_task_cold_starts_only_past_the_pool_and_everything_is_billed():
    fleet = Fleet(4, spares=1, memory_gb=2.0, cold_start=constant_cold)
    times, cold = fleet.dispatch(1, 0.0, np.arange(4), np.array([1.0, 1.0, 5.0, 9.0]))
    assert cold == {} and fleet.peak == 4
    # round 2 at t = 2: workers 2 and 3 still run; 6 in flight, 5 warm: one cold start
    times, cold = fleet.dispatch(2, 2.0, np.arange(4), np.ones(4))
    assert cold == {3: 10.0} and times.tolist() == [1.0, 1.0, 1.0, 11.0]
    assert fleet.peak == 6 and fleet.cold_starts == 1
    # round 3 at t = 3: 4 in flight (2 from before), the pool is 6 now: warm
    times, cold = fleet.dispatch(3, 3.0, np.arange(2), np.ones(2))
    assert cold == {}
    assert fleet.billed_gb_s == pytest.approx(2.0 * (16.0 + 14.0 + 2.0))


def test_no_spares_limit_means_no_cold_start():
    fleet = Fleet(2, spares=None, cold_start=constant_cold)
    fleet.dispatch(1, 0.0, np.arange(2), np.array([9.0, 9.0]))
    _, cold = fleet.dispatch(2, 1.0, np.arange(2), np.ones(2))
    assert cold == {} and fleet.peak == 4


def test_late_results_are_offered_while_useful_and_taken_once_landed():
    class Session:
        def useful(self, t, r, w):
            return w != 3

    pending = LateResults()
    pending.add(1, 0.0, {2, 3}, np.array([1.0, 1.0, 4.0, 6.0]))
    offered = pending.offered(Session(), 2, 2.0)
    assert offered == {(1, 2): 2.0}  # worker 3's result serves nothing any more
    assert pending.landed(offered, 1.5) == {}
    assert pending.landed(offered, 2.5) == {(1, 2): 2.0} and pending.pending == {}


def test_late_results_make_replicated_msgc_faster_on_the_same_trace(latency):
    scheme = make_scheme("m-sgc", n=256, B=1, W=2, lam=256, replication=256, group=4)
    policy = make_policy("decodable", model=False, min_fraction=0.5)
    lost = run_scheme(scheme, latency, 30, policy, replay=Replay(late_results=False))
    kept = run_scheme(scheme, latency, 30, policy, replay=Replay())
    assert kept.late_results_used > 0 and lost.late_results_used == 0
    assert kept.runtime_s < lost.runtime_s
    assert kept.late_jobs == lost.late_jobs == 0


def test_past_the_accounts_concurrency_a_task_queues_until_an_invocation_ends():
    fleet = Fleet(4, spares=0, cold_start=constant_cold, concurrency=5)
    fleet.dispatch(1, 0.0, np.arange(4), np.array([1.0, 1.0, 5.0, 9.0]))
    times, cold = fleet.dispatch(2, 2.0, np.arange(4), np.ones(4))
    # 2 still run + 4 new = 6 > 5: the last busy worker's task waits for the first invocation
    # to end (a new one, at t = 3) and takes its warm environment; the other busy one
    # cold-starts (5 in flight, 4 warm)
    assert fleet.throttled == 1 and fleet.peak == 5
    assert times.tolist() == [1.0, 1.0, 11.0, 1.0 + 1.0]
    assert cold == {2: 10.0}
