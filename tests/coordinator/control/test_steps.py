"""The workflow's steps besides Round (tests/coordinator/control/test_round_runner.py): Plan sets
a job up once, Continue starts the next execution once, Finalize writes the result or the
failure. Plan on a moto bucket (it writes the dataset), the others on the in-memory store."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fake_round import FakeClock, FakeWorkers, TimedStore, make_job

from coordinator.contract import keys
from coordinator.contract.models import ModelSpec
from coordinator.control import rounds
from coordinator.control.memstore import MemoryStore
from coordinator.control.plan import JobPlan
from coordinator.control.session_cache import forget
from coordinator.spec.jobspec import JobSpecError, validate

SPEC = {"models": [{"kind": "softmax", "lr": 0.5, "seed": 0}],
        "dataset": {"name": "synthetic", "rows": 256, "features": 4, "classes": 3, "seed": 1},
        "iterations": 2, "workers": 4, "scheme": {"name": "gc", "s": 1},
        "wait": {"deadline_s": 4.0, "hard_limit_s": 30}}
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:sgcflow-job"


@pytest.fixture
def store(moto_store):
    return moto_store


def _submitted(store, run_id: str, spec: dict = SPEC) -> dict:
    raw = validate(spec).raw
    store.create_job(run_id, {"spec": raw, "status": "submitted", "created": 1})
    return raw


def test_plan_sets_the_job_up_once(store):
    raw = _submitted(store, "run-plan")
    arn = MACHINE.replace(":stateMachine:", ":execution:") + ":run-plan-x001"
    state = rounds.plan_step(store, {"job": "run-plan", "execution": 1, "execution_arn": arn})
    record = store.job("run-plan")
    plan = JobPlan.from_dict(record["plan"])
    assert state == {"job": "run-plan", "round": 1, "rounds": plan.rounds, "steps": 0,
                     "execution": 1, "status": "running", "next_execution": 2,
                     "next_name": "run-plan-x002"}
    assert (plan.run_id, plan.n, plan.T, plan.jobs) == ("run-plan", 4, 0, 2)
    assert plan.dataset.partition_rows == (64, 64, 64, 64)
    assert record["status"] == "running" and record["execution_arn"] == arn
    model = ModelSpec.from_dict(plan.models[0])
    assert (model.n_features, model.n_classes) == (4, 3)
    assert store.get_array(plan.params_key(1)).size == model.n_params
    published = store.get_json(keys.warmpool_plan_key("run-plan"))
    assert (published["job_id"], published["spec"]) == ("run-plan", raw)
    # A retried Plan (Step Functions retries a failed task) changes nothing.
    assert rounds.plan_step(store, {"job": "run-plan", "execution": 1}) == state
    assert store.job("run-plan")["started"] == record["started"]


def test_plan_refuses_a_model_the_dataset_cannot_train_naming_the_model(store):
    _submitted(store, "run-bad", {**SPEC, "models": [{"kind": "logreg", "lr": 0.5}]})
    with pytest.raises(JobSpecError, match=r"models\[0\].*3 classes"):
        rounds.plan_step(store, {"job": "run-bad"})
    assert "plan" not in store.job("run-bad")


class FakeStepFunctions:
    class exceptions:  # noqa: N801  (boto3's shape: client.exceptions.<Name>)
        class ExecutionAlreadyExists(Exception):
            pass

    def __init__(self):
        self.started: list[tuple[str, str, dict]] = []

    def start_execution(self, stateMachineArn: str, name: str, input: str) -> dict:  # noqa: N803
        if any(started[1] == name for started in self.started):
            raise self.exceptions.ExecutionAlreadyExists(name)
        self.started.append((stateMachineArn, name, json.loads(input)))
        return {"executionArn": stateMachineArn.replace(":stateMachine:", ":execution:")
                + f":{name}"}


def test_continue_starts_the_next_execution_once():
    store, sfn = MemoryStore(), FakeStepFunctions()
    store.create_job("run-c", {"status": "running", "execution": 1})
    event = {"job": "run-c", "continue_as": 2, "state_machine_arn": MACHINE,
             "name": "run-c-x002"}
    expected = MACHINE.replace(":stateMachine:", ":execution:") + ":run-c-x002"
    assert rounds.continue_step(store, event, sfn) == {"execution_arn": expected}
    assert sfn.started == [(MACHINE, "run-c-x002", {"job": "run-c", "execution": 2})]
    record = store.job("run-c")
    assert (record["execution"], record["execution_arn"]) == (2, expected)
    # Retried after the start went through: the same execution, none started twice.
    assert rounds.continue_step(store, event, sfn) == {"execution_arn": expected}
    assert len(sfn.started) == 1


def _finished_job(run_id: str):
    clock = FakeClock()
    store = TimedStore(clock)
    forget(run_id)
    plan = make_job(store, scheme={"name": "gc", "s": 1}, iterations=2, run_id=run_id)
    workers = FakeWorkers(store, plan, np.ones((plan.rounds, plan.n)))
    state = rounds.round_step(store, {"job": run_id, "round": 1, "steps": 0, "execution": 1,
                                      "status": "running"}, workers, lambda: 900.0, clock=clock)
    return store, plan, state


def test_finalize_writes_the_result_and_marks_the_job_done():
    store, plan, state = _finished_job("run-final")
    assert state["status"] == "done"
    assert rounds.finalize_step(store, state) == {**state, "status": "done"}
    record = store.job("run-final")
    result = store.get_json(keys.result_summary_key("run-final"))
    assert record["status"] == "done" and record["result"] == result["summary"]
    rounds_run = record["rounds"]  # two models batched: each round computes both gradients
    assert rounds_run == plan.jobs // plan.M < plan.rounds
    assert result["job"] == "run-final" and len(result["rounds"]) == rounds_run
    assert result["summary"]["rounds"] == rounds_run


def test_finalize_records_a_failure_with_its_message_unless_the_execution_is_stale():
    store = MemoryStore()
    store.create_job("run-f", {"status": "running", "execution_arn": "arn:x002"})
    cause = json.dumps({"errorMessage": "models[0]: boom", "errorType": "JobSpecError"})
    stale = rounds.finalize_step(store, {"job": "run-f", "execution_arn": "arn:x001",
                                         "error": {"Error": "JobSpecError", "Cause": cause}})
    assert stale["status"] == "stale" and store.job("run-f")["status"] == "running"
    failed = rounds.finalize_step(store, {"job": "run-f", "execution_arn": "arn:x002",
                                          "error": {"Error": "JobSpecError", "Cause": cause}})
    record = store.job("run-f")
    assert failed["status"] == "failed" and record["status"] == "failed"
    assert record["error"] == {"type": "JobSpecError", "message": "models[0]: boom"}
