"""Worker memory and time estimates: they grow with the model and the partition, follow the kernel
path, and the fit check names the model's field."""

from __future__ import annotations

from coordinator.contract.models import ModelSpec
from coordinator.spec import model_budget


def test_estimates_grow_with_parameters_and_rows():
    small, large = ModelSpec("mlp", 64, 10, [256, 256]), ModelSpec("mlp", 64, 10, [1024, 1024])
    for rows in (64, 4096):
        assert model_budget.memory_bytes(small, rows) < model_budget.memory_bytes(large, rows)
        assert model_budget.seconds(small, rows) < model_budget.seconds(large, rows)
    assert model_budget.memory_bytes(large, 64) < model_budget.memory_bytes(large, 65536)
    estimate = model_budget.estimate(large, 1024)
    assert estimate["path"] == "blas" and estimate["n_params"] == large.n_params
    assert model_budget.RUNTIME_MB < estimate["memory_mb"] < 1769
    # 6 flops per weight per row at the path's rate
    assert estimate["compute_s"] == 6 * model_budget.weights(large) * 1024 / (
        model_budget.GFLOPS["blas"] * 1e9)


def test_linear_models_have_estimates_too():
    spec = ModelSpec("softmax", 64, 10)
    assert model_budget.estimate(spec, 256)["path"] == "linear"
    assert model_budget.weights(spec) == 640


def test_fit_errors_name_the_field():
    fits = ModelSpec("mlp", 64, 10, [1024, 1024])
    too_big = ModelSpec("mlp", 784, 10, [8192, 8192, 8192])
    assert model_budget.fit_errors([("models[0].hidden", fits)], 4096, 1769) == []
    errors = model_budget.fit_errors([("models[0].hidden", fits),
                                      ("models[1].hidden", too_big)], 4096, 1769)
    assert [field for field, _ in errors] == ["models[1].hidden"]
    assert "1769 MB" in errors[0][1]
