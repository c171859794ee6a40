"""CNN kernels (functions/kernels_cnn.py: im2col + sgemm; kernels_cnn_fused.py: one Numba call):
both paths and the dispatcher equal the float64 reference (relative error <= 1e-5) on every shape
feature (odd sides, 1x1 to 5x5 kernels, no pooling, no hidden layer, several sub-blocks and head
blocks), max-pooling ties go where the reference sends them, partial gradients add up, and the
bits do not depend on the Numba or BLAS thread count or on concurrent callers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from coordinator.contract import gradients as reference
from coordinator.contract import kernel_paths
from coordinator.contract.models import ModelSpec
from functions import kernels
from functions.kernels_cnn import cnn_blas
from functions.kernels_cnn_fused import cnn_fused

SHAPES = {  # (input, conv, pool, hidden)
    "two-blocks": ([1, 8, 8], [[4, 3], [6, 3]], 2, [12]),
    "odd-sides": ([2, 5, 7], [[3, 3], [2, 1]], 2, [4]),
    "no-pool-no-hidden": ([1, 4, 4], [[2, 3]], 1, []),
    "three-blocks": ([3, 9, 9], [[5, 5], [7, 3], [4, 1]], 2, [6, 5]),
    "wide": ([2, 4, 4], [[64, 3]], 2, []),  # enough channels for the BLAS path
}
PATHS = {"blas": cnn_blas, "fused": cnn_fused}


def spec_of(name: str, classes: int = 4) -> ModelSpec:
    image, conv, pool, hidden = SHAPES[name]
    return ModelSpec("cnn", int(np.prod(image)), classes, hidden, "relu", image, conv, pool)


def data(spec: ModelSpec, rows: int, seed: int = 0):
    """Inputs whose logits stay moderate (a saturated softmax leaves float32 residuals of 1e-4
    relative error: no kernel can do better) and whose ReLU and pooling decisions are far from
    float32 rounding (checked: the documented exception, see functions/kernels_cnn.py)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, spec.n_features)).astype(np.float32)
    y = rng.integers(0, spec.n_classes, rows).astype(np.int32)
    params = (rng.standard_normal(spec.n_params) * 0.3).astype(np.float32)
    return X, y, params


def relative_error(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.abs(got - want).max() / np.abs(want).max())


def want(spec: ModelSpec, X, y, params) -> np.ndarray:
    return np.concatenate(reference.loss_grad(spec, X, y, params), axis=None)


@pytest.fixture
def small_blocks(monkeypatch):
    """Sub-blocks of a few images and head blocks of a few sub-blocks, so a small partition
    runs through several of each (the block sizes are the rule's, read at every call)."""
    monkeypatch.setitem(kernel_paths.CNN_SUB_BLOCK_COLUMNS, "blas", 2400)
    monkeypatch.setitem(kernel_paths.CNN_SUB_BLOCK_COLUMNS, "fused", 2400)
    monkeypatch.setattr(kernel_paths, "CNN_HEAD_BLOCK_FLOATS", 1500)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", SHAPES)
@pytest.mark.parametrize("rows", [1, 7, 70])
def test_every_path_matches_the_float64_reference(small_blocks, name, path, rows):
    spec = spec_of(name)
    X, y, params = data(spec, rows, seed=rows)
    got = PATHS[path](spec, X, y, params)
    assert got.shape == (spec.n_params + 1,)
    assert relative_error(got, want(spec, X, y, params)) <= 1e-5


def test_small_blocks_really_split_the_rows(small_blocks):
    spec = spec_of("two-blocks")
    assert 1 < kernel_paths.cnn_sub_rows(spec, "blas") < kernel_paths.cnn_head_rows(spec) < 70
    assert 1 < kernel_paths.cnn_sub_rows(spec, "fused") < 70


def test_the_shapes_reach_both_paths():
    assert {kernel_paths.cnn_path(spec_of(name), 600) for name in SHAPES} == {"blas", "fused"}


@pytest.mark.parametrize("name", SHAPES)
def test_the_dispatcher_runs_the_rule_s_path(name):
    spec = spec_of(name)
    for rows in (2, 600):
        X, y, params = data(spec, rows, seed=3)
        path = kernel_paths.cnn_path(spec, rows)
        got = kernels.loss_grad(spec, X, y, params)
        assert np.array_equal(got, PATHS[path](spec, X, y, params))
        assert relative_error(got, want(spec, X, y, params)) <= 1e-5


def test_max_pooling_ties_go_where_the_reference_sends_them():
    """Digits images are small integers: many windows hold equal values (zeros, repeated
    strokes), and a 1x1 convolution keeps the ties exact in float32 and float64 alike."""
    from sklearn.datasets import load_digits

    images, labels = load_digits(return_X_y=True)
    X, y = images[:200].astype(np.float32), labels[:200].astype(np.int32)
    spec = ModelSpec("cnn", 64, 10, [8], "relu", [1, 8, 8], [[3, 1], [4, 3]], 2)
    params = spec.init(seed=1) * np.float32(0.2)
    windows = X.reshape(-1, 4, 2, 4, 2).transpose(0, 1, 3, 2, 4).reshape(-1, 4)
    assert (np.sort(windows)[:, -1] == np.sort(windows)[:, -2]).mean() > 0.3  # many ties
    for path in PATHS.values():
        assert relative_error(path(spec, X, y, params), want(spec, X, y, params)) <= 1e-5


@pytest.mark.parametrize("path", PATHS)
def test_partial_gradients_add_up_to_the_full_batch(path):
    spec = spec_of("two-blocks")
    X, y, params = data(spec, 300, seed=4)
    bounds = [0, 1, 90, 91, 300]
    parts = sum(PATHS[path](spec, X[lo:hi], y[lo:hi], params)
                for lo, hi in zip(bounds[:-1], bounds[1:], strict=True))
    assert relative_error(parts, PATHS[path](spec, X, y, params)) <= 1e-6


@pytest.mark.parametrize("path", PATHS)
def test_empty_partition_is_zero(path):
    spec = spec_of("odd-sides")
    X, y, params = data(spec, 0)
    assert np.array_equal(PATHS[path](spec, X, y, params), np.zeros(spec.n_params + 1))


@pytest.mark.parametrize("path", PATHS)
def test_bit_identical_whatever_the_numba_and_blas_thread_counts(small_blocks, path):
    spec = spec_of("three-blocks")
    X, y, params = data(spec, 150, seed=5)
    before = numba.get_num_threads()
    results = []
    try:
        for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(threads)
            for blas in (1, 2, 4):
                with threadpool_limits(blas, user_api="blas"):
                    results.append(PATHS[path](spec, X, y, params))
    finally:
        numba.set_num_threads(before)
    assert all(np.array_equal(r, results[0]) for r in results)


def test_concurrent_python_threads_get_the_same_bits():
    spec = spec_of("two-blocks")
    X, y, params = data(spec, 400, seed=6)
    expected = {name: path(spec, X, y, params) for name, path in PATHS.items()}
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda i: (i % 2, PATHS[list(PATHS)[i % 2]](spec, X, y, params)),
                                range(24)))
    assert all(np.array_equal(got, expected[list(PATHS)[i]]) for i, got in results)
