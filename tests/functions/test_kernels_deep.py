"""Deep MLPs (1-4 hidden layers, ReLU and tanh): every kernel path equals the float64 numpy
reference, the reference equals finite differences, results are bit-identical whatever the Numba
or BLAS thread count, and bad model specs name their field."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numba
import numpy as np
import pytest
from kernel_data import kernel_data
from threadpoolctl import threadpool_info, threadpool_limits

from coordinator.contract import gradients as reference
from coordinator.contract.errors import EventError
from coordinator.contract.kernel_paths import mlp_path
from coordinator.contract.models import ModelSpec
from functions import kernels
from functions.kernel_blocks import BLOCK_ROWS, SUB_ROWS
from functions.kernel_layers import RELU, TANH
from functions.kernels_blas import deep_blas
from functions.kernels_deep import deep_parallel, deep_serial

DEPTHS = [(6,), (5, 7), (4, 6, 5), (3, 5, 4, 6)]
CODES = {"relu": RELU, "tanh": TANH}


def _data(spec: ModelSpec, rows: int, seed: int = 0):
    return kernel_data(spec, rows, seed, scale=2.0)


def _paths(spec: ModelSpec, X, y, params) -> dict[str, np.ndarray]:
    widths, code = np.array(spec.widths, dtype=np.int64), CODES[spec.activation]
    return {"dispatch": kernels.loss_grad(spec, X, y, params, parallel=False),
            "numba": deep_serial(X, y, params, widths, code),
            "numba-parallel": deep_parallel(X, y, params, widths, code, 2),
            "blas": deep_blas(X, y, params, spec.widths, code)}


def _relative_error(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.abs(got - want).max() / np.abs(want).max())


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("hidden", DEPTHS, ids=lambda h: f"depth{len(h)}")
@pytest.mark.parametrize("rows", [1, SUB_ROWS + 3, BLOCK_ROWS + 5])
def test_every_path_matches_the_float64_reference(hidden, activation, rows):
    spec = ModelSpec("mlp", 5, 4, list(hidden), activation)
    X, y, params = _data(spec, rows, seed=rows + len(hidden))
    want = np.concatenate(reference.loss_grad(spec, X, y, params), axis=None)
    for path, got in _paths(spec, X, y, params).items():
        assert got.shape == (spec.n_params + 1,), path
        assert _relative_error(got, want) <= 1e-5, path


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("hidden", DEPTHS, ids=lambda h: f"depth{len(h)}")
def test_reference_and_kernel_gradients_match_finite_differences(hidden, activation):
    """Central differences of the float64 reference loss, every parameter of a tiny model."""
    spec = ModelSpec("mlp", 3, 3, list(hidden), activation)
    X, y, params32 = _data(spec, 6, seed=len(hidden))
    params = params32.astype(np.float64)
    _, grad = reference.loss_grad(spec, X, y, params)
    step = 1e-6
    numeric = np.empty(spec.n_params)
    for i in range(spec.n_params):
        up, down = params.copy(), params.copy()
        up[i] += step
        down[i] -= step
        numeric[i] = (reference.loss_grad(spec, X, y, up)[0]
                      - reference.loss_grad(spec, X, y, down)[0]) / (2 * step)
    assert np.abs(grad - numeric).max() <= 1e-6 * max(1.0, np.abs(numeric).max())
    kernel = kernels.loss_grad(spec, X, y, params32, parallel=False)[1:]
    assert np.abs(kernel - numeric).max() <= 1e-5 * max(1.0, np.abs(numeric).max())


def test_one_hidden_layer_as_int_and_as_list_is_the_same_model():
    as_int, as_list = ModelSpec("mlp", 4, 3, 5), ModelSpec("mlp", 4, 3, [5])
    assert as_int == as_list and as_int.to_dict()["hidden"] == 5
    assert as_int.shapes == [("W1", (4, 5)), ("b1", (5,)), ("W2", (5, 3)), ("b2", (3,))]
    deep = ModelSpec("mlp", 4, 3, [5, 6], "tanh")
    assert ModelSpec.from_dict(deep.to_dict()) == deep
    assert deep.n_params == 4 * 5 + 5 + 5 * 6 + 6 + 6 * 3 + 3


@pytest.mark.parametrize("hidden,rows,path", [([16], 7, "mlp1"), ([32, 32], 64, "deep"),
                                              ([32, 32], 1024, "blas"), ([256], 128, "blas"),
                                              ([512], 8, "deep")])
def test_path_rule(hidden, rows, path):
    assert mlp_path(ModelSpec("mlp", 8, 3, hidden), rows) == path


def test_numba_path_bit_identical_whatever_the_thread_count():
    spec = ModelSpec("mlp", 6, 4, [7, 5], "tanh")
    X, y, params = _data(spec, BLOCK_ROWS * 5 + 3, seed=5)
    widths = np.array(spec.widths, dtype=np.int64)
    before = numba.get_num_threads()
    results = []
    try:
        for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(threads)
            results += [deep_parallel(X, y, params, widths, TANH, waves)
                        for waves in (1, 2, 3, threads)]
    finally:
        numba.set_num_threads(before)
    results.append(deep_serial(X, y, params, widths, TANH))
    assert all(np.array_equal(r, results[0]) for r in results)


def _blas_threads() -> int:
    return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")


def test_blas_path_pins_one_blas_thread_and_is_bit_identical_whatever_the_setting():
    spec = ModelSpec("mlp", 16, 5, [160, 96])
    X, y, params = _data(spec, BLOCK_ROWS * 2 + 7, seed=6)
    results = []
    for threads in (1, 2, 4):
        with threadpool_limits(threads, user_api="blas"):
            results.append(deep_blas(X, y, params, spec.widths, RELU))
            assert _blas_threads() == threads  # restored after the call
    assert all(np.array_equal(r, results[0]) for r in results)


def test_blas_path_from_concurrent_python_threads():
    spec = ModelSpec("mlp", 8, 4, [130, 40], "tanh")
    X, y, params = _data(spec, 700, seed=7)
    want = kernels.loss_grad(spec, X, y, params)
    with threadpool_limits(2, user_api="blas"):
        with ThreadPoolExecutor(6) as pool:
            results = list(pool.map(lambda _: kernels.loss_grad(spec, X, y, params), range(24)))
        assert _blas_threads() == 2
    assert all(np.array_equal(r, want) for r in results)


def test_empty_partition_is_zero_on_every_path():
    spec = ModelSpec("mlp", 4, 3, [300, 2])
    X, y, params = _data(spec, 0)
    for got in _paths(spec, X, y, params).values():
        assert np.array_equal(got, np.zeros(spec.n_params + 1))


@pytest.mark.parametrize("hidden,activation,field", [
    ([], "relu", "model.hidden"), ([4, 0], "relu", "model.hidden[1]"),
    (0, "relu", "model.hidden"), ("wide", "relu", "model.hidden"),
    ([4, 2.5], "relu", "model.hidden[1]"), ([4] * 17, "relu", "model.hidden"),
    ([100000], "relu", "model.hidden"), ([4], "gelu", "model.activation")])
def test_bad_model_names_the_field(hidden, activation, field):
    with pytest.raises(EventError) as error:
        ModelSpec.from_dict({"kind": "mlp", "n_features": 3, "n_classes": 2, "hidden": hidden,
                             "activation": activation})
    assert error.value.field == field


def test_activation_only_for_mlp():
    with pytest.raises(EventError) as error:
        ModelSpec("softmax", 3, 3, 0, "tanh")
    assert error.value.field == "model.activation"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="Linux peak RSS (VmHWM)")
def test_a_million_parameter_kernel_fits_a_default_worker_with_its_partition(tmp_path):
    """Peak RSS of a fresh worker process (runtime + kernels warmed up) computing the gradient of
    a 1.9M-parameter MLP on an 8192-row MNIST-shaped partition stays under the estimate, and the
    estimate under the default 1,769 MB worker."""
    import json
    import subprocess
    import sys

    from coordinator.spec.model_budget import estimate
    from coordinator.workflow import resources

    spec = ModelSpec("mlp", 784, 10, [1024, 1024])
    rows = 8192
    script = (
        "import json, sys, numpy as np, functions.worker\n"
        "from functions import kernels\nfrom coordinator.contract.models import ModelSpec\n"
        f"spec = ModelSpec('mlp', 784, 10, [1024, 1024]); rng = np.random.default_rng(0)\n"
        f"X = rng.standard_normal(({rows}, 784), dtype=np.float32)\n"
        f"y = rng.integers(0, 10, {rows}).astype(np.int32)\n"
        "out = kernels.loss_grad(spec, X, y, spec.init())\n"
        "misses = sum(len(d.stats.cache_misses) for m in list(sys.modules.values())\n"
        "             if getattr(m, '__name__', '').startswith('functions.')\n"
        "             for d in vars(m).values() if hasattr(d, 'stats'))\n"
        # VmHWM, this process image's peak RSS: ru_maxrss would also count the forking parent's
        # RSS at exec (Linux keeps the larger of the two), a test worker of gigabytes
        "peak = [int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')]\n"
        "print(json.dumps([peak[0] / 1024, misses]))\n")
    import os

    # A fresh process as Lambda starts one: nothing inherited from the test session's
    # environment (other tests set thread counts and cache locations there).
    # The kernel cache is the one every in-process worker of the suite fills (numba_setup's
    # default): kernels are compiled per signature, not per shape, so this run usually loads
    # them as Lambda loads the shipped cache.
    from functions.numba_setup import DEFAULT_CACHE_DIR

    clean_env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
                 "AWS_DEFAULT_REGION": "us-east-1", "NUMBA_CACHE_DIR": DEFAULT_CACHE_DIR,
                 "SGC_NUMBA_SHIPPED_CACHE": str(tmp_path / "none")}
    # A run may compile the kernels (JIT memory is not the worker's: Lambda loads the shipped
    # cache); a later run loads them from the cache, as Lambda does. Measured: the first run
    # that compiled nothing (one that did would count the compiler's memory).
    for _ in range(3):
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              check=True, env=clean_env)
        peak_mb, misses = json.loads(done.stdout.strip().splitlines()[-1])
        if misses == 0:
            break
    assert misses == 0, f"every run compiled kernels ({misses} cache misses in the last)"
    estimated = estimate(spec, rows)["memory_mb"]
    assert spec.n_params > 1e6
    # The worker fits its memory; the estimate is an upper bound where the measurement is
    # quiet, and is checked against the worker's memory too.
    assert peak_mb <= resources.WORKER_MEMORY_MB, (peak_mb, estimated)
    assert estimated <= resources.WORKER_MEMORY_MB
