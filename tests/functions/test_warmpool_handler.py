"""The scheduled warm-pool handler on moto (S3 plans, the job table, Step Functions, Lambda with
the provisioned-concurrency shim): a job submitted with notice is provisioned ahead and its
first execution starts once READY; the worker answers a ping by holding its environment."""

from __future__ import annotations

import io
import json
import zipfile

import boto3
import pytest

from coordinator.storage.state import Store
from coordinator.warmpool import notice, planner
from coordinator.warmpool.driver import WarmPoolDriver
from coordinator.warmpool.moto_shim import ProvisionedConcurrencyShim

START = 99_960.0
SPEC = {"iterations": 1000, "workers": 256, "regions": ["us-east-1"],
        "scheme": {"name": "gc", "s": 2}}


def _worker_function() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return 1\n")
    role = boto3.client("iam").create_role(RoleName="w", AssumeRolePolicyDocument="{}")
    client = boto3.client("lambda")
    client.create_function(FunctionName="sgcflow-worker", Runtime="python3.12",
                           Role=role["Role"]["Arn"], Handler="handler.handler",
                           Code={"ZipFile": buffer.getvalue()})
    version = client.publish_version(FunctionName="sgcflow-worker")["Version"]
    client.create_alias(FunctionName="sgcflow-worker", Name="live", FunctionVersion=version)


@pytest.fixture
def stack(aws, monkeypatch):
    """Table, bucket (from the ``aws`` fixture), a state machine and the worker alias."""
    _worker_function()
    machine = boto3.client("stepfunctions").create_state_machine(
        name="sgcflow-job", roleArn="arn:aws:iam::123456789012:role/sfn",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass",
                                                                  "End": True}}}))
    for name, value in {"SGC_STATE_MACHINE": machine["stateMachineArn"],
                        "SGC_WORKER_FUNCTION": "sgcflow-worker",
                        "SGC_WARMPOOL_REGIONS": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SGC_WARMPOOL_PRICES", json.dumps({"us-east-1": {"source": "test"}}))
    return Store()


def _driver(shim):
    return WarmPoolDriver("sgcflow-worker", "live", sleep=lambda _: None,
                          client_factory=lambda r: shim.attach(boto3.client(
                              "lambda", region_name=r)))


def test_warmpool_handler_starts_a_job_with_notice_once_its_capacity_is_ready(stack):
    from functions import warmpool_handler

    notice.schedule(stack, "run-20261130-000000-abcdef", {**SPEC, "start_at": START}, 32,
                    0.0, "aws")
    shim, pinged = ProvisionedConcurrencyShim(ready_after_reads=2), []
    tick = lambda now: warmpool_handler.handler(  # noqa: E731
        {"now_s": now}, driver=_driver(shim), ping=lambda *a: pinged.append(a))
    lead = planner.lead_time_s(288)
    report = tick(START - lead + 30)
    assert report["targets"] == {"us-east-1": 288} and pinged == []
    assert report["regions"]["us-east-1"]["action"] == "put"
    assert stack.job("run-20261130-000000-abcdef")["status"] == "scheduled"
    tick(START - 60)
    started = tick(START)
    assert started["start"] == [{"job_id": "run-20261130-000000-abcdef",
                                 "why": "capacity ready"}]
    record = stack.job("run-20261130-000000-abcdef")
    assert record["status"] == "submitted" and record["execution"] == 1
    execution = boto3.client("stepfunctions").describe_execution(
        executionArn=record["execution_arn"])
    assert json.loads(execution["input"]) == {"job": "run-20261130-000000-abcdef",
                                              "execution": 1}
    assert tick(START + 60)["start"] == []  # started once


def test_warmpool_handler_raises_when_a_part_of_its_tick_failed(stack):
    from coordinator.warmpool.manager import TickFailed
    from functions import warmpool_handler

    jobs = [{"job_id": j, "spec": {**SPEC, "workers": 500}, "start_s": START,
             "spare_environments": 0} for j in ("a", "b")]
    shim = ProvisionedConcurrencyShim()
    with pytest.raises(TickFailed, match="Concurrent executions"):
        warmpool_handler.handler({"jobs": jobs, "now_s": START}, driver=_driver(shim),
                                 ping=lambda *a: None)


def test_warmpool_handler_needs_the_worker_function(monkeypatch):
    from functions import warmpool_handler

    monkeypatch.delenv("SGC_WORKER_FUNCTION", raising=False)
    with pytest.raises(ValueError, match="^SGC_WORKER_FUNCTION"):
        warmpool_handler.handler({"jobs": []})


def test_warmpool_ping_holds_a_worker_environment_and_says_it_was_cold(aws):
    from coordinator.contract.errors import EventError
    from functions import worker

    first = worker.handler({"warm": {"job_id": "j", "hold_s": 0}})
    assert first["warm"] and first["cold_start"] and first["init_s"] > 0
    again = worker.handler({"warm": {"job_id": "j", "hold_s": 0.01}})
    assert not again["cold_start"] and again["init_s"] == 0.0
    assert aws.records() == []  # a ping records nothing
    with pytest.raises(EventError, match=r"^warm.hold_s: must be seconds in \[0, 60\]"):
        worker.handler({"warm": {"hold_s": 600}})
