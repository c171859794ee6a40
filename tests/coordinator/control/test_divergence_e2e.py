"""End to end (moto Step Functions, the real worker and step handlers): a spec submit accepts
whose MLP explodes at run time stops that model alone; `sgc status` / `sgc result` say so."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from coordinator_e2e_helpers import assert_exact_decoding, make_spec, plan_of, run_job

from coordinator.cli import jobs as jobs_cli
from coordinator.cli import stack as stack_cli
from coordinator.control import reference
from coordinator.control.run_dataset import shuffled_table
from coordinator.storage import integrity

pytestmark = pytest.mark.slow


def test_an_exploding_mlp_stops_alone_and_the_cli_reports_it(emulator, backend, monkeypatch):
    # lr 1000 passes submit's bounds; on this data the MLP's weights pass 1e6 at iteration 3.
    spec = make_spec(models=[{"kind": "mlp", "hidden": 6, "lr": 1000.0, "seed": 0},
                             {"kind": "softmax", "lr": 0.5, "seed": 1}], iterations=4)
    job = run_job(emulator, backend, spec)
    record = backend.store.job(job)
    assert record["status"] == "done"
    stopped = record["progress"]["stopped"]
    assert list(stopped) == ["0"] and stopped["0"]["status"] == "diverged at iteration 3"
    plan = plan_of(backend, job)
    # Every decoded gradient is the full-batch one (the diverged step's too: it was finite).
    assert assert_exact_decoding(backend, job, spec) == 3 + 4
    X, y = shuffled_table(spec["dataset"])
    expected, _ = reference.train(plan.models[1], 0.5, 1, 4, X, y)
    np.testing.assert_allclose(backend.store.get_array(plan.final_params_key(1)), expected,
                               rtol=1e-4, atol=1e-5)
    # The tasks carried the digests the job recorded (the real worker checked them).
    assert len(plan.dataset.manifest_sha256) == 64
    assert plan.dataset.manifest_sha256 == integrity.manifest_checksum(backend.store,
                                                                       plan.dataset.prefix)
    checked = 0
    for w, item in backend.store.completions(job, 2).items():  # what a resumed Update reads
        for j, digest in item["sha256"].items():
            key = plan.result_key(2, int(j), w)
            assert digest == integrity.digest(backend.store.get_bytes(key))
            checked += 1
    assert checked >= plan.n
    monkeypatch.setattr(stack_cli, "backend", lambda *a: backend)
    status = CliRunner().invoke(jobs_cli.status, [job, "--json"])
    assert status.exit_code == 0, status.output
    assert [m["status"] for m in json.loads(status.output)["models"]] == [
        "diverged at iteration 3", "done"]
    for flag in ([], ["--json"]):
        result = CliRunner().invoke(jobs_cli.result, [job, *flag])
        assert result.exit_code == 0, result.output
    models = json.loads(result.output)["models"]
    assert models[0]["status"] == "diverged at iteration 3"
    assert models[0]["final_iteration"] == 2  # the newest parameters that passed the check
    assert models[0]["final_params_key"] == plan.params_key(5)
