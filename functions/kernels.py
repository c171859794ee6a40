"""Numba gradient kernels: loss sum and gradient sum of one model over one partition.

Each kernel takes X (rows x d float32, C-contiguous), y (int32 labels) and the flat float32
parameter vector (layout in functions/models.py) and returns one float64 vector
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
Invariant (tested): equal to the float64 functions/kernels_reference.py within relative error 1e-5.

Importing this module first runs ``numba_setup.configure()``: the cache directory, CPU target
and threading layer must be set before the decorators below bind their caches.
"""

from __future__ import annotations

from functions import numba_setup

PARALLEL_AVAILABLE = bool(numba_setup.configure()["parallel"])

import numba  # noqa: E402
import numpy as np  # noqa: E402
from numba import njit, prange  # noqa: E402

from functions.models import ModelSpec  # noqa: E402

BLOCK_ROWS = 1024
PARALLEL_MIN_ROWS = 16 * BLOCK_ROWS
# float32 accumulators are flushed into float64 every SUB_ROWS rows: the rounding error of a
# float32 sum grows with its length, so it never sums more than 32 terms.
SUB_ROWS = 32
# Reassociation lets LLVM vectorize the dot products; no "nnan"/"ninf": inputs are checked, and
# a NaN must propagate rather than be optimized away.
FASTMATH = {"reassoc", "contract", "nsz", "arcp"}
_JIT = {"cache": True, "fastmath": FASTMATH, "nogil": True}


# exp(x) = 2^n * e^r with n = round(x / ln 2), r = x - n ln 2 (Cody-Waite split of ln 2) and a
# degree-6 Taylor polynomial for e^r, |r| <= ln(2)/2: relative error ~1e-7, float32 throughout.
# Written as plain arithmetic (no libm call) so that LLVM vectorizes it across a whole buffer.
LOG2E = np.float32(1.4426950408889634)
LN2_HI = np.float32(0.693359375)
LN2_LO = np.float32(-2.12194440e-4)
EXP_FLOOR = np.float32(-87.0)  # exp(-87) ~ 1.6e-38, the smallest normal float32 power of two


@njit(**_JIT)
def _exp_nonpositive(v, bits, count):
    """v[:count] = exp(v[:count]) for v <= 0 (float32, in place); ``bits`` is int32 scratch."""
    scale = bits.view(np.float32)
    for k in range(count):
        x = max(v[k], EXP_FLOOR)
        n = np.floor(x * LOG2E + np.float32(0.5))
        r = (x - n * LN2_HI) - n * LN2_LO
        v[k] = np.float32(1.0) + r * (np.float32(1.0) + r * (np.float32(0.5) + r * (
            np.float32(1 / 6) + r * (np.float32(1 / 24) + r * (
                np.float32(1 / 120) + r * np.float32(1 / 720))))))
        bits[k] = (np.int32(n) + np.int32(127)) << np.int32(23)
    for k in range(count):
        v[k] *= scale[k]


@njit(**_JIT)
def _log1p_unit(e):
    """log(1 + e) for 0 <= e <= 1: 2 atanh(s), s = e / (2 + e) <= 1/3, series to s^13 (~1e-8)."""
    s = e / (np.float32(2.0) + e)
    q = s * s
    return np.float32(2.0) * s * (np.float32(1.0) + q * (np.float32(1 / 3) + q * (
        np.float32(1 / 5) + q * (np.float32(1 / 7) + q * (np.float32(1 / 9) + q * (
            np.float32(1 / 11) + q * np.float32(1 / 13)))))))


@njit(**_JIT)
def _flush(acc32, acc64):
    """Move a float32 accumulator into its float64 total (bounds float32 rounding growth)."""
    for f in range(acc32.shape[0]):
        acc64[f] += acc32[f]
        acc32[f] = 0.0


@njit(**_JIT)
def _softmax_residual(z, label, bits):
    """Cross-entropy of logits z (float32) for class ``label``; z becomes softmax(z) - onehot."""
    top = z.max()
    for c in range(z.shape[0]):
        z[c] -= top
    shifted_label = z[label]
    _exp_nonpositive(z, bits, z.shape[0])
    norm = np.float32(0.0)
    for c in range(z.shape[0]):
        norm += z[c]
    inverse = np.float32(1.0) / norm
    for c in range(z.shape[0]):
        z[c] *= inverse
    z[label] -= np.float32(1.0)
    return np.log(np.float64(norm)) - shifted_label


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


@njit(**_JIT)
def _mlp_hidden(X, sub, W1T, b1, A):
    """A[k] = relu(X[sub + k] W1 + b1) for the rows of a sub-block: tiles of two rows by four
    hidden units, so every loaded value feeds several multiply-adds and eight independent
    vector accumulators hide the add latency."""
    count, hidden = A.shape
    d = W1T.shape[1]
    quads = hidden - hidden % 4
    for k in range(0, count, 2):
        r0 = sub + k
        r1 = sub + min(k + 1, count - 1)  # an odd last row is computed twice, stored once
        for j in range(0, quads, 4):
            s0 = t0 = b1[j]
            s1 = t1 = b1[j + 1]
            s2 = t2 = b1[j + 2]
            s3 = t3 = b1[j + 3]
            for f in range(d):
                x = X[r0, f]
                u = X[r1, f]
                w0, w1, w2, w3 = W1T[j, f], W1T[j + 1, f], W1T[j + 2, f], W1T[j + 3, f]
                s0 += x * w0
                s1 += x * w1
                s2 += x * w2
                s3 += x * w3
                t0 += u * w0
                t1 += u * w1
                t2 += u * w2
                t3 += u * w3
            A[k, j], A[k, j + 1], A[k, j + 2], A[k, j + 3] = s0, s1, s2, s3
            if k + 1 < count:
                A[k + 1, j], A[k + 1, j + 1], A[k + 1, j + 2], A[k + 1, j + 3] = t0, t1, t2, t3
    for k in range(count):
        for j in range(quads, hidden):
            acc = b1[j]
            for f in range(d):
                acc += X[sub + k, f] * W1T[j, f]
            A[k, j] = acc
        for j in range(hidden):
            A[k, j] = max(A[k, j], np.float32(0.0))


@njit(**_JIT)
def _add_products(coef, M, out):
    """out[r] += sum_c coef[r, c] M[c] (a small matrix product into float32 accumulators).

    Tiles of two output rows by four terms: each loaded M value feeds two multiply-adds and each
    output row is loaded and stored once per four terms; the inner loop runs over the contiguous
    rows of M and out. Fixed summation order: deterministic.
    """
    rows, terms = coef.shape
    width = M.shape[1]
    pairs = rows - rows % 2
    quads = terms - terms % 4
    for r in range(0, pairs, 2):
        for c in range(0, quads, 4):
            p0, p1, p2, p3 = coef[r, c], coef[r, c + 1], coef[r, c + 2], coef[r, c + 3]
            q0, q1 = coef[r + 1, c], coef[r + 1, c + 1]
            q2, q3 = coef[r + 1, c + 2], coef[r + 1, c + 3]
            for f in range(width):
                m0, m1, m2, m3 = M[c, f], M[c + 1, f], M[c + 2, f], M[c + 3, f]
                out[r, f] += (p0 * m0 + p1 * m1) + (p2 * m2 + p3 * m3)
                out[r + 1, f] += (q0 * m0 + q1 * m1) + (q2 * m2 + q3 * m3)
        for c in range(quads, terms):
            for f in range(width):
                out[r, f] += coef[r, c] * M[c, f]
                out[r + 1, f] += coef[r + 1, c] * M[c, f]
    for r in range(pairs, rows):
        for c in range(terms):
            for f in range(width):
                out[r, f] += coef[r, c] * M[c, f]


@njit(**_JIT)
def _softmax_residuals(ZT, labels, norm, bits):
    """``_softmax_residual`` for a sub-block of rows at once, logits stored transposed
    (classes x rows): every step is a vector operation across the rows. Returns the summed
    cross-entropy; ZT becomes the residuals. One log per sub-block: the log of the product of
    the row normalizers (each in [1, C]: no float64 overflow below 2^32 classes)."""
    classes, count = ZT.shape
    top = norm  # scratch: the row maxima first, then the normalizers
    top[:] = ZT[0]
    for c in range(1, classes):
        for k in range(count):
            top[k] = max(top[k], ZT[c, k])
    loss = 0.0
    for k in range(count):
        loss -= ZT[labels[k], k] - top[k]
    for c in range(classes):
        for k in range(count):
            ZT[c, k] -= top[k]
        _exp_nonpositive(ZT[c], bits, count)
    norm[:] = ZT[0]
    for c in range(1, classes):
        for k in range(count):
            norm[k] += ZT[c, k]
    product = 1.0
    for k in range(count):
        product *= norm[k]
        norm[k] = np.float32(1.0) / norm[k]
    for c in range(classes):
        for k in range(count):
            ZT[c, k] *= norm[k]
    for k in range(count):
        ZT[labels[k], k] -= np.float32(1.0)
    return loss + np.log(product)


@njit(**_JIT)
def _mlp_block(X, y, W1T, b1, W2T, b2, start, stop, out):
    """Rows [start, stop) into ``out``, one sub-block at a time: hidden layer H, transposed logits
    -> residuals R^T, then dH = R W2^T gated by H > 0, and the float32 gradient accumulators
    W2 += H^T R, W1 += X^T dH, flushed into float64 after every sub-block."""
    hidden, d = W1T.shape
    classes = W2T.shape[0]
    g_W1T = np.zeros((hidden, d))
    g_W1T_32 = np.zeros((hidden, d), dtype=np.float32)
    g_W2T = np.zeros((classes, hidden))
    g_W2T_32 = np.zeros((classes, hidden), dtype=np.float32)
    g_b1 = np.zeros(hidden)
    g_b2 = np.zeros(classes)
    A = np.empty((SUB_ROWS, hidden), dtype=np.float32)
    dA = np.empty((SUB_ROWS, hidden), dtype=np.float32)
    ZT = np.empty((classes, SUB_ROWS), dtype=np.float32)
    norm = np.empty(SUB_ROWS, dtype=np.float32)
    bits = np.empty(SUB_ROWS, dtype=np.int32)
    loss = 0.0
    for sub in range(start, stop, SUB_ROWS):
        count = min(stop - sub, SUB_ROWS)
        H = A[:count]
        RT = ZT[:, :count]
        dH = dA[:count]
        _mlp_hidden(X, sub, W1T, b1, H)
        for k in range(count):  # logits, transposed
            for c in range(classes):
                acc = b2[c]
                for j in range(hidden):
                    acc += H[k, j] * W2T[c, j]
                RT[c, k] = acc
        loss += _softmax_residuals(RT, y[sub:sub + count], norm[:count], bits)
        dH[:] = 0.0
        _add_products(RT.T, W2T, dH)  # backward through the output layer
        _add_products(RT, H, g_W2T_32)
        for c in range(classes):
            for k in range(count):
                g_b2[c] += RT[c, k]
        for k in range(count):
            for j in range(hidden):  # ReLU gate, branch-free: inactive units pass no gradient
                dH[k, j] = dH[k, j] if H[k, j] > np.float32(0.0) else np.float32(0.0)
                g_b1[j] += dH[k, j]
        _add_products(dH.T, X[sub:sub + count], g_W1T_32)
        _flush(g_W1T_32.ravel(), g_W1T.ravel())
        _flush(g_W2T_32.ravel(), g_W2T.ravel())
    out[0] = loss
    offset = 1
    for block in (g_W1T.T.copy().ravel(), g_b1, g_W2T.T.copy().ravel(), g_b2):
        out[offset:offset + block.size] = block
        offset += block.size


@njit(**_JIT)
def _mlp_weights(params, d, hidden, classes):
    W1T = params[:d * hidden].reshape((d, hidden)).T.copy()
    b1 = params[d * hidden:d * hidden + hidden].copy()
    o2 = d * hidden + hidden
    W2T = params[o2:o2 + hidden * classes].reshape((hidden, classes)).T.copy()
    return W1T, b1, W2T, params[o2 + hidden * classes:].copy()


@njit(parallel=True, **_JIT)
def mlp_parallel(X, y, params, hidden, classes):
    """One ReLU hidden layer; params = [W1 (d x H), b1 (H), W2 (H x C), b2 (C)]."""
    W1T, b1, W2T, b2 = _mlp_weights(params, X.shape[1], hidden, classes)
    partial = _partials(X.shape[0], params.size + 1)
    for block in prange(partial.shape[0]):
        start, stop = _bounds(block, X.shape[0])
        _mlp_block(X, y, W1T, b1, W2T, b2, start, stop, partial[block])
    return _sum_blocks(partial)


@njit(**_JIT)
def mlp_serial(X, y, params, hidden, classes):
    W1T, b1, W2T, b2 = _mlp_weights(params, X.shape[1], hidden, classes)
    partial = _partials(X.shape[0], params.size + 1)
    for block in range(partial.shape[0]):
        start, stop = _bounds(block, X.shape[0])
        _mlp_block(X, y, W1T, b1, W2T, b2, start, stop, partial[block])
    return _sum_blocks(partial)


@njit(**_JIT)
def _partials(rows, width):
    """One row of partial sums per block of BLOCK_ROWS rows."""
    return np.zeros(((rows + BLOCK_ROWS - 1) // BLOCK_ROWS, width))


@njit(**_JIT)
def _bounds(block, rows):
    start = block * BLOCK_ROWS
    return start, min(rows, start + BLOCK_ROWS)


@njit(**_JIT)
def _sum_blocks(partial):
    """Add block partials in block order (deterministic, unlike a parallel reduction)."""
    total = np.zeros(partial.shape[1])
    for block in range(partial.shape[0]):
        total += partial[block]
    return total


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
    mlp = mlp_parallel if parallel else mlp_serial
    return mlp(X, y, params, spec.hidden, spec.n_classes)


def warm_up() -> None:
    """Load (or compile) every kernel for the worker's argument types, so no invocation pays it."""
    X = np.zeros((2, 3), dtype=np.float32)
    y = np.zeros(2, dtype=np.int32)
    for spec in (ModelSpec("logreg", 3, 2), ModelSpec("softmax", 3, 3), ModelSpec("mlp", 3, 3, 2)):
        for parallel in (False, True) if PARALLEL_AVAILABLE else (False,):
            loss_grad(spec, X, y, spec.init(), parallel=parallel)
