"""The deep MLP in Numba: L hidden layers (ReLU or tanh), softmax output, one fused pass per row.

For small layers (the Numba path of ``functions.kernels.loss_grad``), where a BLAS call costs more
in launch and packing than the product itself. Works a sub-block of ``SUB_ROWS`` rows at a time
through every layer, forward and backward, while the sub-block's activations sit in L1/L2: register-
tiled products (``kernel_layers._dense``, ``kernel_layers._add_products``), activations, softmax and
gating fused in between, float32 arithmetic with gradient accumulators flushed into float64 after
every sub-block. Weights travel packed: all transposed weight matrices in one float32 vector, biases
in another, with offsets (Numba has no cheap list of arrays).

Blocks of ``BLOCK_ROWS`` rows run in waves (one block per thread) and the block sums are added
into the total in block order, so the result is bit-identical whatever the thread count, and the
memory is one gradient per thread, not one per block.
Invariant (tested): equal to coordinator/contract/gradients.py within relative error 1e-5.
"""

from __future__ import annotations

from functions import numba_setup

numba_setup.configure()  # before Numba is imported and binds any cache below (idempotent)

import numpy as np  # noqa: E402
from numba import njit, prange  # noqa: E402

from functions.kernel_blocks import (  # noqa: E402
    _JIT,
    BLOCK_ROWS,
    SUB_ROWS,
    _bounds,
    _flush,
)
from functions.kernel_layers import (  # noqa: E402
    _add_products,
    _dense,
    _softmax_residuals,
    activate,
    gate,
)


@njit(**_JIT)
def _layer(flat, offsets, layer, rows, cols):
    """Block ``layer`` of a packed vector, as a (rows, cols) view."""
    start = offsets[layer]
    return flat[start:start + rows * cols].reshape((rows, cols))


@njit(**_JIT)
def _deep_block(X, y, WT, w_off, b, b_off, widths, activation, start, stop, out):
    """Rows [start, stop) into ``out`` = [loss, grad in the flat layout]."""
    layers = widths.size - 1
    classes = widths[layers]
    widest = widths[1:layers].max()
    g_WT = np.zeros(WT.size)
    g_WT32 = np.zeros(WT.size, dtype=np.float32)
    g_b = np.zeros(b.size)
    h_off = np.zeros(layers, dtype=np.int64)  # activations of hidden layer l at h_off[l - 1]
    for layer in range(1, layers):
        h_off[layer] = h_off[layer - 1] + SUB_ROWS * widths[layer]
    acts = np.empty(h_off[layers - 1], dtype=np.float32)
    grad_in = np.empty(SUB_ROWS * widest, dtype=np.float32)
    grad_out = np.empty(SUB_ROWS * widest, dtype=np.float32)
    ZT = np.empty((classes, SUB_ROWS), dtype=np.float32)
    norm = np.empty(SUB_ROWS, dtype=np.float32)
    bits = np.empty(SUB_ROWS, dtype=np.int32)
    loss = 0.0
    for sub in range(start, stop, SUB_ROWS):
        count = min(stop - sub, SUB_ROWS)
        H = X[sub:sub + count]
        for layer in range(1, layers):  # forward
            out_w = widths[layer]
            A = acts[h_off[layer - 1]:h_off[layer - 1] + count * out_w].reshape((count, out_w))
            _dense(H, _layer(WT, w_off, layer - 1, out_w, widths[layer - 1]),
                   b[b_off[layer - 1]:b_off[layer - 1] + out_w], A)
            activate(A, activation)
            H = A
        RT = ZT[:, :count]
        W_out = _layer(WT, w_off, layers - 1, classes, widths[layers - 1])
        b_out = b[b_off[layers - 1]:]
        for k in range(count):  # logits, transposed
            for c in range(classes):
                acc = b_out[c]
                for j in range(widths[layers - 1]):
                    acc += H[k, j] * W_out[c, j]
                RT[c, k] = acc
        loss += _softmax_residuals(RT, y[sub:sub + count], norm[:count], bits)
        _add_products(RT, H, _layer(g_WT32, w_off, layers - 1, classes, widths[layers - 1]))
        for c in range(classes):
            for k in range(count):
                g_b[b_off[layers - 1] + c] += RT[c, k]
        G = RT.T  # d loss / d pre-activation of the current layer (count x width)
        for layer in range(layers - 1, 0, -1):  # backward through hidden layer ``layer``
            width, fan_in = widths[layer], widths[layer - 1]
            D = grad_out[:count * width].reshape((count, width))
            D[:] = 0.0
            _add_products(G, _layer(WT, w_off, layer, widths[layer + 1], width), D)
            Hl = acts[h_off[layer - 1]:h_off[layer - 1] + count * width].reshape((count, width))
            gate(D, Hl, activation)
            for k in range(count):
                for j in range(width):
                    g_b[b_off[layer - 1] + j] += D[k, j]
            H_in = X[sub:sub + count] if layer == 1 else acts[
                h_off[layer - 2]:h_off[layer - 2] + count * fan_in].reshape((count, fan_in))
            _add_products(D.T, H_in, _layer(g_WT32, w_off, layer - 1, width, fan_in))
            grad_in, grad_out = grad_out, grad_in
            G = D
        _flush(g_WT32, g_WT)
    out[0] = loss
    offset = 1
    for layer in range(layers):  # back to the flat layout: W (fan_in x width) then b
        width, fan_in = widths[layer + 1], widths[layer]
        gW = _layer(g_WT, w_off, layer, width, fan_in)
        for i in range(fan_in):
            for j in range(width):
                out[offset + i * width + j] = gW[j, i]
        offset += fan_in * width
        out[offset:offset + width] = g_b[b_off[layer]:b_off[layer] + width]
        offset += width


@njit(**_JIT)
def pack(params, widths):
    """Transposed weights and biases of the flat layout, packed, with their offsets."""
    layers = widths.size - 1
    w_off = np.zeros(layers + 1, dtype=np.int64)
    b_off = np.zeros(layers + 1, dtype=np.int64)
    for layer in range(layers):
        w_off[layer + 1] = w_off[layer] + widths[layer] * widths[layer + 1]
        b_off[layer + 1] = b_off[layer] + widths[layer + 1]
    WT = np.empty(w_off[layers], dtype=np.float32)
    b = np.empty(b_off[layers], dtype=np.float32)
    offset = 0
    for layer in range(layers):
        fan_in, width = widths[layer], widths[layer + 1]
        W = params[offset:offset + fan_in * width].reshape((fan_in, width))
        _layer(WT, w_off, layer, width, fan_in)[:] = W.T
        offset += fan_in * width
        b[b_off[layer]:b_off[layer + 1]] = params[offset:offset + width]
        offset += width
    return WT, w_off, b, b_off


@njit(parallel=True, **_JIT)
def deep_parallel(X, y, params, widths, activation, threads):
    """[loss_sum, *grad_sum] (float64); blocks in waves of one per thread (``threads``, from
    ``numba.get_num_threads()``: called in here it would stop the function from caching),
    summed in block order."""
    WT, w_off, b, b_off = pack(params, widths)
    rows = X.shape[0]
    blocks = (rows + BLOCK_ROWS - 1) // BLOCK_ROWS
    wave = max(1, min(blocks, threads))
    partial = np.zeros((wave, params.size + 1))
    total = np.zeros(params.size + 1)
    for first in range(0, blocks, wave):
        todo = min(wave, blocks - first)
        for i in prange(todo):
            start, stop = _bounds(first + i, rows)
            _deep_block(X, y, WT, w_off, b, b_off, widths, activation, start, stop, partial[i])
        for i in range(todo):  # block order: the same sums whatever the wave size
            total += partial[i]
    return total


@njit(**_JIT)
def deep_serial(X, y, params, widths, activation):
    """``deep_parallel`` on the calling thread (same blocks, bit-identical result)."""
    WT, w_off, b, b_off = pack(params, widths)
    rows = X.shape[0]
    partial = np.zeros(params.size + 1)
    total = np.zeros(params.size + 1)
    for block in range((rows + BLOCK_ROWS - 1) // BLOCK_ROWS):
        start, stop = _bounds(block, rows)
        _deep_block(X, y, WT, w_off, b, b_off, widths, activation, start, stop, partial)
        total += partial
    return total
