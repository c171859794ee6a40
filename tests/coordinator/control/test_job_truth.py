"""Nothing is reported that did not happen: a model is done only when every iteration decoded, a
job that trained nothing fails, a missing parameter object stops only its model, and a result
never offers parameters that differ from the record (coordinator/control/summary.py, rounds.py,
updater.py, coordinator/backends/outcome.py)."""

from __future__ import annotations

import numpy as np
from fake_round import FakeClock, FakeWorkers, TimedStore, make_job

from coordinator.backends.outcome import job_result
from coordinator.control import rounds
from coordinator.control.session_cache import forget
from coordinator.storage import integrity

GC = {"name": "gc", "s": 1}


def _finished(run_id: str, scheme=GC, iterations: int = 3, **faults):
    clock = FakeClock()
    store = TimedStore(clock)
    forget(run_id)
    plan = make_job(store, scheme=scheme, iterations=iterations, run_id=run_id,
                    wait={"deadline_s": 2.0, "hard_limit_s": 30})
    workers = FakeWorkers(store, plan, np.ones((plan.rounds, plan.n)), **faults)
    state = rounds.round_step(store, {"job": run_id, "round": 1, "steps": 0, "execution": 1,
                                      "status": "running"}, workers, lambda: 900.0, clock=clock)
    return store, plan, workers, rounds.finalize_step(store, state)


def test_a_job_whose_every_round_was_refused_fails_and_says_why():
    every = frozenset((t, w) for t in range(1, 10) for w in range(8))
    store, plan, _, state = _finished("run-refused", errors=every)
    record = store.job("run-refused")
    assert state["status"] == "failed" and record["status"] == "failed"
    assert record["error"]["type"] == "NothingTrained"
    assert "Boom: injected" in record["error"]["message"]  # what the workers ran into
    result = store.get_json("runs/run-refused/result.json")
    assert [m["status"] for m in result["models"]] == ["failed", "failed"]
    assert all(m["decoded_iterations"] == 0 for m in result["models"])


def test_a_model_with_iterations_skipped_is_stalled_not_done():
    # round 2 (both models' second iteration, batched) loses every worker: both late
    errors = frozenset((2, w) for w in range(8))
    store, plan, _, state = _finished("run-stalled", errors=errors)
    result = store.get_json("runs/run-stalled/result.json")
    assert state["status"] == "done"  # something was trained
    for model in result["models"]:
        assert model["status"] == "stalled", model
        assert model["decoded_iterations"] == 2 and "iterations [2]" in model["reason"]


def test_a_deleted_parameter_object_stops_only_its_model_and_names_the_key():
    clock = FakeClock()
    store = TimedStore(clock)
    forget("run-gone")
    plan = make_job(store, scheme=GC, iterations=4, run_id="run-gone")
    workers = FakeWorkers(store, plan, np.ones((plan.rounds, plan.n)))
    state = {"job": "run-gone", "round": 1, "steps": 0, "execution": 1, "status": "running"}
    rounds.round_step(store, state, workers, lambda: 900.0, clock=clock, max_rounds=1)
    gone = plan.params_key(plan.job_of(0, 2))  # model 0's next parameters
    del store.objects[gone]
    state = rounds.round_step(store, {**state, "round": 2}, workers, lambda: 900.0, clock=clock)
    result = rounds.finalize_step(store, state)
    assert result["status"] == "done"
    summary = store.get_json("runs/run-gone/result.json")
    first, second = summary["models"]
    assert first["status"].startswith("failed at iteration") and gone in first["reason"]
    assert "missing from the bucket" in first["reason"]
    assert second["status"] == "done" and second["decoded_iterations"] == 4


def test_the_result_withholds_parameters_that_changed_and_names_their_digest():
    store, plan, _, _ = _finished("run-tampered")
    record = store.job("run-tampered")
    result = job_result(store, "run-tampered", record)
    first, second = result["models"]
    assert first["final_params_sha256"] == integrity.digest(
        store.get_bytes(first["final_params_key"]))
    store.put_bytes(second["final_params_key"], integrity.npy_bytes(np.ones(8, np.float32)))
    again = job_result(store, "run-tampered", record)
    assert again["models"][0]["final_params_key"] == first["final_params_key"]
    assert again["models"][1]["final_params_key"] is None
    assert "differs from the recorded" in again["models"][1]["params_problem"]
