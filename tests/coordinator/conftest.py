"""Fixtures for the coordinator tests: one in-process emulator (and backend) per module."""

from __future__ import annotations

import pytest
from moto import mock_aws

from coordinator.backends import emulator_backend
from coordinator.emulator import Emulator
from coordinator.state import Store


@pytest.fixture(scope="module")
def emulator():
    with Emulator() as emu:  # warm: the worker's Numba start-up is paid before round 1
        yield emu


@pytest.fixture(scope="module")
def backend(emulator):
    return emulator_backend(emulator)


@pytest.fixture
def moto_store(monkeypatch):
    """The real Store on a moto bucket and table (no emulator, no worker runtime)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        store = Store(bucket="bkt-test", table="t", region="us-east-1")
        store.s3.create_bucket(Bucket="bkt-test")
        store.ddb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                               KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                          {"AttributeName": "sk", "KeyType": "RANGE"}],
                               AttributeDefinitions=[
                                   {"AttributeName": "pk", "AttributeType": "S"},
                                   {"AttributeName": "sk", "AttributeType": "S"}])
        yield store
