"""Issue 26: no call of an emulated run leaves the machine, even when teardown races workers.

Every test runs under a socket-level fence (``loopback_only``) that records any connection or
name lookup beyond this machine: an attempt fails the test whatever the code under test did.
"""

from __future__ import annotations

import io
import json
import threading
import zipfile

import boto3
import emulator_probes
import pytest
from loopback_only import loopback_only
from timeouts import scaled, wait_for

from coordinator.backends import emulator_backend
from coordinator.emulator import Emulator, offline
from coordinator.emulator.core import ROLE_NAME

WORKERS = 12  # more than the emulator's Lambda threads: some are queued when teardown starts


def _probe_function(emulator: Emulator, name: str = "probe-busy-writer") -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "in-process\n")
    emulator.client("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Handler="emulator_probes.busy_writer",
        Role=f"arn:aws:iam::123456789012:role/{ROLE_NAME}", Code={"ZipFile": buffer.getvalue()},
        Timeout=300, MemorySize=128)
    return name


def _invoke_all(emulator: Emulator, name: str, hold_s: float) -> None:
    client = emulator.client("lambda")
    for i in range(WORKERS):
        client.invoke(FunctionName=name, InvocationType="Event",
                      Payload=json.dumps({"i": i, "hold_s": hold_s}).encode())


@pytest.fixture
def fence():
    with loopback_only() as attempts:
        yield attempts
    assert attempts == [], f"something tried to leave the machine: {attempts}"


def test_teardown_waits_for_the_workers_in_flight(fence):
    emulator = Emulator(warm=False, lambda_threads=4).start()
    try:
        name = _probe_function(emulator)
        emulator_probes.reset(release=lambda: emulator.runtime.closed)
        _invoke_all(emulator, name, hold_s=scaled(60))
        wait_for(lambda: emulator_probes.entered() == 4, 30, "4 busy workers")
    finally:
        emulator.stop()  # lets them go, and waits: they write while moto is still up
    assert emulator_probes.outcomes() == ["ok"] * WORKERS
    assert emulator.runtime.busy_threads() == [] and offline.leftover_threads() == []
    assert not offline.armed()


def test_a_worker_that_outlives_teardown_gets_no_call_through(fence):
    stopped = threading.Event()
    emulator = Emulator(warm=False, lambda_threads=4, drain_s=0.2).start()
    try:
        name = _probe_function(emulator)
        emulator_probes.reset(release=stopped.is_set)
        _invoke_all(emulator, name, hold_s=scaled(60))
        wait_for(lambda: emulator_probes.entered() == 4, 30, "4 busy workers")
    finally:
        emulator.stop()  # gives up on them after drain_s: moto off, credentials gone
    busy = offline.leftover_threads()
    assert len(busy) >= 4 and offline.armed()  # the fence stays up while they live
    stopped.set()
    # Before the fix these clients went to https://sgcflow-data.s3.amazonaws.com/ (the fence
    # above would have caught the connection); now every call is refused before it is built.
    wait_for(lambda: len(emulator_probes.outcomes()) == 4, 30, "the 4 leftovers' calls")
    assert emulator_probes.outcomes() == ["EmulatorStopped"] * 4  # the 8 queued never ran
    wait_for(lambda: not any(t.is_alive() for t in busy), 30, "the leftover threads to end")
    assert offline.leftover_threads() == [] and not offline.armed()
    refused = [r for r in emulator.runtime.invocations() if r.function == name and r.error]
    assert len(refused) == WORKERS - 4  # queued behind them: dropped, and logged as such


def test_invocations_after_close_are_refused_loudly(fence):
    with Emulator(warm=False) as emulator:
        name = _probe_function(emulator)
        emulator.runtime.close()
        with pytest.raises(offline.EmulatorStopped):
            emulator.client("lambda").invoke(FunctionName=name, InvocationType="Event",
                                              Payload=b'{"i": 0}')


def test_a_client_built_in_an_emulated_run_never_reaches_aws_after_teardown(fence):
    with Emulator(warm=False) as emulator:
        s3 = emulator.client("s3")
        assert s3.list_buckets()["Buckets"]
    assert not offline.armed()  # nothing emulated runs: the process-wide fence is down
    with pytest.raises(offline.RealEndpointRefused, match="emulated run"):
        s3.list_buckets()  # moto is off: it would have gone to s3.amazonaws.com


def test_a_stores_s3_client_built_after_teardown_is_fenced_too(fence):
    """A store made in a run builds its S3 client on first use: after the run, that client
    carries the fence its session got when the run built the store's DynamoDB client."""
    with Emulator(warm=False) as emulator:
        store = emulator_backend(emulator).store
        assert store.table in store.ddb.list_tables()["TableNames"]
    assert store._s3 is None and not offline.armed()
    with pytest.raises(offline.RealEndpointRefused, match="emulated run"):
        store.s3.list_buckets()


# Last: the module's shared emulator (tests/coordinator/conftest.py) runs until the module ends.
def test_a_request_that_moto_does_not_answer_is_refused_not_sent(emulator, fence):
    assert offline.armed()
    outside = boto3.session.Session().client(
        "s3", region_name="us-east-1", endpoint_url="https://storage.example.com")
    with pytest.raises(offline.RealEndpointRefused, match="storage.example.com"):
        outside.list_buckets()
    assert emulator.client("s3").list_buckets()["Buckets"]  # the emulator still answers
