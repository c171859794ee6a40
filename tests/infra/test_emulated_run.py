"""The state machine CloudFormation would deploy, rendered to plain ASL, runs a job under moto."""

from __future__ import annotations

import json

import numpy as np
import pytest
from loopback_only import loopback_only
from timeouts import scaled

from coordinator.backends.base import Backend
from coordinator.control import reference
from coordinator.control.plan import JobPlan
from coordinator.control.run_dataset import shuffled_table
from coordinator.emulator import Emulator
from coordinator.emulator.core import ACCOUNT, REGION, ROLE_NAME
from coordinator.spec.jobspec import validate
from coordinator.storage.state import Store
from infra.render import render_definition

# One synthesis per session: keep its users on one xdist worker (make test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("infra-synth")

SPEC = {"models": [{"kind": "softmax", "lr": 0.5, "seed": 0}],
        "dataset": {"name": "synthetic", "rows": 256, "features": 6, "classes": 3, "seed": 1},
        "iterations": 2, "workers": 4, "scheme": {"name": "gc", "s": 1},
        "wait": {"deadline_s": 5.0, "hard_limit_s": 30},
        "stragglers": {"model": "none"}}


@pytest.mark.slow
def test_synthesized_definition_runs_a_small_job_to_success(template):
    with loopback_only() as attempts, Emulator() as emulator:
        definition = render_definition(template, emulator.function_arns(),
                                       region=REGION, account=ACCOUNT)
        sfn = emulator.client("stepfunctions")
        arn = sfn.create_state_machine(
            name="sgcflow-job-from-template", definition=json.dumps(definition),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}", type="STANDARD",
        )["stateMachineArn"]
        backend = Backend("emulator", Store(endpoint_url=emulator.endpoint_url), sfn, arn)
        run_id = backend.submit(validate(SPEC))
        record = backend.store.job(run_id)
        assert record["execution_arn"].split(":")[-2] == "sgcflow-job-from-template"
        described = emulator.wait(record["execution_arn"], timeout_s=scaled(180))
        assert described["status"] == "SUCCEEDED", backend.store.job(run_id).get("error")
        record = backend.store.job(run_id)
        assert record["status"] == "done"
        rounds = backend.store.rounds(run_id)
        # gc: T = 0, one job per round -> 2 iterations = 2 rounds, each decoding its job.
        assert [entry["round"] for entry in rounds] == [1, 2]
        assert [sorted(map(int, e["update"]["decoded"])) for e in rounds] == [[1], [2]]
        # The decoded updates are exact: the final parameters equal plain full-batch training.
        plan = JobPlan.from_dict(record["plan"])
        X, y = shuffled_table(SPEC["dataset"])
        expected, _ = reference.train(plan.models[0], 0.5, 0, SPEC["iterations"], X, y)
        final = backend.store.get_array(plan.final_params_key(0))
        np.testing.assert_allclose(final, expected, rtol=1e-4, atol=1e-5)
    assert attempts == []  # nothing, teardown included, tried to leave the machine
