"""Numba kernels == numpy reference for every model (relative error <= 1e-5), additivity and
determinism across thread counts."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from kernel_data import kernel_data

from coordinator.contract import gradients as reference
from coordinator.contract.models import ModelSpec
from functions import kernels
from functions.kernel_blocks import BLOCK_ROWS

SPECS = [ModelSpec("logreg", 64, 2), ModelSpec("softmax", 64, 10), ModelSpec("mlp", 64, 10, 32),
         ModelSpec("softmax", 5, 3), ModelSpec("mlp", 7, 4, 5)]


def _data(spec: ModelSpec, rows: int, seed: int = 0):
    return kernel_data(spec, rows, seed)


def _relative_error(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.abs(got - want).max() / np.abs(want).max())


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.kind}-{s.n_features}")
@pytest.mark.parametrize("rows", [1, 7, 390, BLOCK_ROWS * 3 + 5])
def test_numba_matches_numpy(spec, rows):
    X, y, params = _data(spec, rows)
    got = kernels.loss_grad(spec, X, y, params, parallel=False)
    loss, grad = reference.loss_grad(spec, X, y, params)
    assert got.shape == (spec.n_params + 1,)
    assert _relative_error(got, np.concatenate([[loss], grad])) <= 1e-5
    assert np.array_equal(kernels.loss_grad(spec, X, y, params, parallel=True), got)


@pytest.mark.parametrize("spec", SPECS[:3], ids=lambda s: s.kind)
def test_partial_gradients_add_up_to_the_full_batch(spec):
    X, y, params = _data(spec, 1000, seed=3)
    bounds = [0, 1, 250, 251, 700, 1000]
    parts = sum(kernels.loss_grad(spec, X[lo:hi], y[lo:hi], params)
                for lo, hi in zip(bounds[:-1], bounds[1:], strict=True))
    assert _relative_error(parts, kernels.loss_grad(spec, X, y, params)) <= 1e-6


def test_empty_partition_is_zero():
    spec = ModelSpec("mlp", 4, 3, 2)
    X, y, params = _data(spec, 0)
    assert np.array_equal(kernels.loss_grad(spec, X, y, params), np.zeros(spec.n_params + 1))


@pytest.mark.parametrize("spec", SPECS[:3], ids=lambda s: s.kind)
def test_bit_identical_whatever_the_thread_count(spec):
    X, y, params = _data(spec, BLOCK_ROWS * 4 + 3, seed=5)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        single = kernels.loss_grad(spec, X, y, params, parallel=True)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        multi = kernels.loss_grad(spec, X, y, params, parallel=True)
    finally:
        numba.set_num_threads(before)
    assert np.array_equal(single, multi)
    assert np.array_equal(kernels.loss_grad(spec, X, y, params, parallel=False), multi)


def test_known_values_logreg_at_zero():
    # at w = 0, b = 0 every row has loss log 2 and residual 1/2 - y
    spec = ModelSpec("logreg", 2, 2)
    X = np.array([[1, 2], [3, 4], [5, 6]], dtype=np.float32)
    y = np.array([1, 0, 1], dtype=np.int32)
    got = kernels.loss_grad(spec, X, y, np.zeros(3, dtype=np.float32))
    residual = np.array([-0.5, 0.5, -0.5])
    want = [3 * np.log(2), *(X.T @ residual), residual.sum()]
    np.testing.assert_allclose(got, want, rtol=1e-7)  # float32 arithmetic


def test_kernels_run_from_concurrent_python_threads():
    from concurrent.futures import ThreadPoolExecutor

    spec = ModelSpec("softmax", 16, 4)
    X, y, params = _data(spec, BLOCK_ROWS * 2 + 1, seed=9)
    want = kernels.loss_grad(spec, X, y, params)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(
            lambda i: kernels.loss_grad(spec, X, y, params, parallel=bool(i % 2)), range(32)))
    assert all(np.array_equal(r, want) for r in results)
