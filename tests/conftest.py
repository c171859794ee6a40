"""Shared test setup: the repository root on sys.path, the real trace's location, and a moto
account (fake credentials, an S3 bucket + DynamoDB table) for the worker and dataset tests.

numpy's OpenBLAS runs one thread per test process unless a test sets its own limit: the suite
already runs a process per core, and OpenBLAS's threads spin-wait for each other, so a float64
reference product that takes 15 ms on one thread took 900 ms with two threads per process on
the two loaded cores (the CNN reference training: 43 of its test's 74 s). The worker's kernels
pin their own BLAS threads; this only sets the default the test processes (and the emulator
servers and CLI processes they start) inherit."""

from __future__ import annotations

import io
import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads OpenBLAS: see above
from pathlib import Path

import boto3
import numpy as np
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from coordinator.storage import dataset_prep  # noqa: E402  (needs ROOT on sys.path)

TRACE = ROOT / "data" / "lambda_delays.parquet"

BUCKET = "sgcflow-test"
TABLE = "sgcflow-test-rounds"


class Moto:
    """What the tests need from the emulated account: clients, the bucket, small helpers."""

    bucket = BUCKET
    table = TABLE

    def __init__(self):
        self.s3 = boto3.client("s3")
        self.dynamodb = boto3.client("dynamodb")

    def put_npy(self, key: str, array: np.ndarray) -> str:
        buffer = io.BytesIO()
        np.save(buffer, array)
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=buffer.getvalue())
        return key

    def get_npy(self, key: str) -> np.ndarray:
        return np.load(io.BytesIO(self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()))

    def keys(self, prefix: str = "") -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def records(self) -> list[dict]:
        return self.dynamodb.scan(TableName=TABLE)["Items"]

    def prepare(self, prefix: str, *, k: int | None = None, sizes=None, rows: int = 1200,
                classes: int = 3, features: int = 12, seed: int = 7) -> dataset_prep.Table:
        table = dataset_prep.synthetic(rows=rows, features=features, classes=classes, seed=seed)
        dataset_prep.prepare(table, f"s3://{BUCKET}/{prefix}", k=k, sizes=sizes, s3=self.s3)
        return table


@pytest.fixture
def offline_aws(monkeypatch):
    """moto for every client made inside, with test credentials and no endpoint override."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


@pytest.fixture
def aws(monkeypatch, tmp_path):
    """moto S3 + DynamoDB with a bucket and the completion table; the worker's runtime reset."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1", "SGC_TABLE": TABLE, "SGC_BUCKET": BUCKET,
                        "SGC_PARTITION_CACHE_DIR": str(tmp_path / "partitions")}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    from functions import worker

    with mock_aws():
        moto = Moto()
        moto.s3.create_bucket(Bucket=BUCKET)
        moto.dynamodb.create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                       {"AttributeName": "sk", "KeyType": "RANGE"}])
        worker.reset_runtime()
        yield moto
        worker.reset_runtime()


def pytest_collection_modifyitems(items):
    """Modules with slow end-to-end cases first, each module kept whole (its module-scoped
    fixtures are built once), by a stable sort: the order is the same in every xdist worker, as
    it must be. pytest-xdist's loadgroup hands out the groups, then single tests in this order:
    a two-minute case collected last would run alone on one core after the other ran out of
    work."""
    slow = {item.module.__name__ for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.module.__name__ not in slow)
