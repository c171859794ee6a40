"""The measured path rule (coordinator/contract/kernel_paths.py): its thresholds, and that the
path it picks is the one that runs and equals the float64 reference on both sides of each
threshold."""

from __future__ import annotations

import numpy as np
import pytest

from coordinator.contract import gradients as reference
from coordinator.contract.kernel_paths import (
    BLAS_MIN_MACS,
    BLAS_MIN_WEIGHTS,
    BLAS_MIN_WIDTH,
    CNN_BLAS_MIN_MACS,
    CNN_SUB_BLOCK_COLUMNS,
    cnn_head_rows,
    cnn_macs,
    cnn_path,
    cnn_sub_rows,
    mlp_path,
    weights,
)
from coordinator.contract.models import ModelSpec
from functions import kernels


def test_weights_count_every_layers_matrix():
    assert weights(ModelSpec("mlp", 64, 10, [32, 32])) == 64 * 32 + 32 * 32 + 32 * 10


@pytest.mark.parametrize("hidden", [[32, 32], [96], [16, 16, 16]])
def test_blas_from_the_multiply_add_threshold_on(hidden):
    spec = ModelSpec("mlp", 64, 10, hidden)
    crossover = -(-BLAS_MIN_MACS // weights(spec))  # the first row count at the threshold
    assert mlp_path(spec, crossover) == "blas"
    assert mlp_path(spec, crossover - 1) != "blas"


def test_large_models_take_blas_even_on_one_row():
    wide = ModelSpec("mlp", 64, 10, [256])  # 18,944 weights >= BLAS_MIN_WEIGHTS
    assert weights(wide) >= BLAS_MIN_WEIGHTS and mlp_path(wide, 1) == "blas"
    narrow = ModelSpec("mlp", 64, 10, [128])  # 9,472 weights
    assert weights(narrow) < BLAS_MIN_WEIGHTS and mlp_path(narrow, 1) == "deep"


def test_one_narrow_relu_layer_keeps_its_kernel_below_the_thresholds():
    assert mlp_path(ModelSpec("mlp", 64, 10, 32), 7) == "mlp1"
    assert mlp_path(ModelSpec("mlp", 64, 10, 32, "tanh"), 7) == "deep"
    assert mlp_path(ModelSpec("mlp", 8, 3, BLAS_MIN_WIDTH), 7) == "deep"
    assert mlp_path(ModelSpec("mlp", 64, 10, 32), 4096) == "blas"  # digits-sized, 1 MiB


@pytest.mark.parametrize("hidden,activation", [([32, 32], "relu"), ([24], "relu"),
                                               ([20, 12], "tanh")])
def test_both_sides_of_the_threshold_equal_the_reference(hidden, activation):
    spec = ModelSpec("mlp", 16, 4, hidden, activation)
    crossover = -(-BLAS_MIN_MACS // weights(spec))
    rng = np.random.default_rng(len(hidden))
    params = (rng.standard_normal(spec.n_params) * 0.3).astype(np.float32)
    paths = set()
    for rows in (crossover - 1, crossover):
        X = rng.standard_normal((rows, spec.n_features)).astype(np.float32)
        y = rng.integers(0, spec.n_classes, rows).astype(np.int32)
        paths.add(mlp_path(spec, rows))
        want = np.concatenate(reference.loss_grad(spec, X, y, params), axis=None)
        got = kernels.loss_grad(spec, X, y, params, parallel=False)
        assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max(), (rows, mlp_path(spec,
                                                                                     rows))
    assert "blas" in paths and len(paths) == 2


def test_cnn_multiply_adds_count_every_conv_and_dense_layer():
    spec = ModelSpec("cnn", 64, 10, [12], "relu", [1, 8, 8], [[4, 3], [6, 3]], 2)
    assert cnn_macs(spec) == 4 * 9 * 64 + 6 * 36 * 16 + 24 * 12 + 12 * 10


def test_cnn_blas_for_wide_convolutions_from_the_multiply_add_threshold_on():
    wide = ModelSpec("cnn", 3072, 10, [128], "relu", [3, 32, 32], [[32, 3], [64, 3]], 2)
    crossover = -(-CNN_BLAS_MIN_MACS // cnn_macs(wide))
    assert crossover >= 1 and cnn_path(wide, max(crossover, 2)) == "blas"
    narrow = ModelSpec("cnn", 64, 10, [], "relu", [1, 8, 8], [[16, 3], [63, 3]], 2)
    assert cnn_path(narrow, 10**6) == "fused"  # any number of rows
    for conv in ([[16, 3], [64, 3]], [[64, 3], [16, 3]]):  # whichever layer is the wide one
        widened = ModelSpec("cnn", 64, 10, [], "relu", [1, 8, 8], conv, 2)
        crossover = -(-CNN_BLAS_MIN_MACS // cnn_macs(widened))
        assert cnn_path(widened, crossover) == "blas"
        assert cnn_path(widened, crossover - 1) == "fused"


def test_cnn_blocks_are_powers_of_two_within_their_budgets():
    for image, conv in (([1, 8, 8], [[16, 3], [32, 3]]), ([3, 32, 32], [[32, 3], [64, 3]]),
                        ([3, 224, 224], [[64, 7]])):
        spec = ModelSpec("cnn", int(np.prod(image)), 10, [], "relu", image, conv, 2)
        columns = sum(layer.taps * layer.positions for layer in spec.conv_layers)
        for path, budget in CNN_SUB_BLOCK_COLUMNS.items():
            rows = cnn_sub_rows(spec, path)
            assert rows & (rows - 1) == 0 and 1 <= rows <= 1024
            assert rows == 1 or rows * columns <= budget
            assert rows == 1024 or 2 * rows * columns > budget
        head = cnn_head_rows(spec)
        assert head % cnn_sub_rows(spec, "blas") == 0 and head <= 1024
