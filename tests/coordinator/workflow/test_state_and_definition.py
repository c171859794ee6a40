"""Conditional writes in the store, the ASL's shape, and the cost arithmetic."""

from __future__ import annotations

import json

import numpy as np
import pytest

from coordinator.control import cost
from coordinator.storage.state import JobNotFound
from coordinator.workflow.definition import STEP_BUDGET, STEP_HANDLERS, build_definition


@pytest.fixture
def store(moto_store):
    return moto_store


def test_round_fields_are_written_once(store):
    assert store.record_round("j", 3, "collect", {"stragglers": [1]}) == (True, {"stragglers": [1]})
    assert store.record_round("j", 3, "collect", {"stragglers": [2, 5]}) == \
        (False, {"stragglers": [1]})
    assert store.rounds("j") == [{"round": 3, "collect": {"stragglers": [1]}, "stragglers": [1],
                                  "late": []}]
    assert store.stragglers("j") == {3: [1]}
    assert store.observations("j") == {3: ([1], [])}
    assert store.rounds("j", only="collect") == [{"round": 3, "collect": {"stragglers": [1]}}]
    with pytest.raises(ValueError, match="round field must be one of"):
        store.record_round("j", 3, "colect", {})


def test_job_round_advances_only_from_the_expected_round(store):
    assert store.create_job("j", {"spec": {"a": 1}, "round": 0, "created": 1})
    assert not store.create_job("j", {"spec": {}, "round": 5})
    assert store.update_job("j", {"round": 1}, if_round=0)
    assert not store.update_job("j", {"round": 1}, if_round=0)  # a re-run: no double advance
    assert store.job("j")["round"] == 1 and store.job("j")["spec"] == {"a": 1}
    assert store.jobs() == ["j"]
    with pytest.raises(JobNotFound):
        store.job("nope")


def test_arrays_round_trip(store):
    store.put_array("k.npy", np.arange(5, dtype=np.float32))
    assert store.get_array("k.npy").dtype == np.float32
    assert store.exists("k.npy") and not store.exists("missing.npy")


def test_definition_wires_every_step_and_continues_as_new():
    arns = {name: f"arn:aws:lambda:us-east-1:1:function:{name}" for name in STEP_HANDLERS}
    definition = build_definition(arns)
    states = definition["States"]
    assert definition["StartAt"] == "Plan"
    assert states["Round"]["Resource"] == arns["round"]
    assert states["Round"]["Next"] == "Route" and states["Route"]["Default"] == "Round"
    route = states["Route"]["Choices"]
    assert {"Variable": "$.steps", "NumericGreaterThanEquals": STEP_BUDGET,
            "Next": "ContinueAsNew"} in route
    assert states["ContinueAsNew"]["Resource"] == arns["plan"]
    assert states["ContinueAsNew"]["Parameters"]["state_machine_arn.$"] == "$$.StateMachine.Id"
    assert all(r["IntervalSeconds"] >= 1 for s in states.values() for r in s.get("Retry", []))
    assert STEP_BUDGET * 6 < 25_000  # ~6 history events per Lambda step
    json.dumps(definition)
    with pytest.raises(ValueError, match="missing \\['round'\\]"):
        build_definition({k: v for k, v in arns.items() if k != "round"})


def test_cost_estimate_arithmetic():
    # 400 rounds in Round tasks of 200 rounds, over 2 executions (one continue-as-new):
    # 2 x (Plan, Route, end pair) + 2 x (Round, Route) transitions; 2 Plans, 2 Rounds, 1 Finalize.
    estimate = cost.estimate(worker_seconds=1024.0, worker_invocations=256,
                             worker_memory_mb=1024, step_seconds=0.0, step_memory_mb=1024,
                             rounds=400, rounds_per_task=200, executions=2)
    assert estimate["worker_gb_s"] == 1024.0
    assert estimate["transitions"] == 2 * 4 + 2 * 2
    assert estimate["requests"] == 256 + 2 + 2 + 1
    expected = (1024 * cost.GB_SECOND_USD + 261 * cost.REQUEST_USD
                + 12 * cost.TRANSITION_USD)
    assert estimate["usd"] == round(expected, 6)
    assert cost.round_tasks(401, 200) == 3 and cost.round_tasks(0, 200) == 0
