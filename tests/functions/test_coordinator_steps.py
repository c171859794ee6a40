"""The step handlers Lambda runs (functions/coordinator_steps.py): each builds its store, invoker
and clock from the function's environment and context and hands the event to its step."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

import functions.coordinator_steps as steps
from coordinator.spec.jobspec import validate
from coordinator.storage.state import Store

SPEC = {"models": [{"kind": "softmax", "lr": 0.5, "seed": 0}],
        "dataset": {"name": "synthetic", "rows": 256, "features": 4, "classes": 3, "seed": 1},
        "iterations": 2, "workers": 4, "scheme": {"name": "gc", "s": 1},
        "wait": {"deadline_s": 4.0, "hard_limit_s": 30}}


class Context:
    """A Lambda context whose remaining time runs out after ``calls`` questions."""

    def __init__(self, calls: int = 10**6):
        self.calls = calls

    def get_remaining_time_in_millis(self) -> int:
        self.calls -= 1
        return 900_000 if self.calls >= 0 else 0


@pytest.fixture
def stack(monkeypatch):
    """Bucket, table and worker function named in the environment, as the stack sets them."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1", "SGC_BUCKET": "bkt-steps",
                        "SGC_TABLE": "steps", "SGC_WORKER_FUNCTION": "sgcflow-worker"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        store = Store()
        store.s3.create_bucket(Bucket="bkt-steps")
        store.ddb.create_table(
            TableName="steps", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                       {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}])
        steps._cached.clear()
        store.create_job("run-h", {"spec": validate(SPEC).raw, "status": "submitted",
                                   "created": 1})
        yield store
        steps._cached.clear()


def test_plan_handler_sets_the_job_up_in_the_environments_table(stack):
    state = steps.plan({"job": "run-h", "execution": 1}, None)
    assert (state["job"], state["round"], state["status"]) == ("run-h", 1, "running")
    assert stack.job("run-h")["plan"]["job"] == "run-h"


def test_plan_handler_with_continue_as_starts_the_next_execution(stack):
    sfn = boto3.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="sgcflow-job", roleArn="arn:aws:iam::123456789012:role/sfn",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    )["stateMachineArn"]
    out = steps.plan({"job": "run-h", "continue_as": 2, "state_machine_arn": machine,
                      "name": "run-h-x002"}, None)
    assert out["execution_arn"].endswith(":run-h-x002")
    assert json.loads(sfn.describe_execution(executionArn=out["execution_arn"])["input"]) == \
        {"job": "run-h", "execution": 2}
    assert stack.job("run-h")["execution"] == 2


def test_round_handler_dispatches_through_its_invoker_and_stops_when_its_time_is_up(
        stack, monkeypatch):
    state = steps.plan({"job": "run-h", "execution": 1}, None)
    sent = []
    monkeypatch.setattr(steps, "_invoker", lambda: lambda items, wrap=None: sent.extend(items))
    # Time enough to dispatch round 1, then none left to wait for its workers.
    out = steps.round_task(state, Context(calls=1))
    assert (out["round"], out["steps"], out["status"]) == (1, 1, "running")
    assert sorted(w for w, _ in sent) == [0, 1, 2, 3]
    assert {(e["run"], e["round"]) for _, e in sent} == {("run-h", 1)}
    assert "invoked" in stack.round("run-h", 1)


def test_finalize_handler_records_the_failure(stack):
    steps.plan({"job": "run-h", "execution": 1}, None)
    cause = json.dumps({"errorMessage": "worker 3: boom"})
    out = steps.finalize({"job": "run-h", "error": {"Error": "WorkerError", "Cause": cause}})
    assert out["status"] == "failed"
    assert stack.job("run-h")["error"] == {"type": "WorkerError", "message": "worker 3: boom"}
