"""A newcomer's first hour, end to end: a CSV with string labels, prepared and standardized,
trained through `sgc submit --watch` on the local server, downloaded, evaluated, and used from
Python; the logistic model's test accuracy is within 2 points of scikit-learn's
LogisticRegression (L2-regularized, solved to convergence: 0.986 on this split; 60 plain
full-batch gradient steps reach 0.972, 30 only 0.958)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from breast_cancer import write_split
from coordinator_e2e_helpers import free_port
from timeouts import scaled

ROOT = Path(__file__).resolve().parents[3]
SGC = [sys.executable, "-c", "from coordinator.cli import main; main()"]
JOB = """\
name: breast-cancer
dataset: {{path: {prepared}}}
models:
  - {{kind: logreg, lr: 1.0}}
  - {{kind: mlp, hidden: 16, lr: 0.5, seed: 1}}
iterations: 60
workers: 8
scheme: {{name: gc, s: 1}}
wait: {{deadline_s: 5.0}}
"""

pytestmark = pytest.mark.slow


def test_a_csv_with_string_labels_from_prepare_to_predict(tmp_path):
    split = write_split(tmp_path / "data")
    env = {**os.environ, "SGC_LOCAL_STATE": str(tmp_path / "local.json"),
           "SGC_CONFIG": str(tmp_path / "config.yaml"), "SGC_LOCAL": "1"}

    def sgc(*args: str) -> str:
        done = subprocess.run([*SGC, *args], env=env, capture_output=True, text=True,
                              timeout=scaled(600), cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "object at 0x" not in done.stdout + done.stderr  # no emulator internals
        return done.stdout

    prepared = sgc("data", "prepare", str(split["train"]), "--label-column", "diagnosis",
                   "--standardize", "--out", str(tmp_path / "prepared"), "-k", "8")
    assert "2 classes (benign, malignant)" in prepared
    (tmp_path / "job.yaml").write_text(JOB.format(prepared=tmp_path / "prepared"))
    assert "valid" in sgc("validate", "job.yaml")
    sgc("local", "up", "--port", str(free_port()), "--log", str(tmp_path / "local.log"))
    try:
        run_id = sgc("submit", "job.yaml", "--watch").splitlines()[0]
        status = json.loads(sgc("status", run_id, "--json"))
        assert status["status"] == "done"
        piped = subprocess.run(f"{' '.join(map(repr, SGC))} status {run_id} | head -1",
                               shell=True, env=env, capture_output=True, text=True,
                               timeout=scaled(120), cwd=tmp_path)
        assert piped.stdout.strip() and "BrokenPipe" not in piped.stderr, piped.stderr
        result = json.loads(sgc("result", run_id, "--json"))
        assert all(m["final_params_uri"].startswith(f"s3://{result['bucket']}/runs/")
                   for m in result["models"])
        sgc("result", run_id, "--download", str(tmp_path / "models"))
        scores = json.loads(sgc("eval", run_id, "--data", str(split["test"]), "--json"))
    finally:
        sgc("local", "down")
    assert [m["index"] for m in scores["models"]] == [0, 1] and scores["rows"] == 143
    import sgcflow

    models = sgcflow.load_models(tmp_path / "models")
    predicted = models[0].predict(split["X_test"])
    assert set(predicted) <= {"benign", "malignant"}
    accuracy = float(np.mean(predicted == split["y_test"]))
    assert accuracy == pytest.approx(scores["models"][0]["accuracy"], abs=1e-9)
    assert abs(accuracy - split["sklearn_accuracy"]) <= 0.02, (accuracy, split["sklearn_accuracy"])
    assert scores["models"][1]["accuracy"] >= split["sklearn_accuracy"] - 0.05
