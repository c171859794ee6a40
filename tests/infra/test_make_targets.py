"""`make deploy` without credentials and `make destroy` without a terminal fail in seconds, saying
what to do (they used to build for 11 minutes, or synthesize for 65 s, first)."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
from timeouts import scaled

from infra.packaging import ROOT


def _make(*args: str, timeout: float = 90) -> tuple[subprocess.CompletedProcess, float]:
    """Run make in its own process group, killed whole on timeout (nothing left building)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_SHARED_CREDENTIALS_FILE="/nonexistent", AWS_CONFIG_FILE="/nonexistent",
               AWS_EC2_METADATA_DISABLED="true", CDK="false")  # no CDK CLI call may happen
    started = time.monotonic()
    process = subprocess.Popen(["make", "--no-print-directory", *args], cwd=ROOT, env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = process.communicate(timeout=scaled(timeout))
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
    done = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    return done, time.monotonic() - started


@pytest.mark.parametrize("target", [["deploy", "APPROVAL=never"], ["diff"]])
def test_deploy_without_credentials_stops_before_building(target):
    done, seconds = _make(*target)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "preflight: no AWS credentials found" in done.stderr
    assert "infra.packaging" not in done.stdout and seconds < 60


def test_destroy_without_a_terminal_asks_for_force():
    done, seconds = _make("destroy")
    assert done.returncode == 2
    assert "no terminal to confirm the deletion; run 'make destroy FORCE=1'" in done.stderr
    assert seconds < 30


def test_delete_data_without_a_terminal_asks_for_force():
    done, _ = _make("delete-data", "BUCKET=b", "TABLE=t")
    assert done.returncode == 2 and "run it with FORCE=1" in done.stderr
