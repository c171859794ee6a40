"""The worker with a cnn (moto S3): on an image dataset (the manifest's image_shape) the coded
results decode to the float64 reference gradient on both kernel paths; a model whose input does
not match the dataset's images, a bad conv field, or a bad image_shape in a manifest is refused
naming the field, before anything is written."""

from __future__ import annotations

import json

import numpy as np
import pytest

from coordinator.contract import errors
from coordinator.contract import gradients as kernels_reference
from coordinator.contract.kernel_paths import cnn_path
from coordinator.contract.keys import result_key
from coordinator.contract.models import ModelSpec
from coordinator.storage import dataset_prep
from functions import worker

RUN = "run-cnn"
SMALL = ModelSpec("cnn", 64, 10, [16], "relu", [1, 8, 8], [[4, 3], [8, 3]], 2)
WIDE = ModelSpec("cnn", 64, 10, [], "relu", [1, 8, 8], [[16, 3], [64, 3]], 2)
SPECS = {1: SMALL, 2: WIDE}


def _prepare(aws, prefix: str, k: int, image=True) -> dataset_prep.Table:
    table = dataset_prep.load("digits-images" if image else "digits")
    dataset_prep.prepare(table, f"s3://{aws.bucket}/{prefix}", k=k, s3=aws.s3)
    return table


def _event(aws, params: dict, worker_id: int, partitions: list[int], prefix: str) -> dict:
    return {"run": RUN, "round": 1, "worker": worker_id, "bucket": aws.bucket,
            "tasks": [{"job": job, "model": spec.to_dict(), "params_key": params[job],
                       "dataset": prefix, "coefficients": {str(p): 1.0 for p in partitions}}
                      for job, spec in SPECS.items()]}


def _params(aws) -> dict:
    return {job: aws.put_npy(f"runs/{RUN}/params/job-{job:06d}.npy",
                             spec.init(seed=job) * np.float32(0.1))
            for job, spec in SPECS.items()}


def test_cnns_decode_to_the_reference_gradient(aws):
    table = _prepare(aws, "datasets/images", k=4)
    params = _params(aws)
    assert {cnn_path(spec, 450) for spec in SPECS.values()} == {"fused", "blas"}
    for w, partitions in enumerate(([0, 1], [2, 3])):
        assert worker.handler(_event(aws, params, w, partitions, "datasets/images"),
                              None)["status"] == "ok"
    for job, spec in SPECS.items():
        decoded = sum(aws.get_npy(result_key(RUN, 1, job, w)) for w in (0, 1))
        loss, grad = kernels_reference.loss_grad(spec, table.features, table.labels.astype(
            np.int32), aws.get_npy(params[job]))
        want = np.concatenate([[loss], grad])
        assert np.abs(decoded - want).max() <= 1e-5 * np.abs(want).max()


def test_a_cnn_reads_a_tabular_dataset_of_the_right_width(aws):
    _prepare(aws, "datasets/flat", k=2, image=False)
    event = _event(aws, _params(aws), 0, [0], "datasets/flat")
    assert worker.handler(event, None)["status"] == "ok"


def test_an_input_that_is_not_the_datasets_image_shape_is_refused(aws):
    _prepare(aws, "datasets/images", k=2)
    event = _event(aws, _params(aws), 0, [0], "datasets/images")
    event["tasks"][1]["model"].update(input=[1, 4, 16])  # same parameter count
    with pytest.raises(errors.EventError) as info:
        worker.handler(event, None)
    assert info.value.field == "tasks[1].model.input" and "[1, 8, 8]" in str(info.value)
    assert not aws.keys(f"runs/{RUN}/results")


@pytest.mark.parametrize("model, field", [
    ({"conv": [[4, 2]]}, "tasks[0].model.conv[0][1]"),
    ({"pool": 0}, "tasks[0].model.pool"),
    ({"n_features": 63}, "tasks[0].model.n_features"),
    ({"conv": None}, "tasks[0].model.conv"),
])
def test_bad_cnn_model_in_the_event_names_the_field(aws, model, field):
    _prepare(aws, "datasets/images", k=2)
    event = _event(aws, _params(aws), 0, [0], "datasets/images")
    event["tasks"][0]["model"].update(model)
    with pytest.raises(errors.EventError) as info:
        worker.handler(event, None)
    assert info.value.field == field


def test_a_manifest_with_a_bad_image_shape_is_refused(aws):
    _prepare(aws, "datasets/images", k=2)
    key = "datasets/images/manifest.json"
    manifest = json.loads(aws.s3.get_object(Bucket=aws.bucket, Key=key)["Body"].read())
    manifest["image_shape"] = [1, 8, 9]
    aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=json.dumps(manifest).encode())
    with pytest.raises(errors.SchemaMismatchError) as info:
        worker.handler(_event(aws, _params(aws), 0, [0], "datasets/images"), None)
    assert info.value.field.endswith("image_shape")
