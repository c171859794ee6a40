"""The deep MLP with its matrix products in BLAS (numpy's bundled OpenBLAS sgemm), for wide layers.

Once rows x weights is large enough (``coordinator/contract/kernel_paths.py``), the products
dominate and an sgemm that packs its operands into cache-sized panels and runs a hand-written
AVX2/AVX-512 FMA microkernel beats any loop Numba emits (inside Lambda both run AVX2 + FMA code:
OpenBLAS's Haswell kernels and Numba's x86-64-v3 build, functions/numba_setup.py).
Everything between the products (bias + activation, softmax, loss, gating, bias sums, float64
accumulation) is fused in small Numba loops, one pass over each activation matrix, written so that
even a generic SSE2 build vectorizes them (row views, selects on loaded values, no ``floor``).
sgemm writes through ``out=`` into buffers allocated once per call, and the first block's
gradients are written into the float64 result rather than added to zeros (measured: on the
products-bound rows of `sgc bench kernels` this path is 2-30% faster than a well-written numpy
gradient, which calls the same sgemm). (Numba's cache does not notice when a callee in another
module changes -- ``_tanh_row``, ``gate`` -- so after editing kernel_layers.py clear a development
cache; the shipped cache is always built from scratch.)

Exactness and determinism: rows go in blocks of ``BLOCK_ROWS``; each block's weight gradients are
one sgemm in float32 over at most ``BLOCK_ROWS`` rows, added into float64 totals in block order.
OpenBLAS runs single-threaded (``functions.blas_threads.single_threaded_blas``: its sums change
with its thread count). The fused helpers between the products live in ``kernel_layers``, shared
with the CNN's BLAS path (``kernels_cnn``).
Invariant (tested): equal to coordinator/contract/gradients.py within relative error 1e-5.
"""

from __future__ import annotations

from functions import numba_setup

numba_setup.configure()  # before Numba is imported and binds any cache below (idempotent)

import numpy as np  # noqa: E402

from functions.blas_threads import single_threaded_blas  # noqa: E402
from functions.kernel_blocks import BLOCK_ROWS  # noqa: E402
from functions.kernel_layers import (  # noqa: E402
    accumulate,
    add_column_sums,
    bias_activate,
    gate,
    softmax_rows,
)


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
