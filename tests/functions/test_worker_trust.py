"""The worker trusts only its own configuration: bucket from its environment, validated manifests
(hex digests only), typed storage errors, non-finite results refused, result digests recorded."""

from __future__ import annotations

import hashlib
import json

import pytest
from botocore.exceptions import ClientError
from test_worker import RUN, _event, _expect_error, _prepare

from coordinator.contract import errors
from functions import worker


def test_completion_record_holds_each_results_sha256(aws):
    _, params = _prepare(aws, k=4)
    out = worker.handler(_event(aws, params, 0, {0: 1.0, 1: 0.5}), None)
    (record,) = aws.records()
    digests = {job: value["S"] for job, value in record["sha256"]["M"].items()}
    assert digests == out["sha256"] and set(digests) == {"1", "2", "3"}
    for job, key in out["results"].items():
        body = aws.s3.get_object(Bucket=aws.bucket, Key=key)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == digests[job]


def test_bucket_comes_from_the_environment_not_the_event(aws, monkeypatch):
    _, params = _prepare(aws, k=2)
    event = _event(aws, params, 0, {0: 1.0}, jobs=(2,))
    _expect_error(aws, {**event, "bucket": "attacker-bucket"}, errors.EventError,
                  "bucket: the event names 'attacker-bucket'", aws.bucket)
    without = {k: v for k, v in event.items() if k != "bucket"}
    assert worker.handler(without, None)["status"] == "ok"  # the event need not name it
    monkeypatch.delenv("SGC_BUCKET")
    with pytest.raises(errors.ConfigError, match="SGC_BUCKET: not set"):
        worker.handler(without, None)


def _tamper_manifest(aws, change) -> None:
    key = "datasets/syn/manifest.json"
    manifest = json.loads(aws.s3.get_object(Bucket=aws.bucket, Key=key)["Body"].read())
    change(manifest)
    aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=json.dumps(manifest).encode())


@pytest.mark.parametrize("change, fragment", [
    (lambda m: m["partitions"][0].update(sha256="../evil/x"), "partitions[0].sha256"),
    (lambda m: m["partitions"][0].update(sha256="A" * 64), "64 lower-case hex"),
    (lambda m: m["partitions"][1].update(rows=-5), "partitions[1].rows"),
    (lambda m: m.update(feature_columns=["x000", "x000"]), "feature_columns"),
    (lambda m: m.update(partitions="all"), "partitions"),
])
def test_a_malformed_manifest_is_refused_before_any_read(aws, tmp_path, change, fragment):
    _, params = _prepare(aws, k=2)
    outside = tmp_path / "evil" / "x.parquet"
    outside.parent.mkdir()
    outside.write_bytes(b"not read")
    _tamper_manifest(aws, change)
    _expect_error(aws, _event(aws, params, 0, {0: 1.0}, jobs=(2,)), errors.SchemaMismatchError,
                  "datasets/syn/manifest.json", fragment)
    assert not aws.keys(f"runs/{RUN}/results/")


def test_a_manifest_swapped_after_submit_is_caught_by_its_recorded_checksum(aws):
    _, params = _prepare(aws, k=2)
    key = "datasets/syn/manifest.json"
    recorded = hashlib.sha256(aws.s3.get_object(Bucket=aws.bucket, Key=key)["Body"]
                              .read()).hexdigest()
    event = _event(aws, params, 0, {0: 1.0}, jobs=(2,))
    event["tasks"][0]["manifest_sha256"] = recorded
    assert worker.handler(event, None)["status"] == "ok"
    worker.reset_runtime()  # a fresh environment: nothing cached
    _tamper_manifest(aws, lambda m: m.update(note="swapped"))
    _expect_error(aws, {**event, "worker": 1}, errors.SchemaMismatchError,
                  "manifest.json sha256", f"the job recorded {recorded}")
    event["tasks"][0]["manifest_sha256"] = "../x"
    _expect_error(aws, {**event, "worker": 2}, errors.EventError, "manifest_sha256")


def test_a_non_finite_result_is_an_error_not_ok(aws):
    _, params = _prepare(aws, k=2)
    event = _event(aws, params, 0, {0: 1e308, 1: 1e308}, jobs=(2,))
    _expect_error(aws, event, errors.ResultError, "not finite")
    assert not aws.keys(f"runs/{RUN}/results/")


@pytest.mark.parametrize("key", ["../evil/x", "/etc/passwd", "a/../../b", ""])
def test_s3_keys_with_parent_segments_are_refused(aws, key):
    _, params = _prepare(aws, k=2)
    event = _event(aws, params, 0, {0: 1.0}, jobs=(2,))
    event["tasks"][0]["dataset"] = key
    _expect_error(aws, event, errors.EventError, "tasks[0].dataset", "S3 key")


@pytest.mark.parametrize("operation", ["get_object", "put_object"])
def test_every_storage_failure_is_a_typed_error(aws, monkeypatch, operation):
    _, params = _prepare(aws, k=2)
    rt = worker.runtime()
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, operation)
    original = getattr(rt.s3, operation)

    def refuse(*args, **kwargs):
        if operation == "put_object" or "params" in kwargs.get("Key", ""):
            raise denied
        return original(*args, **kwargs)

    monkeypatch.setattr(rt.s3, operation, refuse)
    error = _expect_error(aws, _event(aws, params, 0, {0: 1.0}, jobs=(2,)), errors.StorageError,
                          "AccessDenied")
    assert error.field.startswith(f"runs/{RUN}/")
