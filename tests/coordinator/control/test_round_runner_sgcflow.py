"""sgcflow (the default scheme) in the Round task: online switches decode every job exactly,
and a run interrupted midway resumes to the same decisions from its round log."""

from __future__ import annotations

import numpy as np
from fake_round import FakeClock, FakeWorkers, TimedStore, make_job

from coordinator.control import rounds
from coordinator.control.session_cache import forget

SGCFLOW = {"name": "sgcflow"}


def _state(run_id: str) -> dict:
    return {"job": run_id, "round": 1, "steps": 0, "execution": 1, "status": "running"}


def _job(run_id: str, iterations: int = 14):
    clock = FakeClock()
    store = TimedStore(clock)
    forget(run_id)
    plan = make_job(store, scheme=SGCFLOW, workers=16, iterations=iterations, run_id=run_id,
                    wait={"deadline_s": 4.0, "hard_limit_s": 30})
    rng = np.random.default_rng(3)
    delays = 1.0 + rng.exponential(0.3, size=(plan.rounds, plan.n))
    delays[rng.random(delays.shape) < 0.05] += 5.0  # some real stragglers
    # compute costs: a worker holding all 16 partitions takes 4 s more than one holding one
    return store, plan, FakeWorkers(store, plan, delays, per_partition_s=0.25), clock


def _decisions(store, run_id):
    return [(e["round"], e["collect"]["stragglers"], e["collect"]["policy"],
             e["collect"]["scheme"]) for e in store.rounds(run_id)]


def test_sgcflow_switches_online_and_decodes_every_job_exactly():
    store, plan, workers, clock = _job("run-sgcflow")
    state = rounds.round_step(store, _state("run-sgcflow"), workers, lambda: 900.0, clock=clock)
    assert state["status"] == "done"
    schemes = [scheme for *_, scheme in _decisions(store, "run-sgcflow")]
    # explored: full load (two models batched: s + 1 = 16 / 2), then a quarter of it
    assert schemes[:2] == ["gc(s=7)", "gc(s=1)"]
    assert len(set(schemes[2:])) >= 1 and len(set(schemes)) >= 3, schemes  # the chooser's
    for j in range(1, plan.jobs + 1):
        np.testing.assert_allclose(store.get_array(plan.decoded_key(j)), workers.full(j),
                                   rtol=1e-9, atol=1e-12)


def test_sgcflow_resumes_to_the_same_decisions():
    store, _, workers, clock = _job("run-a")
    rounds.round_step(store, _state("run-a"), workers, lambda: 900.0, clock=clock)
    whole = _decisions(store, "run-a")
    store, _, workers, clock = _job("run-b")
    rounds.round_step(store, _state("run-b"), workers, lambda: 900.0, clock=clock, max_rounds=13)
    forget("run-b")  # a new invocation: nothing in memory, only the log
    state = rounds.round_step(store, _state("run-b"), workers, lambda: 900.0, clock=clock)
    assert state["status"] == "done"
    assert _decisions(store, "run-b") == whole
