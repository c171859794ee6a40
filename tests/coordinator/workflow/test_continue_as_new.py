"""A long job hands over to fresh executions of the same state machine (history-event limit)."""

from __future__ import annotations

import numpy as np
import pytest
from coordinator_e2e_helpers import assert_exact_decoding, final_params, make_spec
from timeouts import scaled, wait_for

from coordinator.backends import emulator_backend
from coordinator.emulator import Emulator
from coordinator.spec.jobspec import validate

pytestmark = pytest.mark.slow


def test_job_continues_in_new_executions_and_finishes_exactly(monkeypatch):
    spec = make_spec(stragglers={"model": "fixed", "rounds": {"3": [2]}, "delay_s": 10.0})
    monkeypatch.setenv("SGC_ROUNDS_PER_TASK", "1")  # one round per Round task
    with Emulator(step_budget=3) as emulator:  # 3 Round tasks (rounds) per execution
        backend = emulator_backend(emulator)
        run_id = backend.submit(validate(spec))
        wait_for(lambda: backend.store.job(run_id).get("status") in ("done", "failed"), 240,
                   f"job {run_id} finished")
        record = backend.store.job(run_id)
        assert record["status"] == "done", record.get("error")
        sfn = emulator.client("stepfunctions")
        executions = sfn.list_executions(stateMachineArn=emulator.state_machine_arn)["executions"]
        names = sorted(e["name"] for e in executions)
        assert names == [f"{run_id}-x00{i}" for i in (1, 2, 3)]
        for execution in executions:
            assert emulator.wait(execution["executionArn"], scaled(60))["status"] == "SUCCEEDED"
        assert record["execution"] == 3
        assert [e["round"] for e in backend.store.rounds(run_id)] == list(range(1, 8))
        assert assert_exact_decoding(backend, run_id, spec) == 6
        assert all(np.isfinite(p).all() for p in final_params(backend, run_id))
