"""Divergence stops one model, not the job: the other model's gradients stay exact."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from real_round import RealWorkers, new_store, real_job

from coordinator.cli import jobs as jobs_cli
from coordinator.cli import stack as stack_cli
from coordinator.control import reference, rounds
from coordinator.control.divergence import PARAMS_BOUND, divergence
from coordinator.control.plan import JobPlan
from coordinator.control.session_cache import forget
from coordinator.control.summary import summarize


def _run(lrs, job, iterations=4, scheme=None, workers=8):
    store = new_store()
    forget(job)
    plan, X, y = real_job(store, lrs, iterations=iterations, run_id=job, scheme=scheme,
                          workers=workers)
    delays = np.ones((plan.rounds, plan.n))
    delays[1, 1] = delays[3, 3] = 10.0  # stragglers: decoding uses coded results, not replicas
    workers = RealWorkers(store, plan, X, y, delays)
    state = rounds.round_step(store, {"job": job, "round": 1, "steps": 0, "execution": 1,
                                      "status": "running"}, workers, lambda: 900.0,
                              clock=store.clock)
    return store, plan, workers, state, X, y


def _assert_model_exact(store, plan: JobPlan, model: int, X, y, lr: float) -> int:
    """Every decoded gradient of ``model`` is the full-batch one at its parameters, and the
    final parameters are full-batch gradient descent's."""
    checked = 0
    for j in range(model + 1, plan.jobs + 1, plan.M):
        loss, grad = reference.full_batch(plan.models[model], X, y,
                                          store.get_array(plan.params_key(j)))
        decoded = store.get_array(plan.decoded_key(j))
        np.testing.assert_allclose(decoded[0], loss, rtol=1e-9)
        np.testing.assert_allclose(decoded[1:], grad, rtol=1e-9, atol=1e-9)
        checked += 1
    expected, _ = reference.train(plan.models[model], lr, model, plan.iterations, X, y)
    np.testing.assert_allclose(store.get_array(plan.final_params_key(model)), expected,
                               rtol=1e-5, atol=1e-6)
    return checked


def test_an_exploding_model_stops_and_the_other_trains_exactly():
    store, plan, workers, state, X, y = _run([1e30, 0.5], "run-diverge")
    assert state["status"] == "done"
    record = store.job("run-diverge")
    stopped = record["progress"]["stopped"]
    assert set(stopped) == {"0"}
    assert stopped["0"]["status"] == "diverged at iteration 1"
    assert "above the bound" in stopped["0"]["reason"]
    # The other model: every gradient exact, final parameters equal numpy's.
    assert _assert_model_exact(store, plan, 1, X, y, 0.5) == plan.iterations
    # The stopped model's next parameters were never written and its tasks never sent again.
    assert not store.exists(plan.params_key(1 + plan.M))
    sent = {task["job"] for event in workers.events for task in event["tasks"]}
    assert not {j for j in sent if plan.model_of(j)[0] == 0 and j > 1}
    # The round log says so; JSON stays JSON (no NaN/inf tokens anywhere).
    log = store.rounds("run-diverge")
    info = next(e["update"]["decoded"]["1"] for e in log if "1" in e["update"]["decoded"])
    assert "diverged" in info
    json.dumps(log, allow_nan=False)
    json.dumps(record["progress"], allow_nan=False)
    result = summarize(record, plan, log)
    assert [m["status"] for m in result["models"]] == ["diverged at iteration 1", "done"]
    assert result["models"][0]["reason"] == stopped["0"]["reason"]
    json.dumps(result, allow_nan=False)


def test_with_sgcflow_switching_online_the_other_model_still_trains_exactly():
    store, plan, workers, state, X, y = _run([1e30, 0.5, 0.3], "run-diverge-sgcflow",
                                             iterations=5, scheme={"name": "sgcflow"},
                                             workers=16)
    assert state["status"] == "done"
    stopped = store.job("run-diverge-sgcflow")["progress"]["stopped"]
    assert list(stopped) == ["0"] and stopped["0"]["status"] == "diverged at iteration 1"
    for model, lr in ((1, 0.5), (2, 0.3)):
        assert _assert_model_exact(store, plan, model, X, y, lr) == plan.iterations
    sent = {task["job"] for event in workers.events for task in event["tasks"]}
    assert not {j for j in sent if plan.model_of(j)[0] == 0 and j > 1}


def test_when_every_model_stops_the_rounds_left_invoke_nobody():
    store, plan, workers, state, _, _ = _run([1e30, 1e30], "run-diverge-all", iterations=3)
    assert state["status"] == "done"
    stopped = store.job("run-diverge-all")["progress"]["stopped"]
    assert {m: info["status"] for m, info in stopped.items()} == {
        "0": "diverged at iteration 1", "1": "diverged at iteration 1"}
    last = max(info["round"] for info in stopped.values())
    assert not [e for e in workers.events if e["round"] > last]
    log = store.rounds("run-diverge-all")
    assert all(e["dispatch"]["workers"] == [] for e in log if e["round"] > last)
    assert len(log) == plan.rounds


class _Backend:
    """What `sgc status` / `sgc result` use of a backend, on the in-memory store."""

    def __init__(self, store):
        self.store = store

    def refresh(self, job: str) -> dict:
        return self.store.job(job)


@pytest.mark.parametrize("as_json", [False, True])
def test_status_and_result_show_each_models_status(monkeypatch, as_json):
    store, plan, _, _, _, _ = _run([1e30, 0.5], "run-diverge-cli", iterations=2)
    record = store.job("run-diverge-cli")
    store.put_json("runs/run-diverge-cli/result.json", summarize(record, plan,
                                                               store.rounds("run-diverge-cli")))
    store.update_job("run-diverge-cli", {"status": "done"})
    monkeypatch.setattr(stack_cli, "backend", lambda *a: _Backend(store))
    flag = ["--json"] if as_json else []
    status = CliRunner().invoke(jobs_cli.status, ["run-diverge-cli", *flag])
    result = CliRunner().invoke(jobs_cli.result, ["run-diverge-cli", *flag])
    assert status.exit_code == 0 and result.exit_code == 0, (status.output, result.output)
    if as_json:
        models = json.loads(status.output)["models"]
        assert [m["status"] for m in models] == ["diverged at iteration 1", "done"]
        shown = json.loads(result.output)["models"]
        assert shown[0]["status"] == "diverged at iteration 1" and shown[1]["status"] == "done"
        assert shown[0]["final_iteration"] == 0  # the last parameters that passed the check
    else:
        assert "diverged at iteration 1" in status.output
        assert "model 0 diverged at iteration 1: the step gives a parameter" in result.output


def test_the_divergence_rule():
    finite = np.ones(5)
    assert divergence(finite, np.ones(4, dtype=np.float32)) is None
    assert "non-finite entries" in divergence(np.array([1.0, np.inf]), np.ones(1))
    assert "non-finite parameters" in divergence(finite, np.array([np.nan], dtype=np.float32))
    assert "above the bound" in divergence(finite, np.array([2 * PARAMS_BOUND]))


def test_a_run_interrupted_after_the_stop_resumes_to_the_same_bits():
    whole, whole_plan, _, _, _, _ = _run([1e30, 0.5], "run-diverge-whole")
    store = new_store()
    forget("run-diverge-parts")
    plan, X, y = real_job(store, [1e30, 0.5], iterations=4, run_id="run-diverge-parts")
    delays = np.ones((plan.rounds, plan.n))
    delays[1, 1] = delays[3, 3] = 10.0
    workers = RealWorkers(store, plan, X, y, delays)
    state = {"job": "run-diverge-parts", "round": 1, "steps": 0, "execution": 1,
             "status": "running"}
    for _ in range(plan.rounds):  # one round per invocation, each from the stored state only
        forget("run-diverge-parts")
        state = rounds.round_step(store, state, workers, lambda: 900.0, clock=store.clock,
                                  max_rounds=1)
        if state["status"] == "done":
            break
    assert state["status"] == "done"
    for m in range(plan.M):
        key, whole_key = plan.final_params_key(m), whole_plan.final_params_key(m)
        assert whole.exists(whole_key) == store.exists(key) == (m == 1)
        if m == 1:
            assert whole.get_bytes(whole_key) == store.get_bytes(key)
    strip = [{k: v for k, v in e["update"].items() if k != "seconds"}
             for e in whole.rounds("run-diverge-whole")]
    assert strip == [{k: v for k, v in e["update"].items() if k != "seconds"}
                     for e in store.rounds("run-diverge-parts")]
    assert whole.job("run-diverge-whole")["progress"] == store.job("run-diverge-parts")["progress"]
