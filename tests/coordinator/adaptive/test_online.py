"""sgcflow online: switching schemes mid-run decodes every job exactly; the evaluators the
chooser trusts agree with the real sessions; the chooser only looks back."""

from __future__ import annotations

import numpy as np
import pytest

from coordinator.adaptive import Config, OnlineRun
from coordinator.adaptive.evaluate import LoadFit, Shifted, replicated_round_times
from coordinator.round_simulator import TraceClock, run_rounds, run_scheme
from coordinator.schemes import make_scheme
from coordinator.schemes.gradient_check import replay
from coordinator.schemes.switching import SwitchingSession
from coordinator.traces import LatencyModel
from tests.conftest import TRACE


@pytest.fixture(scope="module")
def latency():
    return LatencyModel.from_parquet(TRACE)


def switching_run(n: int, jobs: int, switches, pattern):
    session = SwitchingSession(switches[0][1], jobs)
    later = dict(switches[1:])

    class Switching:
        """replay() drives tasks/observe; switch before the round of each new block's job."""

        def __getattr__(self, name):
            return getattr(session, name)

        def tasks(self, t):
            if t in later:
                session.switch(t, later.pop(t))
            return session.tasks(t)

    return Switching(), session


@pytest.mark.parametrize("seed", range(6))
def test_a_run_that_switches_midway_decodes_every_job_exactly(seed):
    n, jobs = 16, 9
    rng = np.random.default_rng(seed)
    switches = [(1, make_scheme("gc", n=n, s=3)),
                (4, make_scheme("m-sgc", n=n, B=1, W=2, lam=n, replication=n, group=2)),
                (7, make_scheme("gc", n=n, s=7))]
    pattern = [frozenset(np.flatnonzero(rng.random(n) < 0.2).tolist()) for _ in range(jobs + 1)]
    driver, session = switching_run(n, jobs, switches, pattern)
    outcome = replay(driver, pattern, rng)
    assert outcome.max_error < 1e-9
    assert set(outcome.decoded_round) | set(outcome.late) == set(range(1, jobs + 1))
    assert [s.first_job for s in session.segments] == [1, 4, 7]


def test_switching_refuses_another_partitioning_and_a_past_round():
    session = SwitchingSession(make_scheme("gc", n=8, s=1), 6)
    with pytest.raises(ValueError, match="partitions the data differently"):
        session.switch(2, make_scheme("m-sgc", n=8, B=1, W=2, lam=3))
    for t in (1, 2):
        session.plan(t)
        session.observe(t, set())
    with pytest.raises(ValueError, match="already observed"):
        session.switch(2, make_scheme("gc", n=8, s=3))


def test_online_run_on_the_trace_decodes_every_job(latency):
    controller = OnlineRun(256, 60, every=10, probe=2)
    records = run_rounds(controller, TraceClock(latency, 61))
    assert not any(controller.session.late(r.t) for r in records)
    decoded = set()
    for r in records:
        decoded |= set(controller.session.decoded(r.t))
    assert decoded == set(range(1, 61))
    assert len(controller.blocks) >= 3  # safe start, the probe, at least one choice


def test_the_chooser_sees_only_ended_rounds(latency):
    controller = OnlineRun(256, 30, every=10, probe=2)
    seen = []
    original = controller.chooser.observe

    def spy(loads, times):
        seen.append(len(seen) + 1)
        original(loads, times)

    controller.chooser.observe = spy
    choices = []
    original_choose = controller.chooser.choose

    def record_choice(current=None):
        choices.append(len(seen))
        return original_choose(current)

    controller.chooser.choose = record_choice
    run_rounds(controller, TraceClock(latency, 31))
    # Jobs 1-10 safe start, 11-12 the probe; job 13's block is chosen from rounds 1..11 only
    # (a round is learned when the next one ends, as live), job 23's from rounds 1..21.
    assert choices == [11, 21]


@pytest.mark.parametrize("group,q", [(1, 0.3), (1, 0.8), (4, 0.3), (4, 0.7), (32, 0.02)])
def test_replicated_evaluator_matches_the_real_session(latency, group, q):
    config = Config("replicated", q=q, group=group)
    run = run_scheme(config.scheme(256), latency, 30, config.policy())
    low = latency.round_times(group / 256, 31)
    high = latency.round_times(2 * group / 256, 31)
    fast = replicated_round_times(low, high, q, group)
    # The last round only recovers: the policy stops there at the decodable set.
    assert run.round_times_s[:-1] == pytest.approx(fast[:-1].tolist())


def test_load_fit_reproduces_observed_loads_and_interpolates():
    fit = LoadFit(4)
    fit.add(np.full(4, 0.1), np.array([1.0, 2.0, 3.0, 4.0]))
    fit.add(np.full(4, 0.5), np.array([2.0, 3.0, 4.0, 9.0]))
    assert fit.curve(0.1).tolist() == [1.0, 2.0, 3.0, 4.0]
    assert fit.curve(0.3).tolist() == [1.5, 2.5, 3.5, 6.5]
    rows = np.array([[4.0, 1.0, 2.0, 3.0]])  # worker 0 was the slowest in this round
    moved = Shifted(rows, np.full((1, 4), 0.1), fit).at(0.5)
    assert moved.tolist() == [[9.0, 2.0, 3.0, 4.0]]


def test_a_resumed_controller_rebuilds_the_same_choices(latency):
    """The live coordinator rebuilds sgcflow's state from its round log: same blocks, same
    session, whether or not stragglers' times were seen (inf: still running at the end)."""
    from coordinator.adaptive import resume

    controller = OnlineRun(256, 40)
    records = run_rounds(controller, TraceClock(latency, 41))
    logged = [(r.times, r.end_s, r.stragglers) for r in records[:30]]
    again = resume(256, 40, logged)
    assert again.blocks == [b for b in controller.blocks if b[0] <= 31]
    assert again.session.observed_rounds == 30
    censored = [(np.where(np.isin(np.arange(256), list(s)), np.inf, t), e, s)
                for t, e, s in logged]
    assert resume(256, 40, censored).session.observed_rounds == 30


def test_live_controller_from_log_records_matches_the_in_memory_one(latency):
    """What the round log keeps (arrivals rounded as written, the end, the stragglers) is enough
    to rebuild the controller: a fresh one from the log makes the same next choice."""
    from coordinator.adaptive.live import LiveOnline

    n, jobs = 256, 30
    live = LiveOnline(n, jobs, [])
    clock = TraceClock(latency, jobs + 1)
    logged = []
    for t in range(1, 26):
        loads = np.asarray(live.session.worker_loads(t))
        dispatched = np.flatnonzero(loads > 0)
        times = clock.times(t - 1, loads)
        end = float(np.quantile(times[dispatched], 0.9))
        arrived = {str(w): round(float(times[w]), 6) for w in dispatched if times[w] <= end}
        collected = {"arrivals": arrived, "elapsed_s": end,
                     "stragglers": sorted(set(dispatched.tolist()) - {int(w) for w in arrived})}
        live.session.plan(t)
        live.session.observe(t, collected["stragglers"])
        live.after_round(t, dispatched.tolist(), collected)
        logged.append((dispatched.tolist(), collected))
    rebuilt = LiveOnline(n, jobs, logged)
    assert rebuilt.controller.blocks == live.controller.blocks
    assert len(live.controller.blocks) >= 3
    assert rebuilt.session.tasks(26) == live.session.tasks(26)
