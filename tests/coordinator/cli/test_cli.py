"""The `sgc` job commands: help with examples, spec errors, and a full run on `sgc local up`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from coordinator_e2e_helpers import free_port
from timeouts import scaled

from coordinator.cli import main

SGC = [sys.executable, "-c", "from coordinator.cli import main; main()"]
JOB = """name: cli
dataset: {name: synthetic, rows: 1024, features: 8, classes: 3}
models: [{kind: softmax, lr: 0.5}, {kind: mlp, hidden: 4, lr: 0.3}]
iterations: 2
workers: 6
scheme: {name: m-sgc, B: 1, W: 2, lam: 2}
wait: {deadline_s: 5.0}
stragglers: {model: fixed, rounds: {2: [4]}, delay_s: 100}
"""


@pytest.mark.parametrize("command", ["submit", "jobs", "status", "watch", "logs", "result",
                                     "cancel", "resume", "demo", "local"])
def test_every_command_teaches_with_examples(command):
    out = CliRunner().invoke(main, [command, "--help"])
    assert out.exit_code == 0, out.output
    assert "Example" in out.output


def test_submit_rejects_a_bad_spec_naming_fields(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("models: [{kind: svm}]\ndataset: digits\niterations: 0\n"
                    "scheme: {name: gc, s: 1}\n")
    out = CliRunner().invoke(main, ["submit", str(spec), "--local"])
    assert out.exit_code != 0
    assert "models[0].kind: must be one of ['logreg', 'softmax', 'mlp', 'cnn']" in out.output
    assert "iterations: must be an integer in [1, 100000]" in out.output


@pytest.mark.parametrize("scheme, flag, words", [
    ("{name: gc, s: 1}", "run-1", "only an sgcflow job starts from an earlier one"),
    ("{name: sgcflow}", "../x", "scheme.learn_from: must be the id of an earlier sgcflow job"),
])
def test_submit_learn_from_is_checked_before_any_stack_is_reached(tmp_path, scheme, flag, words):
    spec = tmp_path / "job.yaml"
    spec.write_text(f"dataset: digits\nmodels: [{{kind: softmax}}, {{kind: softmax}}]\n"
                    f"iterations: 2\nworkers: 4\nscheme: {scheme}\n")
    out = CliRunner().invoke(main, ["submit", str(spec), "--local", "--learn-from", flag])
    assert out.exit_code != 0 and "Traceback" not in out.output
    assert words in out.output


def test_validate_says_when_learn_from_was_not_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("SGC_LOCAL_STATE", str(tmp_path / "none.json"))  # no emulator running
    spec = tmp_path / "job.yaml"
    spec.write_text("dataset: digits\nmodels: [{kind: softmax}, {kind: softmax}]\n"
                    "iterations: 2\nworkers: 4\nscheme: {name: sgcflow, learn_from: run-1}\n")
    out = CliRunner().invoke(main, ["validate", str(spec)])
    assert out.exit_code == 0, out.output
    assert "scheme.learn_from: job run-1 not checked" in out.output


@pytest.mark.slow
def test_local_server_round_trip(tmp_path):
    port = free_port()
    env = {**os.environ, "SGC_LOCAL_STATE": str(tmp_path / "local.json")}
    (tmp_path / "job.yaml").write_text(JOB)

    def sgc(*args: str) -> str:
        done = subprocess.run([*SGC, *args], env=env, capture_output=True, text=True,
                              timeout=scaled(240), cwd=Path(__file__).parents[3])
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    # no --timeout: up waits while the server compiles kernels (minutes on a cold machine)
    sgc("local", "up", "--port", str(port), "--log", str(tmp_path / "local.log"))
    try:
        assert json.loads(sgc("local", "status", "--json"))["running"] is True
        run_id = sgc("submit", str(tmp_path / "job.yaml"), "--local", "--watch").splitlines()[0]
        assert [j["job"] for j in json.loads(sgc("jobs", "--local", "--json"))] == [run_id]
        status = json.loads(sgc("status", run_id, "--local", "--json"))
        assert (status["status"], status["round"], status["rounds"]) == ("done", 5, 5)
        rounds = json.loads(sgc("logs", run_id, "--local", "--json"))
        assert [r["stragglers"] for r in rounds] == [[], [4], [], [], []]
        assert rounds[1]["reasons"]["4"].startswith("no result within")
        result = json.loads(sgc("result", run_id, "--local", "--json"))
        assert result["summary"]["decoded_jobs"] == 4
        assert result["summary"]["cost"]["transitions"] > 0
    finally:
        sgc("local", "down")
    assert not (tmp_path / "local.json").exists()


def test_status_says_what_a_job_started_from():
    from coordinator.cli.jobs import _started_from

    line = _started_from({"from": "run-a", "rounds": 40, "window": 39, "explores": False})
    assert line == ("what job run-a learned in 40 rounds (a window of 39 rounds and its load "
                    "fit; no exploring jobs)")
    assert "explored anyway" in _started_from({"from": "run-a", "explores": True})
