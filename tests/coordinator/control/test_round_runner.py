"""The Round task on the in-memory store with fake workers and a fake clock (milliseconds each)."""

from __future__ import annotations

import numpy as np
import pytest
from fake_round import FakeClock, FakeWorkers, TimedStore, make_job

from coordinator.contract import keys
from coordinator.control import rounds
from coordinator.control.session_cache import forget

M_SGC = {"name": "m-sgc", "B": 1, "W": 2, "lam": 2}


def _state(run_id: str = "run-test", execution: int = 1) -> dict:
    return {"job": run_id, "round": 1, "steps": 0, "execution": execution, "status": "running"}


def _job(scheme=M_SGC, delays_for=None, iterations=3, wait=None, run_id="run-test", **faults):
    """A planned job on a fake clock and store, nothing cached: (store, plan, workers, clock);
    ``delays_for``: {(round, worker): seconds}, every other worker takes 1 s."""
    clock = FakeClock()
    store = TimedStore(clock)
    forget(run_id)
    plan = make_job(store, scheme=scheme, iterations=iterations, wait=wait, run_id=run_id)
    delays = np.ones((plan.rounds, plan.n))
    for (t, w), d in (delays_for or {}).items():
        delays[t - 1, w] = d
    return store, plan, FakeWorkers(store, plan, delays, **faults), clock


def _run(scheme=M_SGC, delays_for=None, iterations=3, wait=None, run_id="run-test", **faults):
    store, plan, workers, clock = _job(scheme, delays_for, iterations, wait, run_id, **faults)
    state = rounds.round_step(store, _state(run_id), workers, lambda: 900.0, clock=clock)
    return store, plan, workers, state


def _assert_exact(store, plan, workers) -> int:
    decoded = 0
    for j in range(1, plan.jobs + 1):
        key = plan.decoded_key(j)
        if key in store.objects:
            np.testing.assert_allclose(store.get_array(key), workers.full(j), rtol=1e-9, atol=1e-12)
            decoded += 1
    return decoded


def test_every_job_decodes_exactly_in_one_invocation():
    store, plan, workers, state = _run(delays_for={(2, 1): 10.0, (4, 3): 10.0, (4, 5): 10.0})
    assert state["status"] == "done" and state["steps"] == 1
    log = {e["round"]: e for e in store.rounds("run-test")}
    assert [log[t]["collect"]["stragglers"] for t in sorted(log)] == [[], [1], [], [3, 5], [],
                                                                      [], []]
    assert all(r.startswith("no result within") for r in log[4]["collect"]["reasons"].values())
    assert _assert_exact(store, plan, workers) == plan.jobs
    assert store.job("run-test")["round"] == plan.rounds


def test_errors_and_garbage_are_stragglers_with_reasons():
    store, plan, workers, _ = _run(errors=frozenset({(2, 0)}), garbage=frozenset({(3, 4)}))
    log = {e["round"]: e["collect"] for e in store.rounds("run-test")}
    assert log[2]["stragglers"] == [0] and log[2]["reasons"]["0"].startswith("error: Boom")
    assert log[3]["stragglers"] == [4] and log[3]["reasons"]["4"].startswith("garbage:")
    assert _assert_exact(store, plan, workers) == plan.jobs


def test_outside_the_model_waits_for_everyone_and_flags_it():
    # Two stragglers in one round leave the (B=1, W=2, lam=2) model after a lost worker the
    # round before: the paper policy waits for everyone (here: until 7 s) and says so.
    store, plan, workers, _ = _run(delays_for={(3, 4): 9.0, (4, 2): 7.0, (4, 6): 6.5})
    collect = {e["round"]: e["collect"] for e in store.rounds("run-test")}[4]
    assert collect["stragglers"] == [] and collect["elapsed_s"] >= 7.0
    assert any("waited past the cutoff" in f for f in collect["flags"])
    assert _assert_exact(store, plan, workers) == plan.jobs


def test_a_second_run_changes_nothing_and_invokes_nobody():
    store, plan, workers, _ = _run(delays_for={(2, 1): 10.0})
    before_log, before_objects = store.rounds("run-test"), dict(store.objects)
    invoked = len(workers.invoked)
    state = rounds.round_step(store, _state(), workers, lambda: 900.0, clock=store.clock)
    assert state["status"] == "done"
    assert len(workers.invoked) == invoked
    assert store.rounds("run-test") == before_log and store.objects == before_objects


class Crash(RuntimeError):
    pass


@pytest.mark.parametrize("crash_round", [1, 3, 6])
def test_a_crash_before_the_commit_resumes_to_the_same_bits(crash_round, monkeypatch):
    _, _, _, _ = reference = _run(delays_for={(2, 1): 10.0}, run_id="run-ref")
    ref_store, ref_plan = reference[0], reference[1]
    store, plan, workers, clock = _job(delays_for={(2, 1): 10.0})
    commit = store.commit_round

    def crashing(run_id, t, *args, **kwargs):
        if t == crash_round:
            raise Crash(f"killed before committing round {t}")
        return commit(run_id, t, *args, **kwargs)

    monkeypatch.setattr(store, "commit_round", crashing)
    with pytest.raises(Crash):
        rounds.round_step(store, _state(), workers, lambda: 900.0, clock=clock)
    monkeypatch.setattr(store, "commit_round", commit)
    forget("run-test")  # a fresh Lambda: nothing cached
    state = rounds.round_step(store, _state(), workers, lambda: 900.0, clock=clock)
    assert state["status"] == "done"
    for j in range(1, plan.jobs + plan.M + 1):
        mine = store.get_array(plan.params_key(j))
        theirs = ref_store.get_array(ref_plan.params_key(j))
        assert mine.tobytes() == theirs.tobytes()
    assert [e["collect"]["stragglers"] for e in store.rounds("run-test")] == \
        [e["collect"]["stragglers"] for e in ref_store.rounds("run-ref")]


def test_store_calls_per_round_stay_constant_as_the_job_grows():
    """Update and the whole round: the same store calls in round 3 of a short job and in round
    30 of a long one (nothing re-reads the round log)."""
    def per_round(iterations: int) -> list[dict]:
        store, plan, workers, clock = _job({"name": "gc", "s": 1}, iterations=iterations)
        snapshots = []
        commit = store.commit_round

        def counting(*args, **kwargs):
            snapshots.append(dict(store.calls))
            return commit(*args, **kwargs)

        store.commit_round = counting
        rounds.round_step(store, _state(), workers, lambda: 900.0, clock=clock)
        return [{k: b.get(k, 0) - a.get(k, 0) for k in b}
                for a, b in zip(snapshots, snapshots[1:], strict=False)]

    short, long = per_round(4), per_round(40)
    assert short[-1] == long[2] == long[-1]
    assert long[-1].get("rounds", 0) == 0  # the round log is never re-read in the loop
    # Update reads each result it needs once: both models' (batched in one invocation)
    assert 1 <= long[-1]["get_bytes"] <= 2 * 8


def test_round_budget_and_time_limit_hand_back_to_the_state_machine():
    store, plan, workers, clock = _job()
    state = rounds.round_step(store, _state(), workers, lambda: 900.0, clock=clock,
                              max_rounds=2)
    assert (state["status"], state["round"], state["steps"]) == ("running", 3, 1)
    state = rounds.round_step(store, state, workers, lambda: 1.0, clock=clock)
    assert (state["status"], state["round"]) == ("running", 3)  # too little time: no round
    state = rounds.round_step(store, state, workers, lambda: 900.0, clock=clock)
    assert state["status"] == "done" and state["steps"] == 3
    assert _assert_exact(store, plan, workers) == plan.jobs


def test_cancel_and_stale_executions_stop_the_loop():
    store, plan, workers, clock = _job()
    store.update_job("run-test", {"execution": 2})
    assert rounds.round_step(store, _state(execution=1), workers, lambda: 900.0,
                             clock=clock)["status"] == "stale"
    store.update_job("run-test", {"status": "cancelling"})
    assert rounds.round_step(store, _state(execution=2), workers, lambda: 900.0,
                             clock=clock)["status"] == "cancelled"
    assert store.job("run-test")["round"] == 0
    assert keys.virtual_times_key("run-test") not in store.objects


def test_the_round_budget_comes_from_the_environment_and_a_bad_one_is_named(monkeypatch):
    from coordinator.control.runner import MAX_ROUNDS_PER_TASK, rounds_per_task

    monkeypatch.delenv("SGC_ROUNDS_PER_TASK", raising=False)
    assert rounds_per_task() == MAX_ROUNDS_PER_TASK
    monkeypatch.setenv("SGC_ROUNDS_PER_TASK", "3")
    assert rounds_per_task() == 3
    for bad in ("0", "three"):
        monkeypatch.setenv("SGC_ROUNDS_PER_TASK", bad)
        with pytest.raises(ValueError, match="SGC_ROUNDS_PER_TASK"):
            rounds_per_task()


def test_a_stragglers_result_landing_next_round_completes_its_job_on_the_wall_clock():
    """M-SGC(B=1, W=2, lam=1): worker 0 straggles in rounds 1 and 2, outside the model, so its
    redo of job 1's D1 chunk is lost too; its round-1 result lands at 3 s, during round 2, and
    Collect counts it: job 1 decodes exactly in round 2, nothing is skipped."""
    scheme = {"name": "m-sgc", "B": 1, "W": 2, "lam": 1}
    store, plan, workers, state = _run(scheme, {(1, 0): 3.0, (2, 0): 50.0},
                                       wait={"deadline_s": 2.0, "hard_limit_s": 30},
                                       run_id="run-late")
    assert state["status"] == "done"
    log = store.rounds("run-late")
    assert log[0]["collect"]["stragglers"] == [0] and 0 in log[1]["collect"]["stragglers"]
    assert log[1]["collect"]["late"] == {"1:0": pytest.approx(1.0, abs=0.06)}
    assert store.observations("run-late")[2] == ([0], [[1, 0]])
    assert "1" in log[1]["update"]["decoded"] and not log[1]["update"]["skipped"]
    assert _assert_exact(store, plan, workers) == plan.jobs
