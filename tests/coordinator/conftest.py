"""Fixtures for the coordinator tests: one in-process emulator (and backend) per module."""

from __future__ import annotations

from pathlib import Path

import pytest

from coordinator.backends import emulator_backend
from coordinator.emulator import Emulator
from coordinator.storage.state import Store


@pytest.fixture(scope="session")
def latency():
    """The shipped Lambda delay trace at its default profile (the simulator's tests)."""
    from coordinator.replay.traces import LatencyModel

    return LatencyModel.from_parquet(Path(__file__).resolve().parents[2] / "data"
                                     / "lambda_delays.parquet")


@pytest.fixture(scope="module")
def emulator():
    with Emulator() as emu:  # warm: the worker's Numba start-up is paid before round 1
        yield emu


@pytest.fixture(scope="module")
def backend(emulator):
    return emulator_backend(emulator)


@pytest.fixture
def moto_store(offline_aws):
    """The real Store on a moto bucket and table (no emulator, no worker runtime)."""
    store = Store(bucket="bkt-test", table="t", region="us-east-1")
    store.s3.create_bucket(Bucket="bkt-test")
    store.ddb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                           KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                      {"AttributeName": "sk", "KeyType": "RANGE"}],
                           AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                 {"AttributeName": "sk", "AttributeType": "S"}])
    return store
