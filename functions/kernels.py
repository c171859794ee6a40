"""Numba gradient kernels: loss sum and gradient sum of one model over one partition.

Each kernel takes X (rows x d float32, C-contiguous), y (int32 labels) and the flat float32
parameter vector (layout in coordinator/contract/models.py) and returns one float64 vector
[loss_sum, *grad_sum] -- the worker's result format before coding.

Rows are cut into fixed blocks of ``BLOCK_ROWS``; blocks run in parallel (prange) on large
partitions (``*_parallel``) or in a loop (``*_serial``, same blocks), and the
per-block partial sums are added in block order, so the result is bit-identical whatever the
thread count. Within a block each row is read once (row-major: it stays in L1 for the forward and
the backward step); arithmetic is float32 (SIMD width), with gradient accumulators flushed into
float64 every ``SUB_ROWS`` rows so rounding never grows with the partition size. exp is a
vectorizable polynomial (``_exp_nonpositive``) because a libm call per logit costs more than the
rest of a linear model's row. Inner loops run over the long contiguous dimension (features, hidden
units); weights are transposed once per call to make that so. The MLP, whose rows cost two small
matrix products, works a sub-block of ``SUB_ROWS`` rows at a time instead: register-tiled products
(each load feeds several multiply-adds, as in a BLAS gemm; BLAS itself would need scipy, which
the Lambda bundle has no room for) and the softmax vectorized across the sub-block's rows.
Deeper or wider MLPs (``hidden: [h1, ..., hL]``, ReLU or tanh) go to ``kernels_deep`` (the same
fused sub-block scheme over any number of layers) or ``kernels_blas`` (numpy's sgemm for the
products, fused Numba between them), by the measured rule of
``coordinator.contract.kernel_paths.mlp_path``. Convolutional models (``kind: cnn``) go to
``kernels_cnn_fused`` (one Numba call) or ``kernels_cnn`` (im2col + sgemm) by ``cnn_path``; both
are serial (a CNN's row blocks are sub-blocks summed in order, the same bits on every worker).
Invariant (tested): equal to the float64 reference (coordinator/contract/gradients.py) within
relative error 1e-5.

Importing this module first runs ``numba_setup.configure()``: the cache directory, CPU target
and threading layer must be set before the decorators below bind their caches.
"""

from __future__ import annotations

from functions import numba_setup

numba_setup.configure()  # before Numba is imported and binds any cache below (idempotent)

import numba  # noqa: E402
import numpy as np  # noqa: E402
from numba import njit, prange  # noqa: E402

from coordinator.contract.kernel_paths import cnn_path, mlp_path  # noqa: E402
from coordinator.contract.models import ModelSpec  # noqa: E402
from functions.kernel_blocks import (  # noqa: E402
    _JIT,
    PARALLEL_AVAILABLE,
    PARALLEL_MIN_ROWS,
    SUB_ROWS,
    _bounds,
    _exp_nonpositive,
    _flush,
    _log1p_unit,
    _partials,
    _softmax_residual,
    _sum_blocks,
)
from functions.kernel_layers import RELU, TANH  # noqa: E402
from functions.kernels_blas import deep_blas  # noqa: E402
from functions.kernels_cnn import cnn_blas  # noqa: E402
from functions.kernels_cnn_fused import cnn_fused  # noqa: E402
from functions.kernels_deep import deep_parallel, deep_serial  # noqa: E402
from functions.kernels_mlp import mlp_parallel, mlp_serial  # noqa: E402


@njit(**_JIT)
def _logreg_block(X, y, w, b, start, stop, out):
    d = X.shape[1]
    grad = np.zeros(d)
    grad32 = np.zeros(d, dtype=np.float32)
    z = np.empty(SUB_ROWS, dtype=np.float32)
    e = np.empty(SUB_ROWS, dtype=np.float32)
    bits = np.empty(SUB_ROWS, dtype=np.int32)
    loss = 0.0
    grad_b = 0.0
    for sub in range(start, stop, SUB_ROWS):
        count = min(stop - sub, SUB_ROWS)
        for k in range(count):  # logits: one dot product per row
            acc = b
            for f in range(d):
                acc += X[sub + k, f] * w[f]
            z[k] = acc
            e[k] = -abs(acc)
        _exp_nonpositive(e, bits, count)
        for k in range(count):  # loss log(1 + e^z) - y z and residual sigmoid(z) - y
            label = np.float32(y[sub + k])
            loss += max(z[k], np.float32(0.0)) + _log1p_unit(e[k]) - label * z[k]
            numerator = np.float32(1.0) if z[k] >= 0 else e[k]
            z[k] = numerator / (np.float32(1.0) + e[k]) - label
            grad_b += z[k]
        for k in range(count):
            r = z[k]
            for f in range(d):
                grad32[f] += r * X[sub + k, f]
        _flush(grad32, grad)
    out[0] = loss
    out[1:d + 1] = grad
    out[d + 1] = grad_b


@njit(**_JIT)
def _logreg_weights(params, d):
    return params[:d].copy(), params[d]


@njit(parallel=True, **_JIT)
def logreg_parallel(X, y, params):
    """Binary logistic regression; params = [w (d), b]. Blocks spread over Numba's threads."""
    w, b = _logreg_weights(params, X.shape[1])
    partial = _partials(X.shape[0], X.shape[1] + 2)
    for block in prange(partial.shape[0]):
        start, stop = _bounds(block, X.shape[0])
        _logreg_block(X, y, w, b, start, stop, partial[block])
    return _sum_blocks(partial)


@njit(**_JIT)
def logreg_serial(X, y, params):
    """``logreg_parallel`` on the calling thread (same blocks, bit-identical result)."""
    w, b = _logreg_weights(params, X.shape[1])
    partial = _partials(X.shape[0], X.shape[1] + 2)
    for block in range(partial.shape[0]):
        start, stop = _bounds(block, X.shape[0])
        _logreg_block(X, y, w, b, start, stop, partial[block])
    return _sum_blocks(partial)


@njit(**_JIT)
def _softmax_block(X, y, WT, b, start, stop, out):
    classes, d = WT.shape
    grad = np.zeros((classes, d))
    grad32 = np.zeros((classes, d), dtype=np.float32)
    grad_b = np.zeros(classes)
    z = np.empty(classes, dtype=np.float32)
    bits = np.empty(classes, dtype=np.int32)
    loss = 0.0
    for sub in range(start, stop, SUB_ROWS):
        for i in range(sub, min(stop, sub + SUB_ROWS)):
            for c in range(classes):  # z_c = x . W[:, c] + b_c: contiguous dot products
                acc = b[c]
                for f in range(d):
                    acc += X[i, f] * WT[c, f]
                z[c] = acc
            loss += _softmax_residual(z, y[i], bits)
            for c in range(classes):
                rc = z[c]
                grad_b[c] += rc
                for f in range(d):
                    grad32[c, f] += rc * X[i, f]
        _flush(grad32.ravel(), grad.ravel())
    out[0] = loss
    out[1:d * classes + 1] = grad.T.copy().ravel()
    out[d * classes + 1:] = grad_b


@njit(**_JIT)
def _softmax_weights(params, d, classes):
    return params[:d * classes].reshape((d, classes)).T.copy(), params[d * classes:].copy()


@njit(parallel=True, **_JIT)
def softmax_parallel(X, y, params, classes):
    """Multinomial logistic regression; params = [W (d x C), b (C)]."""
    WT, b = _softmax_weights(params, X.shape[1], classes)
    partial = _partials(X.shape[0], params.size + 1)
    for block in prange(partial.shape[0]):
        start, stop = _bounds(block, X.shape[0])
        _softmax_block(X, y, WT, b, start, stop, partial[block])
    return _sum_blocks(partial)


@njit(**_JIT)
def softmax_serial(X, y, params, classes):
    WT, b = _softmax_weights(params, X.shape[1], classes)
    partial = _partials(X.shape[0], params.size + 1)
    for block in range(partial.shape[0]):
        start, stop = _bounds(block, X.shape[0])
        _softmax_block(X, y, WT, b, start, stop, partial[block])
    return _sum_blocks(partial)


def loss_grad(spec: ModelSpec, X: np.ndarray, y: np.ndarray, params: np.ndarray,
              parallel: bool | None = None) -> np.ndarray:
    """[loss_sum, *grad_sum] (float64) of ``spec`` over the rows of X; inputs already validated.

    Threads pay only on large partitions: below ``PARALLEL_MIN_ROWS`` a parallel launch costs
    more than it saves (and under a loaded CPU a descheduled thread stalls the whole launch).
    """
    if parallel is None:
        parallel = (PARALLEL_AVAILABLE and X.shape[0] >= PARALLEL_MIN_ROWS
                    and numba.get_num_threads() > 1)
    if spec.kind == "logreg":
        return (logreg_parallel if parallel else logreg_serial)(X, y, params)
    if spec.kind == "softmax":
        return (softmax_parallel if parallel else softmax_serial)(X, y, params, spec.n_classes)
    if spec.kind == "cnn":
        path = cnn_path(spec, X.shape[0])
        return (cnn_blas if path == "blas" else cnn_fused)(spec, X, y, params)
    return _mlp(spec, X, y, params, parallel)


ACTIVATION_CODES = {"relu": RELU, "tanh": TANH}


def _mlp(spec: ModelSpec, X: np.ndarray, y: np.ndarray, params: np.ndarray,
         parallel: bool) -> np.ndarray:
    path = mlp_path(spec, X.shape[0])
    activation = ACTIVATION_CODES[spec.activation]
    if path == "blas":
        return deep_blas(X, y, params, spec.widths, activation)
    if path == "mlp1":
        mlp = mlp_parallel if parallel else mlp_serial
        return mlp(X, y, params, spec.hidden[0], spec.n_classes)
    widths = np.array(spec.widths, dtype=np.int64)
    if parallel:
        return deep_parallel(X, y, params, widths, activation, numba.get_num_threads())
    return deep_serial(X, y, params, widths, activation)


def warm_up() -> None:
    """Load (or compile) every kernel for the worker's argument types, so no invocation pays it."""
    X = np.zeros((2, 3), dtype=np.float32)
    y = np.zeros(2, dtype=np.int32)
    specs = (ModelSpec("logreg", 3, 2), ModelSpec("softmax", 3, 3), ModelSpec("mlp", 3, 3, 2),
             ModelSpec("mlp", 3, 3, [2, 2], "tanh"))
    for spec in specs:
        for parallel in (False, True) if PARALLEL_AVAILABLE else (False,):
            loss_grad(spec, X, y, spec.init(), parallel=parallel)
    wide = ModelSpec("mlp", 3, 3, [4, 4], "tanh")  # the BLAS path's helpers (any size will do)
    rows = np.zeros((2, 3), dtype=np.float32)
    for activation in (RELU, TANH):
        deep_blas(rows, np.zeros(2, dtype=np.int32), wide.init(), wide.widths, activation)
    cnn = ModelSpec("cnn", 16, 3, [2], "relu", [1, 4, 4], [[2, 3], [2, 1]], 2)
    images = np.zeros((2, 16), dtype=np.float32)
    for path in (cnn_blas, cnn_fused):  # both conv paths (any size will do)
        path(cnn, images, np.zeros(2, dtype=np.int32), cnn.init())
