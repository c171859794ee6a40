"""`make deploy-local`: the pinned CDK CLI deploys the stack to moto, a job runs on it, a redeploy
changes nothing, and every AWS call the functions made is allowed by their roles."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from waiting import scaled

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
    assert "redeploy changed nothing" in last
    report = audit(read_runs([audit_file]))
    assert report.denied == []
    functions = {f"sgcflow-step-{step}" for step in STEP_HANDLERS} | {
        "sgcflow-worker", "sgcflow-warmpool"}
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
