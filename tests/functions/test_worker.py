"""The worker handler against moto S3 + DynamoDB: coded results that decode to the full-batch
gradient, several jobs and models per invocation, idempotent re-delivery, caching, bad input."""

from __future__ import annotations

import hashlib
import io
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from coordinator.contract import errors
from coordinator.contract import gradients as kernels_reference
from coordinator.contract.keys import result_key
from coordinator.contract.models import ModelSpec
from functions import worker

RUN = "run-test"
SPECS = {1: ModelSpec("logreg", 12, 2), 2: ModelSpec("softmax", 12, 3),
         3: ModelSpec("mlp", 12, 3, 6)}


def _full_gradient(table, spec: ModelSpec, params: np.ndarray) -> np.ndarray:
    labels = table.labels.astype(np.int32)
    if spec.kind == "logreg":
        labels = labels % 2  # the logreg job trains on parity labels, see _prepare
    loss, grad = kernels_reference.loss_grad(spec, table.features, labels, params)
    return np.concatenate([[loss], grad])


def _prepare(aws, k: int = 8):
    """Two datasets with the same rows: 3-class labels, and their parity for logreg."""
    table = aws.prepare("datasets/syn", k=k)
    from coordinator.storage import dataset_prep

    binary = dataset_prep.Table(table.name, table.features, table.labels % 2, table.feature_columns)
    dataset_prep.prepare(binary, f"s3://{aws.bucket}/datasets/syn-binary", k=k, s3=aws.s3)
    params = {job: aws.put_npy(f"runs/{RUN}/params/job-{job:06d}.npy",
                               spec.init(seed=job) + np.float32(0.1 * job))
              for job, spec in SPECS.items()}
    return table, params


def _event(aws, params, worker_id: int, coefficients: dict[int, float], jobs=(1, 2, 3),
           round_: int = 1) -> dict:
    return {"run": RUN, "round": round_, "worker": worker_id, "bucket": aws.bucket,
            "tasks": [{"job": job, "model": SPECS[job].to_dict(), "params_key": params[job],
                       "dataset": "datasets/syn-binary" if job == 1 else "datasets/syn",
                       "coefficients": {str(p): c for p, c in coefficients.items()}}
                      for job in jobs]}


def _fractional_repetition(n: int, s: int) -> dict[int, dict[int, float]]:
    """GC by fractional repetition: groups of s+1 workers share s+1 partitions, coefficient 1."""
    size = s + 1
    return {w: {p: 1.0 for p in range((w // size) * size, (w // size + 1) * size)}
            for w in range(n)}


def test_coded_results_decode_to_the_full_gradient(aws):
    table, params = _prepare(aws)
    assignment = _fractional_repetition(n=8, s=1)
    for w, coefficients in assignment.items():
        out = worker.handler(_event(aws, params, w, coefficients), None)
        assert out["status"] == "ok"
        assert out["results"] == {str(j): result_key(RUN, 1, j, w) for j in SPECS}
    stragglers = {0, 3, 5, 6}  # one per group: decode picks the survivor of each group
    survivors = [w for w in range(8) if w not in stragglers]
    assert survivors == [1, 2, 4, 7]
    for job, spec in SPECS.items():
        decoded = sum(aws.get_npy(result_key(RUN, 1, job, w)) for w in survivors)
        want = _full_gradient(table, spec, aws.get_npy(params[job]))
        assert decoded.dtype == np.float64 and decoded.shape == (spec.n_params + 1,)
        assert np.abs(decoded - want).max() <= 1e-5 * np.abs(want).max()


def test_coefficients_scale_each_partition(aws):
    table, params = _prepare(aws, k=4)
    full = worker.handler(_event(aws, params, 0, {0: 1.0, 1: 1.0, 2: 1.0, 3: 1.0}), None)
    coded = worker.handler(_event(aws, params, 1, {0: 2.0, 1: -0.5, 3: 0.0}), None)
    one = worker.handler(_event(aws, params, 2, {0: 1.0}), None)
    two = worker.handler(_event(aws, params, 3, {1: 1.0}), None)
    for job in SPECS:
        got = aws.get_npy(coded["results"][str(job)])
        want = 2.0 * aws.get_npy(one["results"][str(job)]) - 0.5 * aws.get_npy(
            two["results"][str(job)])
        np.testing.assert_allclose(got, want, rtol=1e-12)
        all_four = aws.get_npy(full["results"][str(job)])
        reference = _full_gradient(table, SPECS[job], aws.get_npy(params[job]))
        assert np.abs(all_four - reference).max() <= 1e-5 * np.abs(reference).max()


def test_redelivery_overwrites_and_records_once(aws):
    _, params = _prepare(aws, k=4)
    event = _event(aws, params, 5, {0: 1.0, 2: 1.0})
    first = worker.handler(event, None)
    keys = aws.keys(f"runs/{RUN}/results/")
    blobs = {k: aws.get_npy(k) for k in keys}
    second = worker.handler(event, None)
    assert first["results"] == second["results"]
    assert aws.keys(f"runs/{RUN}/results/") == keys == sorted(first["results"].values())
    assert all(np.array_equal(aws.get_npy(k), blob) for k, blob in blobs.items())
    records = aws.records()
    assert len(records) == 1
    record = records[0]
    assert record["pk"]["S"] == f"{RUN}#round#000001" and record["sk"]["S"] == "worker#0005"
    assert record["status"]["S"] == "ok"
    assert {j: v["S"] for j, v in record["results"]["M"].items()} == first["results"]


def test_cold_then_warm_and_partitions_downloaded_once(aws):
    _, params = _prepare(aws, k=4)
    first = worker.handler(_event(aws, params, 0, {0: 1.0, 1: 1.0}), None)
    store = worker.runtime().store
    assert store.downloads == 4  # 2 partitions x 2 datasets
    second = worker.handler(_event(aws, params, 0, {0: 1.0, 1: 1.0}, round_=2), None)
    assert store.downloads == 4
    assert first["timings"]["cold_start"] is True and first["timings"]["init_s"] > 0
    assert second["timings"]["cold_start"] is False and second["timings"]["init_s"] == 0.0
    assert set(second["timings"]) == {"cold_start", "init_s", "download_s", "compute_s",
                                      "upload_s", "finished_at"}
    # a new process would find the Parquet bytes in /tmp: no S3 read for the partitions
    worker.reset_runtime()
    worker.handler(_event(aws, params, 0, {0: 1.0, 1: 1.0}, round_=3), None)
    assert worker.runtime().store.downloads == 0


def _expect_error(aws, event, error_type, *fragments):
    with pytest.raises(error_type) as info:
        worker.handler(event, None)
    for fragment in fragments:
        assert fragment in str(info.value)
    (record,) = [r for r in aws.records() if r["sk"]["S"] == f"worker#{event['worker']:04d}"]
    assert record["status"]["S"] == "error"
    assert record["error_type"]["S"] == error_type.__name__
    assert record["error_message"]["S"] == str(info.value)
    return info.value


def test_missing_partition_key(aws):
    _, params = _prepare(aws, k=4)
    error = _expect_error(aws, _event(aws, params, 1, {0: 1.0, 7: 1.0}, jobs=(2,)),
                          errors.MissingObjectError, "datasets/syn/part-00007.parquet",
                          "k=4")
    assert error.field == "datasets/syn/part-00007.parquet"
    aws.s3.delete_object(Bucket=aws.bucket, Key="datasets/syn/part-00002.parquet")
    _expect_error(aws, _event(aws, params, 2, {2: 1.0}, jobs=(2,)), errors.MissingObjectError,
                  "datasets/syn/part-00002.parquet", "no such object")
    assert not aws.keys(f"runs/{RUN}/results/")


def _bad_dataset(aws, prefix: str, columns: dict, fix_checksum: bool) -> None:
    """A copy of datasets/syn whose part 0 is replaced by a table of ``columns``."""
    body = aws.s3.get_object(Bucket=aws.bucket, Key="datasets/syn/manifest.json")["Body"]
    manifest = json.loads(body.read())
    sink = io.BytesIO()
    pq.write_table(pa.table(columns), sink)
    blob = sink.getvalue()
    aws.s3.put_object(Bucket=aws.bucket, Key=f"{prefix}/part-00000.parquet", Body=blob)
    if fix_checksum:
        manifest["partitions"][0].update(sha256=hashlib.sha256(blob).hexdigest(), rows=3)
    aws.s3.put_object(Bucket=aws.bucket, Key=f"{prefix}/manifest.json",
                      Body=json.dumps(manifest).encode())


@pytest.mark.parametrize("case, fragments", [
    ("checksum", ["datasets/bad/part-00000.parquet sha256", "manifest says"]),
    ("type", ["datasets/bad/part-00000.parquet column 'x003'", "type double",
              "requires float32"]),
    ("columns", ["datasets/bad/part-00000.parquet", "missing ['x011']", "unexpected ['z']"]),
])
def test_schema_mismatch(aws, case, fragments):
    _, params = _prepare(aws, k=2)
    columns = {f"x{j:03d}": pa.array(np.zeros(3, np.float32)) for j in range(12)}
    if case == "type":
        columns["x003"] = pa.array(np.zeros(3))
    if case == "columns":
        columns["z"] = columns.pop("x011")
    columns["label"] = pa.array(np.zeros(3, np.float32))
    _bad_dataset(aws, "datasets/bad", columns, fix_checksum=case != "checksum")
    event = _event(aws, params, 3, {0: 1.0}, jobs=(2,))
    event["tasks"][0]["dataset"] = "datasets/bad"
    _expect_error(aws, event, errors.SchemaMismatchError, *fragments)


def test_wrong_model_width_is_a_parameter_length_error(aws):
    _, params = _prepare(aws, k=2)
    event = _event(aws, params, 4, {0: 1.0}, jobs=(2,))
    event["tasks"][0]["model"]["n_features"] = 11
    _expect_error(aws, event, errors.ParameterError, "params/job-000002.npy", "length 39",
                  "needs 36")


def test_model_width_disagrees_with_dataset(aws):
    _, params = _prepare(aws, k=2)
    spec = ModelSpec("softmax", 11, 3)
    key = aws.put_npy("runs/x/params/narrow.npy", spec.init())
    event = _event(aws, params, 4, {0: 1.0}, jobs=(2,))
    event["tasks"][0].update(model=spec.to_dict(), params_key=key)
    _expect_error(aws, event, errors.EventError, "tasks[0].model.n_features", "12 feature")


def test_labels_out_of_range_for_the_model(aws):
    _, params = _prepare(aws, k=2)
    event = _event(aws, params, 6, {0: 1.0}, jobs=(1,))
    event["tasks"][0]["dataset"] = "datasets/syn"  # 3-class labels for a binary model
    _expect_error(aws, event, errors.SchemaMismatchError, "part-00000.parquet column 'label'",
                  "n_classes=2")


@pytest.mark.parametrize("bad, fragment", [
    (np.zeros(5, np.float32), "length 5"),
    (np.full(39, np.nan, np.float32), "not finite (first at index 0"),
    (np.zeros((3, 13), np.float32), "flat vector"),
    (np.zeros(39, np.int64), "dtype int64"),
])
def test_bad_parameter_vectors(aws, bad, fragment):
    _, params = _prepare(aws, k=2)
    key = aws.put_npy("runs/x/params/bad.npy", bad)
    event = _event(aws, params, 7, {0: 1.0}, jobs=(2,))
    event["tasks"][0]["params_key"] = key
    error = _expect_error(aws, event, errors.ParameterError, "runs/x/params/bad.npy", fragment)
    assert error.field == key


def test_missing_parameter_object(aws):
    _, params = _prepare(aws, k=2)
    event = _event(aws, params, 7, {0: 1.0}, jobs=(2,))
    event["tasks"][0]["params_key"] = "runs/x/params/none.npy"
    _expect_error(aws, event, errors.MissingObjectError, "runs/x/params/none.npy")


@pytest.mark.parametrize("mutate, field", [
    (lambda e: e.update(round=0), "round"),
    (lambda e: e.update(run="a/b"), "run"),
    (lambda e: e.pop("tasks"), "tasks"),
    (lambda e: e["tasks"][0].update(job=e["tasks"][1]["job"]), "tasks[1].job"),
    (lambda e: e["tasks"][0]["model"].update(kind="svm"), "tasks[0].model.kind"),
    (lambda e: e["tasks"][1].update(coefficients={"x": 1.0}), "tasks[1].coefficients['x']"),
    (lambda e: e["tasks"][1].update(coefficients={"0": float("nan")}),
     "tasks[1].coefficients['0']"),
])
def test_malformed_events_name_the_field(aws, mutate, field):
    _, params = _prepare(aws, k=2)
    event = _event(aws, params, 1, {0: 1.0})
    mutate(event)
    with pytest.raises(errors.EventError) as info:
        worker.handler(event, None)
    assert info.value.field == field and str(info.value).startswith(f"{field}: ")


def test_concurrent_invocations_as_threads(aws):
    """The emulator runs many invocations as threads of one process: same results as serial."""
    from concurrent.futures import ThreadPoolExecutor

    table, params = _prepare(aws, k=8)
    assignment = _fractional_repetition(n=8, s=1)
    with ThreadPoolExecutor(8) as pool:
        outs = list(pool.map(lambda w: worker.handler(
            _event(aws, params, w, assignment[w], round_=4), None), range(8)))
    assert [o["worker"] for o in outs] == list(range(8))
    assert sum(o["timings"]["cold_start"] for o in outs) == 1  # one process, one cold start
    for job, spec in SPECS.items():
        decoded = sum(aws.get_npy(result_key(RUN, 4, job, w)) for w in (0, 2, 5, 7))
        want = _full_gradient(table, spec, aws.get_npy(params[job]))
        assert np.abs(decoded - want).max() <= 1e-5 * np.abs(want).max()
    assert worker.runtime().store.downloads == 16  # each of 8 partitions x 2 datasets once
    assert len(aws.records()) == 8


def test_empty_partition_contributes_zero(aws):
    table = aws.prepare("datasets/tiny", sizes=[0.999, 0.001], rows=100)
    spec = SPECS[2]
    key = aws.put_npy("runs/x/params/tiny.npy", spec.init() + np.float32(0.3))
    event = {"run": RUN, "round": 1, "worker": 0, "bucket": aws.bucket,
             "tasks": [{"job": 1, "model": spec.to_dict(), "params_key": key,
                        "dataset": "datasets/tiny", "coefficients": {"0": 1.0, "1": 1.0}}]}
    out = worker.handler(event, None)
    assert [p.y.size for p in (worker.runtime().store.load(aws.bucket, "datasets/tiny", i)
                               for i in (0, 1))] == [100, 0]
    got = aws.get_npy(out["results"]["1"])
    want = _full_gradient(table, spec, aws.get_npy(key))
    assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max()
