"""Every example in examples/ runs as shipped, on the in-process emulator (what `sgc submit
--local` does without a server), and does what its comment says: the job succeeds, every model
is done, and each reaches an accuracy bar or decodes exactly."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from coordinator_e2e_helpers import (
    assert_decoded_equals_partition_sums,
    final_params,
    plan_of,
)
from timeouts import scaled

from coordinator.backends import emulator_backend
from coordinator.backends.model_export import evaluate, trained_models
from coordinator.control import reference
from coordinator.control.run_dataset import shuffled_table
from coordinator.emulator import Emulator
from coordinator.spec.jobspec import load

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
TEST_CSV = EXAMPLES / "data" / "breast-cancer-test.csv"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def emulator():
    with Emulator() as emu:  # warm: the worker's Numba start-up is paid before round 1
        yield emu


@pytest.fixture(scope="module")
def backend(emulator):
    backend = emulator_backend(emulator)
    backend.emulator = emulator  # for run_example's wait
    return backend


def run_example(backend, name: str, monkeypatch, timeout_s: float = 300) -> tuple[str, dict]:
    """Submit examples/<name> from the repository root (its dataset paths are relative to it)
    and wait for it; the run id and the finished job's result."""
    monkeypatch.chdir(ROOT)
    spec = load(EXAMPLES / name)
    run_id = backend.submit(spec)
    described = backend.emulator.wait(backend.store.job(run_id)["execution_arn"],
                                      scaled(timeout_s))
    assert described["status"] == "SUCCEEDED", backend.store.job(run_id).get("error")
    result = backend.store.get_json(f"runs/{run_id}/result.json")
    assert [m["status"] for m in result["models"]] == ["done"] * len(spec.models), result
    return run_id, result


def test_digits_softmax_learns_the_digits(backend, monkeypatch):
    run_id, _ = run_example(backend, "digits-softmax.yaml", monkeypatch)
    rounds = backend.store.rounds(run_id)
    assert sum(len(r["collect"]["stragglers"]) for r in rounds) > 0  # stragglers were injected
    assert assert_decoded_equals_partition_sums(backend, run_id) == 30
    X, y = shuffled_table({"name": "digits"})
    (params,) = final_params(backend, run_id)
    assert reference.accuracy(plan_of(backend, run_id).models[0], X, y, params) >= 0.9


def test_a_csv_with_string_labels_gives_models_that_predict_its_labels(backend, monkeypatch):
    run_id, _ = run_example(backend, "breast-cancer.yaml", monkeypatch)
    models = trained_models(backend.store, run_id, backend.store.job(run_id))
    assert [m.kind for m in models] == ["logreg", "mlp"]
    assert all(m.classes == ["benign", "malignant"] for m in models)
    scores, rows = evaluate(models, str(TEST_CSV), None)
    assert rows == 143
    assert all(score["accuracy"] >= 0.93 for score in scores), scores


def test_a_million_parameter_mlp_decodes_exactly(backend, monkeypatch):
    run_id, _ = run_example(backend, "deep-mlp.yaml", monkeypatch)
    plan = plan_of(backend, run_id)
    assert plan.models[0]["kind"] == "mlp"
    (expected,) = reference.train_spec(load(EXAMPLES / "deep-mlp.yaml").raw)
    (params,) = final_params(backend, run_id)
    assert params.size == 1_126_410
    assert np.abs(params - expected["params"]).max() <= 1e-5


def test_256_workers_with_the_default_scheme(backend, monkeypatch):
    run_id, result = run_example(backend, "workers-256.yaml", monkeypatch, 600)  # scaled inside
    rounds = backend.store.rounds(run_id)
    assert max(len(r["dispatch"]["workers"]) for r in rounds) == 256
    assert sum(len(r["collect"]["stragglers"]) for r in rounds) > 0
    assert assert_decoded_equals_partition_sums(backend, run_id) == 4  # 2 models x 2


def test_the_python_example_trains_downloads_and_predicts(tmp_path):
    env = {**os.environ, "SGC_LOCAL_STATE": str(tmp_path / "no-server.json"),
           "SGC_CONFIG": str(tmp_path / "config.yaml")}
    env.pop("SGC_LOCAL", None)
    done = subprocess.run([sys.executable, str(EXAMPLES / "train_from_python.py")], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=scaled(600))
    assert done.returncode == 0, done.stderr[-3000:]
    accuracies = [float(a) for a in re.findall(r"test accuracy ([0-9.]+) on 143 rows",
                                                done.stdout)]
    assert len(accuracies) == 2 and min(accuracies) >= 0.93, done.stdout
