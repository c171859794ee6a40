"""`make deploy-local`: the pinned CDK CLI deploys the stack to moto, a job runs on it, a redeploy
changes nothing, `make destroy FORCE=1` and the data teardown leave nothing, and every AWS call
the functions and the state machine made is allowed by their roles; the server start is waited
for with progress and never leaks."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from timeouts import scaled

from coordinator.audit.iam import audit, read_runs
from coordinator.workflow.definition import STEP_HANDLERS
from infra import deploy_local


@pytest.mark.slow
@pytest.mark.xdist_group("numba-cache")  # builds share build/ and caches
def test_deploy_local_runs_a_job_on_the_deployed_stack_and_the_audit_passes(tmp_path):
    audit_file = tmp_path / "audit" / "deploy-local.json"
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "infra.deploy_local", "--out",
                           str(tmp_path / "out"), "--audit", str(audit_file)],
                          capture_output=True, text=True, cwd=deploy_local.ROOT,
                          timeout=scaled(900),
                          check=False)
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    last = done.stdout.strip().splitlines()[-1]
    assert "every job decoded (4/4, 2 executions)" in last and "0 denied" in last, last
    assert "redeploy changed nothing" in last and "destroyed, data deleted" in last
    report = audit(read_runs([audit_file]))
    assert report.denied == []
    functions = {f"sgcflow-step-{step}" for step in STEP_HANDLERS} | {
        "sgcflow-worker", "sgcflow-warmpool", "sgcflow-job"}  # the state machine: its own role
    assert set(report.calls_per_function) == functions
    assert report.silent_functions == [], report.calls_per_function
    used = {(u["function"], u["action"]) for u in report.unused}
    assert ("sgcflow-step-plan", "states:StartExecution") not in used  # continue-as-new ran
    assert ("sgcflow-worker", "lambda:InvokeFunction") not in used  # the relays ran
    assert report.calls_per_function["sgcflow-worker"] > 0
    # The CLI prints the same report, in exactly the shape.
    sgc = str(Path(sys.executable).parent / "sgc")
    cli = subprocess.run([sgc, "audit", "iam", "--json", "--runs", str(audit_file)],
                         capture_output=True, text=True, check=True)
    printed = json.loads(cli.stdout)
    assert set(printed) == {"calls", "denied", "unused"}
    assert printed["calls"] == report.calls > 100 and printed["denied"] == []
    print(f"deploy-local took {elapsed:.0f} s")


def test_port_in_use_says_what_to_do(tmp_path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = deploy_local.main(["--port", str(port), "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 2
    assert f"port {port} on 127.0.0.1 is in use" in out and "PORT=0" in out


def test_missing_cdk_cli_says_what_to_do(tmp_path, capsys):
    code = deploy_local.main(["--cdk", "no-such-cdk-cli --yes", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 2
    assert "CDK CLI not found: `no-such-cdk-cli` is not on PATH" in out
    assert "Node.js 18 or newer" in out and "CDK=" in out


def test_bad_port_number_is_refused(tmp_path, capsys):
    assert deploy_local.main(["--port", "70000", "--out", str(tmp_path)]) == 2
    assert "--port: expected 0 (any free port) or 1-65535, got 70000" in capsys.readouterr().out


BUSY_THEN_READY = """
import sys, time
state, seconds = sys.argv[1], float(sys.argv[2])
print("deploy-server: loading the worker's kernels", flush=True)
end = time.monotonic() + seconds
while time.monotonic() < end:  # compiling: the CPU time grows
    sum(i * i for i in range(10000))
open(state, "w").write("{}")
time.sleep(60)
"""
IDLE = """
import os, sys, time
open(sys.argv[3], "w").write(str(os.getpid()))
time.sleep(120)
"""


def _fake_server(monkeypatch, script: str, *args: str) -> None:
    monkeypatch.setattr(deploy_local.Server, "command",
                        lambda self: [sys.executable, "-c", script, str(self.state), *args])


def test_a_server_still_compiling_is_waited_for_with_progress(tmp_path, monkeypatch, capsys):
    """No fixed start limit: a server that works (its CPU time grows) is waited for, however
    long it compiles, with a progress line naming what it does."""
    stall = scaled(1.0)  # a loaded machine gives the busy server less CPU per second
    monkeypatch.setattr(deploy_local, "STALL_S", stall)
    monkeypatch.setattr(deploy_local, "PROGRESS_EVERY_S", stall / 2)
    _fake_server(monkeypatch, BUSY_THEN_READY, f"{2.5 * stall}")
    server = deploy_local.Server(0, tmp_path)
    try:
        server.start()  # busy 2.5 x the stall limit: waited for, as it works
    finally:
        server.stop()
    out = capsys.readouterr().out
    assert "waiting for the deploy server (" in out and "s CPU): deploy-server: loading" in out
    assert server.process.poll() is not None


def test_a_server_that_stalls_is_given_up_and_no_process_is_left(tmp_path, monkeypatch, capsys):
    """A server using no CPU is given up after STALL_S, and deploy-local stops it (it used to be
    started before the try, and leaked on a failed start)."""
    monkeypatch.setattr(deploy_local, "STALL_S", 1.5)
    monkeypatch.setattr(deploy_local, "check_cdk", lambda cdk, env: "2.1148.1 (fake)")
    pid_file = tmp_path / "pid"
    _fake_server(monkeypatch, IDLE, "unused", str(pid_file))
    code = deploy_local.main(["--out", str(tmp_path / "out"), "--cdk", "fake-cdk"])
    out = capsys.readouterr().out
    assert code == 1 and "the deploy server used no CPU for 2 s and is not ready" in out
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
