"""The baselines of the deep-MLP bench rows: the well-written numpy gradient computes the same
[loss, *grad] as the float64 reference (within float32 rounding), for both activations; the
timing race returns a median per contender and skips only forced slow paths."""

from __future__ import annotations

import numpy as np
import pytest

from coordinator.cli import bench_deep
from coordinator.cli.bench_numpy_mlp import numpy_mlp, products_only, sgemm_gflops
from coordinator.contract import gradients as reference
from coordinator.contract.models import ModelSpec


@pytest.mark.parametrize("hidden,activation", [([7], "relu"), ([9, 5], "tanh"),
                                               ([6, 8, 4], "relu")])
def test_numpy_baseline_equals_the_reference(hidden, activation):
    spec = ModelSpec("mlp", 5, 4, hidden, activation)
    rng = np.random.default_rng(len(hidden))
    X = rng.standard_normal((50, 5)).astype(np.float32)
    y = rng.integers(0, 4, 50).astype(np.int32)
    params = (rng.standard_normal(spec.n_params) * 0.5).astype(np.float32)
    want = np.concatenate(reference.loss_grad(spec, X, y, params), axis=None)
    got = numpy_mlp(spec, X, y, params)
    assert got.dtype == np.float64 and got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max()
    products_only(spec, X, params, np.ones((50, 9), dtype=np.float32))  # shapes line up


def test_race_reports_medians_and_skips_slow_forced_paths(monkeypatch):
    monkeypatch.setattr(bench_deep, "MAX_CALL_S", 0.0)  # every forced path counts as slow
    cpu, wall, rounds = bench_deep.race({"sgc": lambda: sum(range(1000)),
                                         "numpy": lambda: sum(range(2000)),
                                         "products": lambda: None,
                                         "numba": lambda: None}, 0.0, 3)
    assert rounds == 3 and cpu["numba"] is None and wall["numba"] is None
    assert cpu["sgc"] > 0 and cpu["numpy"] > 0 and wall["sgc"] > 0


def test_sgemm_rate_is_measured():
    assert sgemm_gflops(64, 3) > 0
