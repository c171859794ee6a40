"""The worker with deep MLPs (moto S3): coded results decode to the float64 reference gradient on
both kernel paths, and a bad hidden list or activation in the event names its field."""

from __future__ import annotations

import numpy as np
import pytest

from coordinator.contract import errors
from coordinator.contract import gradients as kernels_reference
from coordinator.contract.kernel_paths import mlp_path
from coordinator.contract.keys import result_key
from coordinator.contract.models import ModelSpec
from functions import worker

RUN = "run-deep"
SPECS = {1: ModelSpec("mlp", 12, 3, [20, 12, 8], "tanh"),  # narrow: the fused Numba path
         2: ModelSpec("mlp", 12, 3, [300, 200])}             # wide: the BLAS path


def _event(aws, params: dict, worker_id: int, partitions: list[int]) -> dict:
    return {"run": RUN, "round": 1, "worker": worker_id, "bucket": aws.bucket,
            "tasks": [{"job": job, "model": spec.to_dict(), "params_key": params[job],
                       "dataset": "datasets/deep",
                       "coefficients": {str(p): 1.0 for p in partitions}}
                      for job, spec in SPECS.items()]}


def test_deep_models_decode_to_the_reference_gradient(aws):
    table = aws.prepare("datasets/deep", k=4, rows=800)
    params = {job: aws.put_npy(f"runs/{RUN}/params/job-{job:06d}.npy", spec.init(seed=job))
              for job, spec in SPECS.items()}
    assert {mlp_path(spec, 200) for spec in SPECS.values()} == {"deep", "blas"}
    for w, partitions in enumerate(([0, 1], [2, 3])):
        assert worker.handler(_event(aws, params, w, partitions), None)["status"] == "ok"
    for job, spec in SPECS.items():
        decoded = sum(aws.get_npy(result_key(RUN, 1, job, w)) for w in (0, 1))
        loss, grad = kernels_reference.loss_grad(spec, table.features, table.labels.astype(
            np.int32), aws.get_npy(params[job]))
        want = np.concatenate([[loss], grad])
        assert np.abs(decoded - want).max() <= 1e-5 * np.abs(want).max()


@pytest.mark.parametrize("model, field", [
    ({"hidden": []}, "tasks[0].model.hidden"),
    ({"hidden": [8, 0]}, "tasks[0].model.hidden[1]"),
    ({"activation": "sigmoid"}, "tasks[0].model.activation"),
])
def test_bad_deep_model_in_the_event_names_the_field(aws, model, field):
    aws.prepare("datasets/deep", k=2, rows=100)
    params = {job: aws.put_npy(f"runs/{RUN}/params/job-{job:06d}.npy", spec.init(seed=job))
              for job, spec in SPECS.items()}
    event = _event(aws, params, 0, [0])
    event["tasks"][0]["model"].update(model)
    with pytest.raises(errors.EventError) as info:
        worker.handler(event, None)
    assert info.value.field == field
