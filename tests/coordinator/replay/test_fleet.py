"""What Lambda runs beyond a round: invocations to their end, cold starts past the warm pool,
late results (coordinator/replay/fleet.py, the simulator's use of it)."""

from __future__ import annotations

import numpy as np
import pytest

from coordinator.policy import RoundView, make_policy
from coordinator.replay.fleet import Fleet, LateResults
from coordinator.replay.round_simulator import Fixed, Replay, run_rounds, run_scheme
from coordinator.schemes import make_scheme
from coordinator.schemes.gc import GradientCoding


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


class _ScriptedClock:
    """Round r's per-worker seconds, whatever the loads."""

    def __init__(self, rows):
        self.rows = [np.asarray(row, dtype=float) for row in rows]

    def times(self, r, loads):
        return self.rows[r].copy()


def test_a_round_waits_for_an_earlier_stragglers_result_its_due_job_still_needs():
    """Delay 1, nothing redone: job 1 lives only in round 1's results. Round 2's own workers
    all report at 1 s, but job 1 still lacks two of its three results, which land at 5 s:
    the round must wait for them (everyone has *not* reported while they run), not end with
    job 1 undecodable at its deadline."""

    class DelayedGC(GradientCoding):
        T = 1

    session = DelayedGC(4, 1).session(1)
    clock = _ScriptedClock([[1.0, 5.0, 5.0, 5.0], [1.0, 1.0, 1.0, 1.0]])
    policy = make_policy("decodable", model=False)
    records = run_rounds(Fixed(session, policy), clock, Fleet(4, spares=None))
    assert [r.end_s for r in records] == [0.0, 5.0]  # round 1: no job due, it ends at once
    assert session.late(2) == {} and session.weights(1) is not None
    assert sorted(records[1].late) == [(1, 0), (1, 1), (1, 2), (1, 3)]
    assert not records[1].fallback


def test_everyone_reported_counts_the_awaited_late_results():
    view = RoundView(2, None, (), frozenset({0}), {0: 1.0}, awaited=frozenset({(1, 3)}))
    assert not view.everyone_reported
    landed = RoundView(2, None, (), frozenset({0}), {0: 1.0}, late={(1, 3): 4.0},
                       awaited=frozenset({(1, 3)}))
    assert landed.everyone_reported
