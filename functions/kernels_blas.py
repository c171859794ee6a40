"""The deep MLP with its matrix products in BLAS (numpy's bundled OpenBLAS sgemm), for wide layers.

Once rows x weights is large enough (``coordinator/contract/kernel_paths.py``), the products
dominate and an sgemm that packs its operands into cache-sized panels and runs a hand-written
AVX2/AVX-512 FMA microkernel beats any loop Numba emits -- all the more inside Lambda, where the
shipped Numba cache is compiled for a generic x86-64 (no AVX, no FMA) so that it loads on any host.
Everything between the products (bias + activation, softmax, loss, gating, bias sums, float64
accumulation) is fused in small Numba loops, one pass over each activation matrix, written so that
the generic build vectorizes them (row views, selects on loaded values, no ``floor``). sgemm writes
through ``out=`` into buffers allocated once per call, and the first block's gradients are written
into the float64 result rather than added to zeros (measured: on the products-bound rows of `sgc
bench kernels` this path is 2-30% faster than a well-written numpy gradient, which calls the same
sgemm). (Numba's cache does not notice when a callee in another module changes -- ``_tanh_row``,
``gate`` -- so after editing kernel_layers.py clear a development cache; the shipped cache is always
built from scratch.)

Exactness and determinism: rows go in blocks of ``BLOCK_ROWS``; each block's weight gradients are
one sgemm in float32 over at most ``BLOCK_ROWS`` rows, added into float64 totals in block order.
OpenBLAS's sgemm splits its work differently with its thread count, and the sums change with the
split (measured: 1 and 2 threads differ in the last bits), so OpenBLAS runs single-threaded
(``single_threaded_blas``); a process-wide counter lets concurrent callers (the emulator runs
workers as threads) share one limit and restore the original setting when the last one leaves.
Invariant (tested): equal to coordinator/contract/gradients.py within relative error 1e-5.
"""

from __future__ import annotations

import itertools
import threading
from contextlib import contextmanager

from functions import numba_setup

numba_setup.configure()  # before Numba is imported and binds any cache below (idempotent)

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

from functions.kernel_blocks import _JIT, BLOCK_ROWS, _exp_nonpositive  # noqa: E402
from functions.kernel_layers import RELU, TANH, activate, gate  # noqa: E402

_blas: dict = {"lock": threading.Lock(), "users": 0, "saved": [], "libraries": None}


def _openblas_functions() -> list[tuple]:
    """(get, set) thread-count functions of every OpenBLAS loaded (numpy's has a prefixed,
    suffixed symbol, e.g. scipy_openblas_set_num_threads64_). Found once through threadpoolctl
    but called directly: threadpoolctl lets only one Python thread at a time change OpenBLAS
    limits and silently ignores the others, which would leave a worker thread multi-threaded."""
    if _blas["libraries"] is None:
        from threadpoolctl import ThreadpoolController

        found = []
        for library in ThreadpoolController().lib_controllers:
            if library.internal_api != "openblas":
                continue
            for prefix, suffix in itertools.product(("", "scipy_"), ("", "64_", "_64")):
                setter = getattr(library.dynlib, f"{prefix}openblas_set_num_threads{suffix}",
                                 None)
                getter = getattr(library.dynlib, f"{prefix}openblas_get_num_threads{suffix}",
                                 None)
                if setter is not None and getter is not None:
                    found.append((getter, setter))
                    break
        _blas["libraries"] = found
    return _blas["libraries"]


@contextmanager
def single_threaded_blas():
    """OpenBLAS limited to one thread while any caller is inside; the previous count is restored
    when the last one leaves (a process-wide count, as OpenBLAS's thread pool is process-wide)."""
    with _blas["lock"]:
        if _blas["users"] == 0:
            _blas["saved"] = [(setter, getter()) for getter, setter in _openblas_functions()]
            for setter, _ in _blas["saved"]:
                setter(1)
        _blas["users"] += 1
    try:
        yield
    finally:
        with _blas["lock"]:
            _blas["users"] -= 1
            if _blas["users"] == 0:
                for setter, threads in _blas["saved"]:
                    setter(threads)


@njit(**_JIT)
def bias_activate(A, b, activation):
    """A = f(A + b) in place: for ReLU one pass per row (the bias add fused into the max), for
    tanh the bias add, then ``activate``."""
    if activation == RELU:
        for k in range(A.shape[0]):
            a = A[k]
            for j in range(a.shape[0]):
                a[j] = max(a[j] + b[j], np.float32(0.0))
        return
    for k in range(A.shape[0]):
        a = A[k]
        for j in range(a.shape[0]):
            a[j] += b[j]
    activate(A, TANH)


@njit(**_JIT)
def softmax_rows(Z, b, labels):
    """Z + b -> softmax(Z + b) - onehot in place, row by row; returns the summed cross-entropy
    (float64). Same float32 polynomial exp as the Numba kernels."""
    rows, classes = Z.shape
    bits = np.empty(classes, dtype=np.int32)
    row = np.empty(classes, dtype=np.float32)
    loss = 0.0
    for k in range(rows):
        top = Z[k, 0] + b[0]
        for c in range(classes):
            row[c] = Z[k, c] + b[c]
            top = max(top, row[c])
        for c in range(classes):
            row[c] -= top
        loss -= row[labels[k]]
        _exp_nonpositive(row, bits, classes)
        norm = np.float32(0.0)
        for c in range(classes):
            norm += row[c]
        loss += np.log(np.float64(norm))
        inverse = np.float32(1.0) / norm
        for c in range(classes):
            Z[k, c] = row[c] * inverse
        Z[k, labels[k]] -= np.float32(1.0)
    return loss


@njit(**_JIT)
def add_column_sums(G, total, first):
    """total (float64) = (0 if ``first`` else total) + sum over rows of G, row by row
    (vectorized across the columns)."""
    if first:
        total[:] = 0.0
    for k in range(G.shape[0]):
        g = G[k]
        for j in range(g.shape[0]):
            total[j] += g[j]


@njit(**_JIT)
def accumulate(total, part, first):
    """total (float64) = part (float32) if ``first`` else total + part, elementwise (both
    C-contiguous, the same shape). Writing the first block instead of adding it to zeros saves
    zeroing the output and one read of it (measured 0.57 -> 0.21 ms for 1.1M values)."""
    t, p = total.reshape(-1), part.reshape(-1)
    if first:
        for i in range(p.shape[0]):
            t[i] = p[i]
    else:
        for i in range(p.shape[0]):
            t[i] += p[i]


def deep_blas(X: np.ndarray, y: np.ndarray, params: np.ndarray, widths: tuple[int, ...],
              activation: int) -> np.ndarray:
    """[loss_sum, *grad_sum] (float64) in the flat layout of coordinator/contract/models.py."""
    if X.shape[0] == 0:
        return np.zeros(params.size + 1)
    out = np.empty(params.size + 1)  # every value is written by the first block
    out[0] = 0.0
    weights, biases, grad_w, grad_b = [], [], [], []
    offset = 0
    for fan_in, width in zip(widths[:-1], widths[1:], strict=True):
        weights.append(params[offset:offset + fan_in * width].reshape(fan_in, width))
        grad_w.append(out[1 + offset:1 + offset + fan_in * width].reshape(fan_in, width))
        offset += fan_in * width
        biases.append(params[offset:offset + width])
        grad_b.append(out[1 + offset:1 + offset + width])
        offset += width
    rows = min(X.shape[0], BLOCK_ROWS)
    # Every buffer allocated once per call and reused block after block (sgemm writes into them
    # through ``out=``): the activations of each layer, two gradient buffers of the widest layer,
    # one float32 weight gradient (the largest layer's size).
    scratch = _Scratch(
        acts=[np.empty((rows, w), dtype=np.float32) for w in widths[1:]],
        grads=[np.empty(rows * max(widths[1:-1], default=1), dtype=np.float32)
               for _ in range(2)],
        product=np.empty(max(w.size for w in weights), dtype=np.float32))
    with single_threaded_blas():
        for start in range(0, X.shape[0], BLOCK_ROWS):
            stop = min(X.shape[0], start + BLOCK_ROWS)
            out[0] += _block(X[start:stop], y[start:stop], weights, biases, grad_w, grad_b,
                             activation, scratch, start == 0)
    return out


class _Scratch:
    """The float32 buffers of ``deep_blas``, sliced to each block's row count."""

    def __init__(self, acts, grads, product):
        self.acts, self.grads, self.product = acts, grads, product

    def grad(self, which: int, count: int, width: int) -> np.ndarray:
        return self.grads[which][:count * width].reshape(count, width)


def _block(X, y, weights, biases, grad_w, grad_b, activation, scratch, first: bool) -> float:
    """One block of rows: forward, loss, backward; gradients written (the ``first`` block) or
    added into the float64 views."""
    count = X.shape[0]
    H = [X]
    for W, b, buffer in zip(weights[:-1], biases[:-1], scratch.acts, strict=False):
        A = np.matmul(H[-1], W, out=buffer[:count])
        bias_activate(A, b, activation)
        H.append(A)
    G = np.matmul(H[-1], weights[-1], out=scratch.acts[-1][:count])
    loss = softmax_rows(G, biases[-1], y)
    which = 0
    for layer in range(len(weights) - 1, -1, -1):
        part = scratch.product[:grad_w[layer].size].reshape(grad_w[layer].shape)
        accumulate(grad_w[layer], np.matmul(H[layer].T, G, out=part), first)
        add_column_sums(G, grad_b[layer], first)
        if layer:
            D = np.matmul(G, weights[layer].T,
                          out=scratch.grad(which, count, weights[layer].shape[0]))
            gate(D, H[layer], activation)
            G, which = D, 1 - which
    return loss
