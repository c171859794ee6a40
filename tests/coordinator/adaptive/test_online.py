"""sgcflow online: switching schemes mid-run decodes every job exactly; the evaluators the
chooser trusts agree with the real sessions; the chooser only looks back."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from coordinator.adaptive import Config, OnlineRun, Tuning
from coordinator.adaptive.evaluate import LoadFit, Shifted, replicated_round_times
from coordinator.replay.round_simulator import Replay, TraceClock, run_rounds, run_scheme
from coordinator.schemes import make_scheme
from coordinator.schemes.gradient_check import replay
from coordinator.schemes.switching import SwitchingSession


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
    controller = OnlineRun(256, 60, tuning=Tuning(every=10))
    records = run_rounds(controller, TraceClock(latency, 61))
    assert not any(controller.session.late(r.t) for r in records)
    decoded = set()
    for r in records:
        decoded |= set(controller.session.decoded(r.t))
    assert decoded == set(range(1, 61))
    assert len(controller.blocks) >= 3  # the two explored, at least one choice


def test_the_chooser_sees_only_ended_rounds(latency):
    controller = OnlineRun(256, 40, tuning=Tuning(every=10))
    controller._disappointing = lambda job: False  # the schedule alone
    seen = []
    original = controller.chooser.observe

    def spy(loads, times, horizon_s):
        seen.append(len(seen) + 1)
        original(loads, times, horizon_s)

    controller.chooser.observe = spy
    choices = []
    original_choose = controller.chooser.choose

    def record_choice(current=None):
        choices.append(len(seen))
        return original_choose(current)

    controller.chooser.choose = record_choice
    run_rounds(controller, TraceClock(latency, 41))
    # Jobs 1-2 explore; choices for jobs 4, 6, 10 (blocks doubling) then every 10: 18, 28, 38.
    # Job j's block is chosen from rounds 1..j - 2 only (a round is learned when the next one
    # ends, as live).
    assert [b[1] for b in controller.blocks[:2]] == [Config("gc", s=255), Config("gc", s=63)]
    assert choices == [2, 4, 8, 16, 26, 36]


def test_exploration_starts_at_full_replication_then_a_quarter_load():
    from coordinator.adaptive.family import exploration

    assert exploration(256) == [Config("gc", s=255), Config("gc", s=63)]
    assert exploration(6) == [Config("gc", s=5), Config("gc", s=0)]
    assert exploration(1) == [Config("gc", s=0)]


def test_a_censored_worker_stays_unknown_when_moved():
    """A straggler still running when its round was learned carries the horizon, not its time:
    a candidate that would wait for it has no estimate (inf), not the optimistic horizon."""
    fit = LoadFit(4)
    fit.add(np.full(4, 0.25), np.array([1.0, 2.0, 3.0, 3.0]), horizon_s=3.0)
    fit.add(np.full(4, 0.5), np.array([2.0, 3.0, 9.0, 10.0]))
    assert fit.known(0.25) == 2 and fit.known(0.5) == 4
    rows = np.array([[1.0, 3.0, 2.0, 3.0]])
    moved = Shifted(rows, np.full((1, 4), 0.25), fit, horizons=[3.0]).at(0.5)
    # Known ranks move by their own difference (+1); censored workers stay unknown.
    assert moved.tolist() == [[2.0, np.inf, 3.0, np.inf]]


def test_horizons_are_not_compared_across_loads():
    """Ranks censored at one load carry that load's horizon: moving a round by the difference
    of two horizons would make slow workers fast. Past the last rank every pooled round knows,
    the last known difference applies, and a move never reorders a round."""
    fit = LoadFit(4)
    fit.add(np.full(4, 0.25), np.array([1.0, 2.0, 17.0, 18.0]))  # a long round: all seen
    fit.add(np.full(4, 0.5), np.array([1.5, 2.5, 4.0, 4.0]), horizon_s=4.0)  # a short one
    rows = np.array([[1.0, 2.0, 17.0, 18.0]])
    moved = Shifted(rows, np.full((1, 4), 0.25), fit).at(0.5)
    assert moved.tolist() == [[1.5, 2.5, 17.5, 18.5]]  # not 17 + (4 - 17)


def test_only_candidates_near_observed_loads_are_estimated(latency):
    from coordinator.adaptive.online import OnlineChooser, reachable

    assert reachable((0.5,), np.array([0.25])) and not reachable((0.1,), np.array([0.25]))
    assert reachable((0.05, 0.1), np.array([0.2]))  # either load of a replicated candidate
    chooser = OnlineChooser(256, groups=(4, 64))
    times = latency.round_times(64 / 256, 3)
    for row in times:
        chooser.observe(np.full(256, 64 / 256), row)
    estimated = chooser.estimates()
    assert Config("gc", s=63) in estimated and Config("gc", s=127) in estimated
    assert Config("gc", s=15) not in estimated and Config("gc", s=255) not in estimated
    assert Config("replicated", q=0.5, group=64) in estimated
    assert Config("replicated", q=0.5, group=4) not in estimated


@pytest.mark.parametrize("change, field", [
    ({"every": 0}, "every"), ({"window": 2.5}, "window"), ({"hysteresis": -0.1}, "hysteresis"),
    ({"reach": 0.5}, "reach"), ({"abort": float("nan")}, "abort"), ({"every": True}, "every")])
def test_bad_tuning_names_its_field(change, field):
    with pytest.raises(ValueError, match=f"Tuning.{field}: must be"):
        Tuning(**change)


def test_a_chooser_that_saw_no_round_keeps_the_running_configuration():
    from coordinator.adaptive.online import OnlineChooser

    assert OnlineChooser(8).choose(Config("gc", s=1)) == (Config("gc", s=1), None)


def test_a_disappointing_choice_is_replaced_before_its_block_ends(latency):
    """Rounds averaging more than ``Tuning.abort`` over the estimate a choice was made on
    trigger a new choice at the next job boundary, not at the block's scheduled end; the
    block's first round, which also finishes the previous block's redo, is not held against
    it."""
    from coordinator.replay.round_simulator import RoundRecord

    controller = OnlineRun(8, 40)
    controller.blocks.append((5, Config("gc", s=1)))
    controller.predicted_s = 1.0
    calls = []
    controller._choose = lambda job: calls.append(job) or Config("gc", s=1)
    controller._ends[5] = 9.0  # the block's first round also finishes the last block's redo
    controller._ends[6] = 1.1
    assert not controller._disappointing(7)  # one round past the first is not yet evidence
    controller._ends[7] = 1.2
    assert not controller._disappointing(8)
    controller._ends[7] = 1.0 + 3 * Tuning().abort
    assert controller._disappointing(8)
    record = RoundRecord(8, np.full(8, 0.25), np.ones(8), 3.0, frozenset(), False)
    controller.after_round(record)
    assert calls == [9]


@pytest.mark.parametrize("group,q", [(1, 0.3), (1, 0.8), (4, 0.3), (4, 0.7), (32, 0.02)])
def test_replicated_evaluator_matches_the_real_session(latency, group, q):
    config = Config("replicated", q=q, group=group)
    run = run_scheme(config.scheme(256), latency, 30, config.policy(),
                     replay=Replay(spares=10_000))
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
    assert fit.known(0.3) == 4  # nothing censored
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
    assert any(r.late for r in records) and any(r.cold for r in records)
    again = resume(256, 40, records[:30])
    assert again.blocks == [b for b in controller.blocks if b[0] <= 31]
    assert again.session.observed_rounds == 30
    censored = [replace(r, times=np.where(np.isin(np.arange(256), list(r.stragglers)), np.inf,
                                          r.times)) for r in records[:30]]
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
