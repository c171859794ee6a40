"""The CNN in one Numba call: the same sub-block scheme as the BLAS path, its products in Numba.

For small shapes (``coordinator/contract/kernel_paths.py: cnn_path``), where the BLAS path's
dozens of Python-level calls per sub-block (im2col, sgemm, pooling, head, per layer and direction)
cost more than the arithmetic. Sub-blocks of ``cnn_sub_rows(spec, "fused")`` images, sized to stay
in L2; per sub-block, the steps of ``kernels_cnn`` with the products written as the register-
tiled loops of ``kernel_layers``:

- conv forward Z = W @ cols and input gradient dcols = W.T @ dZ: ``_add_products`` (axpy rows
  over the long position axis, 2 x 4 tiles);
- conv weight gradient dZ @ cols.T: ``_dense`` (dot products over the position axis);
- the dense head as ``kernels_deep``'s (transposed weights packed once per call).

Float32 arithmetic, the gradients of a sub-block added into float64 totals in sub-block order: the
result is the same whatever the thread count (the path is serial: it only runs below the
threshold, where one thread finishes before a second would start). Invariant (tested): equal to
coordinator/contract/gradients.py within relative error 1e-5 (the ReLU and pooling exceptions of
``kernels_cnn``).
"""

from __future__ import annotations

from functions import numba_setup

numba_setup.configure()  # before Numba is imported and binds any cache below (idempotent)

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

from coordinator.contract.kernel_paths import cnn_sub_rows  # noqa: E402
from coordinator.contract.models import ModelSpec  # noqa: E402
from functions.kernel_blocks import _JIT  # noqa: E402
from functions.kernel_conv import (  # noqa: E402
    add_row_sums,
    col2im,
    im2col,
    pool_backward,
    pool_forward,
    to_channels,
    to_rows,
)
from functions.kernel_layers import (  # noqa: E402
    RELU,
    _add_products,
    _dense,
    accumulate,
    activate,
    add_column_sums,
    gate,
    softmax_rows,
)

# columns of ``geometry``: one row per conv layer
C_IN, HEIGHT, WIDTH, C_OUT, KERNEL, POOLED_H, POOLED_W = range(7)


def cnn_fused(spec: ModelSpec, X: np.ndarray, y: np.ndarray, params: np.ndarray) -> np.ndarray:
    """[loss_sum, *grad_sum] (float64) in the flat layout of coordinator/contract/models.py."""
    geometry = np.array([(layer.c_in, layer.height, layer.width, layer.c_out, layer.kernel,
                          layer.pooled_height, layer.pooled_width)
                         for layer in spec.conv_layers], dtype=np.int64)
    return cnn_fused_kernel(X, y, params, geometry, np.array(spec.widths, dtype=np.int64),
                            spec.pool, cnn_sub_rows(spec, "fused"))


@njit(**_JIT)
def cnn_fused_kernel(X, y, params, geometry, widths, pool, sub_rows):
    """``cnn_fused`` with the model as arrays: ``geometry`` one row per conv layer (c_in,
    height, width, c_out, kernel, pooled height, pooled width), ``widths`` the dense head's."""
    out = np.zeros(params.size + 1)
    if X.shape[0] == 0:
        return out
    count = min(X.shape[0], sub_rows)
    w_off, b_off = _offsets(geometry, widths)
    col_off, pool_off = _kept_offsets(geometry, count)
    conv = _ConvBuffers(col_off, pool_off, count * _widest(geometry))
    convT, ct_off = _transposed_conv(params, geometry, w_off)
    WT, t_off = _transposed_dense(params, geometry.shape[0], widths, w_off)
    acts, a_off = _head_buffers(widths, count)
    g32 = np.empty(t_off[-1], np.float32)
    grads = (np.empty(count * widths.max(), np.float32), np.empty(count * widths.max(),
                                                                   np.float32))
    first = True
    for start in range(0, X.shape[0], count):
        n = min(count, X.shape[0] - start)
        source = X.reshape(-1)[start * X.shape[1]:(start + n) * X.shape[1]]
        for layer in range(geometry.shape[0]):
            source = _conv_forward(source, layer, n, params, geometry, pool, w_off, b_off, conv,
                                   col_off, pool_off)
        last = geometry.shape[0] - 1
        to_rows(_kept(conv[1], pool_off, geometry, last, n), _view2(acts, a_off[0], n, widths[0]))
        loss, D = _head(params, WT, t_off, w_off, b_off, geometry.shape[0], widths, acts, a_off,
                        n, y[start:start + n], out, g32, grads, first)
        out[0] += loss
        to_channels(D, _kept(conv[3], pool_off, geometry, last, n))
        for layer in range(last, -1, -1):
            _conv_backward(layer, n, params, convT, ct_off, geometry, pool, w_off, b_off, conv,
                           col_off, pool_off, out, first)
        first = False
    return out


@njit(**_JIT)
def _ConvBuffers(col_off, pool_off, plane):  # noqa: N802 - a tuple standing in for a record
    """(cols, pooled, argmax, grads, Z, dcols, weight-gradient scratch, zeros) of one sub-block:
    per layer its im2col matrix, pooled output, argmax and output gradient at the offsets."""
    return (np.empty(col_off[-1], np.float32), np.empty(pool_off[-1], np.float32),
            np.empty(pool_off[-1], np.int8), np.empty(pool_off[-1], np.float32),
            np.empty(plane, np.float32), np.empty(col_off[-1], np.float32),
            np.empty(plane, np.float32), np.zeros(plane, np.float32))


@njit(**_JIT)
def _conv_forward(source, layer, n, params, geometry, pool, w_off, b_off, conv, col_off,
                  pool_off):
    """Conv layer ``layer`` on a sub-block of n images (``source``: the rows for the first
    layer, the previous pooled output after); returns its pooled output, flat."""
    c_out, taps, positions = _sizes(geometry, layer, n)
    strides = ((geometry[0, HEIGHT] * geometry[0, WIDTH], source.size // n) if layer == 0 else
               (n * geometry[layer, HEIGHT] * geometry[layer, WIDTH],
                geometry[layer, HEIGHT] * geometry[layer, WIDTH]))
    cols = conv[0][col_off[layer]:col_off[layer] + taps * positions].reshape((taps, positions))
    im2col(source, strides, (geometry[layer, C_IN], n, geometry[layer, HEIGHT],
                             geometry[layer, WIDTH]), geometry[layer, KERNEL], cols)
    Z = conv[4][:c_out * positions].reshape((c_out, positions))
    Z[:] = 0.0
    _add_products(params[w_off[layer]:w_off[layer] + c_out * taps].reshape((c_out, taps)), cols,
                  Z)
    pooled = _kept(conv[1], pool_off, geometry, layer, n)
    pool_forward(Z, params[b_off[layer]:b_off[layer] + c_out], pooled,
                 _kept(conv[2], pool_off, geometry, layer, n), geometry[layer, HEIGHT],
                 geometry[layer, WIDTH], pool)
    return pooled.reshape(-1)


@njit(**_JIT)
def _conv_backward(layer, n, params, convT, ct_off, geometry, pool, w_off, b_off, conv, col_off,
                   pool_off, out, first):
    """Conv layer ``layer`` backward from its pooled output's gradient: weight and bias
    gradients into ``out``, and (but for the first layer) the previous layer's gradient."""
    c_out, taps, positions = _sizes(geometry, layer, n)
    dZ = conv[4][:c_out * positions].reshape((c_out, positions))
    pool_backward(_kept(conv[3], pool_off, geometry, layer, n),
                  _kept(conv[2], pool_off, geometry, layer, n),
                  _kept(conv[1], pool_off, geometry, layer, n), dZ, geometry[layer, HEIGHT],
                  geometry[layer, WIDTH], pool)
    cols = conv[0][col_off[layer]:col_off[layer] + taps * positions].reshape((taps, positions))
    part = conv[6][:c_out * taps].reshape((c_out, taps))
    _dense(dZ, cols, conv[7], part)
    accumulate(out[1 + w_off[layer]:1 + w_off[layer] + c_out * taps], part, first)
    add_row_sums(dZ, out[1 + b_off[layer]:1 + b_off[layer] + c_out], first)
    if layer == 0:
        return
    dcols = conv[5][:taps * positions].reshape((taps, positions))
    dcols[:] = 0.0
    _add_products(convT[ct_off[layer]:ct_off[layer + 1]].reshape((taps, c_out)), dZ, dcols)
    col2im(dcols, _kept(conv[3], pool_off, geometry, layer - 1, n), geometry[layer, KERNEL])


@njit(**_JIT)
def _head(params, WT, t_off, w_off, b_off, conv, widths, acts, a_off, n, labels, out, g32,
          grads, first):
    """The dense head on one sub-block (its input in acts' first slot): (loss, d loss / d
    input); the weight and bias gradients into ``out`` (float64, written when ``first``)."""
    dense = widths.size - 1
    for layer in range(dense):  # forward: bias + ReLU, and the logits
        A = _view2(acts, a_off[layer + 1], n, widths[layer + 1])
        _dense(_view2(acts, a_off[layer], n, widths[layer]),
               _view2(WT, t_off[layer], widths[layer + 1], widths[layer]),
               params[b_off[conv + layer]:b_off[conv + layer] + widths[layer + 1]], A)
        if layer < dense - 1:
            activate(A, RELU)
    G = _view2(acts, a_off[dense], n, widths[dense])
    loss = softmax_rows(G, np.zeros(widths[dense], np.float32), labels)
    which = 0
    for layer in range(dense - 1, -1, -1):
        H = _view2(acts, a_off[layer], n, widths[layer])
        gW = _view2(g32, t_off[layer], widths[layer], widths[layer + 1])
        gW[:] = 0.0
        _add_products(H.T, G, gW)
        accumulate(out[1 + w_off[conv + layer]:1 + w_off[conv + layer] + gW.size], gW, first)
        add_column_sums(G, out[1 + b_off[conv + layer]:1 + b_off[conv + layer]
                               + widths[layer + 1]], first)
        D = _view2(grads[which], 0, n, widths[layer])
        D[:] = 0.0
        _add_products(G, _view2(WT, t_off[layer], widths[layer + 1], widths[layer]), D)
        if layer > 0:
            gate(D, H, RELU)
        G, which = D, 1 - which
    return loss, G


@njit(**_JIT)
def _view2(flat, offset, rows, cols):
    return flat[offset:offset + rows * cols].reshape((rows, cols))


@njit(**_JIT)
def _kept(buffer, pool_off, geometry, layer, n):
    """Layer ``layer``'s (c_out, n, pooled h, pooled w) slot of a per-sub-block buffer."""
    shape = (geometry[layer, C_OUT], n, geometry[layer, POOLED_H], geometry[layer, POOLED_W])
    size = shape[0] * shape[1] * shape[2] * shape[3]
    return buffer[pool_off[layer]:pool_off[layer] + size].reshape(shape)


@njit(**_JIT)
def _sizes(geometry, layer, n):
    """(c_out, taps, positions over n images) of conv layer ``layer``."""
    return (geometry[layer, C_OUT], geometry[layer, C_IN] * geometry[layer, KERNEL] ** 2,
            n * geometry[layer, HEIGHT] * geometry[layer, WIDTH])


@njit(**_JIT)
def _offsets(geometry, widths):
    """Offsets in the flat vector of each conv layer's weights and biases, then each dense
    layer's (layout of coordinator/contract/models.py)."""
    conv, dense = geometry.shape[0], widths.size - 1
    w_off, b_off = np.zeros(conv + dense, np.int64), np.zeros(conv + dense, np.int64)
    offset = 0
    for layer in range(conv):
        w_off[layer] = offset
        offset += geometry[layer, C_OUT] * geometry[layer, C_IN] * geometry[layer, KERNEL] ** 2
        b_off[layer] = offset
        offset += geometry[layer, C_OUT]
    for layer in range(dense):
        w_off[conv + layer] = offset
        offset += widths[layer] * widths[layer + 1]
        b_off[conv + layer] = offset
        offset += widths[layer + 1]
    return w_off, b_off


@njit(**_JIT)
def _kept_offsets(geometry, n):
    """Offsets of each layer's im2col matrix and pooled output in the sub-block buffers."""
    conv = geometry.shape[0]
    col_off, pool_off = np.zeros(conv + 1, np.int64), np.zeros(conv + 1, np.int64)
    for layer in range(conv):
        c_out, taps, positions = _sizes(geometry, layer, n)
        col_off[layer + 1] = col_off[layer] + taps * positions
        pool_off[layer + 1] = pool_off[layer] + n * c_out * geometry[layer, POOLED_H] * \
            geometry[layer, POOLED_W]
    return col_off, pool_off


@njit(**_JIT)
def _widest(geometry):
    """The largest conv output (c_out x height x width) or weight matrix (c_out x taps) of one
    image: the size of the shared output and scratch buffers."""
    widest = 1
    for layer in range(geometry.shape[0]):
        c_out, taps, positions = _sizes(geometry, layer, 1)
        widest = max(widest, c_out * positions, c_out * taps)
    return widest


@njit(**_JIT)
def _transposed_conv(params, geometry, w_off):
    """Each conv layer's weights transposed (taps x c_out, for the input gradient), packed."""
    conv = geometry.shape[0]
    ct_off = np.zeros(conv + 1, np.int64)
    for layer in range(conv):
        c_out, taps, _ = _sizes(geometry, layer, 1)
        ct_off[layer + 1] = ct_off[layer] + taps * c_out
    convT = np.empty(ct_off[conv], np.float32)
    for layer in range(conv):
        c_out, taps, _ = _sizes(geometry, layer, 1)
        W = params[w_off[layer]:w_off[layer] + c_out * taps].reshape((c_out, taps))
        _view2(convT, ct_off[layer], taps, c_out)[:] = W.T
    return convT, ct_off


@njit(**_JIT)
def _transposed_dense(params, conv, widths, w_off):
    """Each dense layer's weights transposed (width x fan-in, for ``_dense``), packed."""
    dense = widths.size - 1
    t_off = np.zeros(dense + 1, np.int64)
    for layer in range(dense):
        t_off[layer + 1] = t_off[layer] + widths[layer] * widths[layer + 1]
    WT = np.empty(t_off[dense], np.float32)
    for layer in range(dense):
        W = _view2(params, w_off[conv + layer], widths[layer], widths[layer + 1])
        _view2(WT, t_off[layer], widths[layer + 1], widths[layer])[:] = W.T
    return WT, t_off


@njit(**_JIT)
def _head_buffers(widths, n):
    """The head's activations for n rows, every layer's at its offset (the input's first)."""
    a_off = np.zeros(widths.size + 1, np.int64)
    for layer in range(widths.size):
        a_off[layer + 1] = a_off[layer] + n * widths[layer]
    return np.empty(a_off[-1], np.float32), a_off
