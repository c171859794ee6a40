"""The MLP kernel's tiled building blocks on awkward shapes (tile remainders, partial sub-blocks)
and its speed against the float32 numpy baseline of `sgc bench kernels` (one BLAS thread)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from coordinator.contract import gradients as reference
from coordinator.contract.models import ModelSpec
from functions import kernel_layers, kernels
from functions.kernel_blocks import BLOCK_ROWS, SUB_ROWS


def _data(spec: ModelSpec, rows: int, seed: int):
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((rows, spec.n_features)) * 3).astype(np.float32)
    y = rng.integers(0, spec.n_classes, rows).astype(np.int32)
    params = (rng.standard_normal(spec.n_params) * 0.5).astype(np.float32)
    return X, y, params


@pytest.mark.parametrize("shape", [(1, 2, 1), (3, 2, 2), (5, 3, 3), (6, 5, 4), (9, 7, 6)],
                         ids=lambda s: "d{}-c{}-h{}".format(*s))
@pytest.mark.parametrize("rows", [1, 2, 3, SUB_ROWS - 1, SUB_ROWS + 1,
                                  BLOCK_ROWS + 3])
def test_mlp_matches_reference_on_tile_remainders(shape, rows):
    d, classes, hidden = shape
    spec = ModelSpec("mlp", d, classes, hidden)
    X, y, params = _data(spec, rows, seed=rows + hidden)
    got = kernels.loss_grad(spec, X, y, params, parallel=False)
    loss, grad = reference.loss_grad(spec, X, y, params)
    want = np.concatenate([[loss], grad])
    assert np.abs(got - want).max() / np.abs(want).max() <= 1e-5
    assert np.array_equal(kernels.loss_grad(spec, X, y, params, parallel=True), got)


@pytest.mark.parametrize("rows,terms,width", [(1, 1, 1), (2, 4, 3), (3, 5, 8), (7, 9, 2),
                                              (32, 32, 64)])
def test_add_products_is_an_exact_matrix_product_on_small_integers(rows, terms, width):
    # integer entries below 2^6: every product and partial sum is exact in float32
    rng = np.random.default_rng(rows * terms)
    coef = rng.integers(-8, 8, (rows, terms)).astype(np.float32)
    M = rng.integers(-8, 8, (terms, width)).astype(np.float32)
    out = rng.integers(-8, 8, (rows, width)).astype(np.float32)
    want = out + coef @ M
    kernel_layers._add_products(coef, M, out)
    assert np.array_equal(out, want)
    transposed = np.zeros((width, rows), dtype=np.float32)
    kernel_layers._add_products(M.T, coef.T, transposed)  # strided coefficient views, as the kernel
    assert np.array_equal(transposed, (coef @ M).T)


def test_softmax_residuals_of_transposed_logits():
    rng = np.random.default_rng(4)
    Z = (rng.standard_normal((SUB_ROWS, 7)) * 20).astype(np.float32)
    labels = rng.integers(0, 7, SUB_ROWS).astype(np.int32)
    shifted = Z.astype(np.float64) - Z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1))
    want_loss = np.sum(log_norm - shifted[np.arange(len(labels)), labels])
    want = np.exp(shifted - log_norm[:, None])
    want[np.arange(len(labels)), labels] -= 1
    ZT = np.ascontiguousarray(Z.T)
    norm = np.empty(SUB_ROWS, dtype=np.float32)
    bits = np.empty(SUB_ROWS, dtype=np.int32)
    loss = kernel_layers._softmax_residuals(ZT, labels, norm, bits)
    assert loss == pytest.approx(want_loss, rel=1e-6)
    np.testing.assert_allclose(ZT.T, want, atol=1e-6)


def _best_of(function, repeats: int = 7, calls: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            function()
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def test_mlp_is_not_slower_than_numpy_float32_at_4096_rows():
    # the bench's digits-shaped MLP on a 1 MiB partition, both sides single-threaded;
    # interleaved best-of timings, so a loaded machine slows both sides alike
    spec = ModelSpec("mlp", 64, 10, 32)
    X, y, params = _data(spec, 4096, seed=0)
    arguments = (spec, X, y, params)
    kernels.loss_grad(*arguments, parallel=False)
    with threadpool_limits(1, user_api="blas"):  # numpy's BLAS only; leave OpenMP to Numba
        ratios = []
        for _ in range(3):
            numba_s = _best_of(lambda: kernels.loss_grad(*arguments, parallel=False))
            numpy_s = _best_of(lambda: reference.loss_grad(*arguments, np.float32))
            ratios.append(numpy_s / numba_s)
    assert max(ratios) >= 1.0, f"numpy/numba time ratios {ratios}"
