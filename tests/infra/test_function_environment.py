"""The emulator runs each handler with its function's configured environment (as deployed), and
names the running function to threads the handler starts (the IAM audit attributes calls so)."""

from __future__ import annotations

import io
import json
import os
import zipfile

from coordinator.emulator import Emulator


def _create(emulator: Emulator, name: str, probe: str) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "in-process\n")
    emulator.client("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Handler="infra_helpers.probe_handler",
        Role="arn:aws:iam::123456789012:role/sgcflow-emulated-role",
        Code={"ZipFile": buffer.getvalue()}, Timeout=30, MemorySize=128,
        Environment={"Variables": {"SGC_PROBE": probe, "PYTHONPATH": "/opt/ignored"}})


def test_each_handler_sees_its_own_function_environment():
    assert "SGC_PROBE" not in os.environ
    with Emulator(warm=False) as emulator:
        _create(emulator, "probe-a", "a")
        _create(emulator, "probe-b", "b")
        answers = {name: json.loads(emulator.client("lambda").invoke(
            FunctionName=name, Payload=b"{}")["Payload"].read()) for name in ("probe-a", "probe-b")}
        assert "SGC_PROBE" not in os.environ  # nothing leaks into the process environment
    assert answers["probe-a"] == {"probe": "a", "function": "probe-a",
                                  "child": {"probe": "a", "function": "probe-a"}}
    assert answers["probe-b"]["probe"] == "b" and answers["probe-b"]["child"]["probe"] == "b"
    assert type(os.environ).__name__ == "_Environ"  # the original mapping is back
