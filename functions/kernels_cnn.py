"""The CNN with its products in BLAS: im2col + sgemm per conv layer, sgemm for the dense head.

For the shapes where the products dominate (``coordinator/contract/kernel_paths.py: cnn_path``).
Rows go in head blocks of ``cnn_head_rows(spec)`` images, each worked in sub-blocks of
``cnn_sub_rows(spec, "blas")`` whose im2col matrices stay in cache, with activations laid out
(channels, n, height, width) (``kernel_conv``):

- forward, sub-block by sub-block, per conv layer: im2col, Z = W (c_out, c_in k k) @ cols (one
  sgemm over every image of the sub-block), bias + ReLU + max-pooling fused (the argmax kept as
  int8, the pooled output kept for the backward pass), then the pooled output into rows;
- the dense head on the whole head block at once (its sgemm calls as large as an MLP's): bias +
  ReLU fused, softmax and loss, the weight gradients (sgemm, float64 accumulation) down to the
  head's input gradient;
- backward, sub-block by sub-block, per conv layer from the last: unpooling with the ReLU gate,
  im2col again (cheaper than keeping every sub-block's), the weight gradient dZ @ cols.T (sgemm),
  the bias gradient (row sums), and for every layer but the first the input gradient W.T @ dZ
  (sgemm) then col2im.

Every buffer is allocated once per call (sgemm writes through ``out=``); the first sub-block's
gradients are written into the float64 result, later ones added. Exactness and determinism as the
MLP's BLAS path (``kernels_blas``): the block sizes are a function of the model only, each
sub-block's float32 products are added into float64 totals in sub-block order, and OpenBLAS runs
single-threaded (``blas_threads``) on one kernel type in Lambda, so every worker computes the same
bits whatever its thread count. (Numba's cache does not notice when a callee in another module
changes, ``kernel_conv``, ``kernel_layers``: clear a development cache after editing them.)
Invariant (tested): equal to coordinator/contract/gradients.py within relative error 1e-5, but
for a ReLU kink or a max-pooling near-tie (a window whose two largest values are within float32
rounding of each other can send its gradient to the other one).
"""

from __future__ import annotations

from functions import numba_setup

numba_setup.configure()  # before Numba is imported and binds any cache below (idempotent)

import numpy as np  # noqa: E402

from coordinator.contract.kernel_paths import cnn_head_rows, cnn_sub_rows  # noqa: E402
from coordinator.contract.models import ModelSpec  # noqa: E402
from functions.blas_threads import single_threaded_blas  # noqa: E402
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
    accumulate,
    add_column_sums,
    bias_activate,
    gate,
    softmax_rows,
)


class _Model:
    """Views of the flat parameters and of the float64 result, by layer."""

    def __init__(self, spec: ModelSpec, params: np.ndarray, out: np.ndarray):
        self.layers = spec.conv_layers
        self.conv_w, self.conv_b, self.grad_cw, self.grad_cb = [], [], [], []
        offset = 0
        for layer in self.layers:
            size = layer.c_out * layer.taps
            self.conv_w.append(params[offset:offset + size].reshape(layer.c_out, layer.taps))
            self.grad_cw.append(out[1 + offset:1 + offset + size].reshape(layer.c_out,
                                                                          layer.taps))
            offset += size
            self.conv_b.append(params[offset:offset + layer.c_out])
            self.grad_cb.append(out[1 + offset:1 + offset + layer.c_out])
            offset += layer.c_out
        self.dense_w, self.dense_b, self.grad_dw, self.grad_db = [], [], [], []
        for fan_in, width in zip(spec.widths[:-1], spec.widths[1:], strict=True):
            self.dense_w.append(params[offset:offset + fan_in * width].reshape(fan_in, width))
            self.grad_dw.append(out[1 + offset:1 + offset + fan_in * width].reshape(fan_in,
                                                                                   width))
            offset += fan_in * width
            self.dense_b.append(params[offset:offset + width])
            self.grad_db.append(out[1 + offset:1 + offset + width])
            offset += width


class _Scratch:
    """Flat float32 buffers, sliced and reshaped per use: the pooled outputs and argmaxes of
    every sub-block of a head block (kept for the backward pass), and per sub-block one im2col
    matrix, one conv output, the input gradients, the head's activations and gradients."""

    def __init__(self, spec: ModelSpec, sub_rows: int, head_rows: int):
        layers = spec.conv_layers
        self.pooled = [np.empty(head_rows * layer.c_out * layer.pooled_height
                                * layer.pooled_width, np.float32) for layer in layers]
        self.argmax = [np.empty(buffer.size, np.int8) for buffer in self.pooled]
        self.cols = np.empty(sub_rows * max(layer.taps * layer.positions for layer in layers),
                             np.float32)
        self.conv = np.empty(sub_rows * max(layer.c_out * layer.positions for layer in layers),
                             np.float32)
        self.dcols = np.empty(sub_rows * max([layer.taps * layer.positions
                                              for layer in layers[1:]], default=1), np.float32)
        self.grads = [np.empty(buffer.size // head_rows * sub_rows, np.float32)
                      for buffer in self.pooled]
        widths = spec.widths
        self.acts = [np.empty(head_rows * w, np.float32) for w in widths]
        self.dense = [np.empty(head_rows * max(widths), np.float32) for _ in range(2)]
        self.product = np.empty(max([layer.c_out * layer.taps for layer in layers]
                                    + [a * b for a, b in zip(widths[:-1], widths[1:],
                                                             strict=True)]), np.float32)

    def kept(self, index: int, layer, offset: int, count: int) -> tuple:
        """Layer ``index``'s pooled output and argmax of the sub-block of ``count`` images at
        ``offset`` in the head block: (c_out, count, h, w), C-contiguous."""
        size = layer.c_out * layer.pooled_height * layer.pooled_width
        shape = (layer.c_out, count, layer.pooled_height, layer.pooled_width)
        start = offset * size
        return (self.pooled[index][start:start + count * size].reshape(shape),
                self.argmax[index][start:start + count * size].reshape(shape))


def _take(buffer: np.ndarray, *shape: int) -> np.ndarray:
    """The first prod(shape) values of a flat buffer as a C-contiguous array of ``shape``."""
    return buffer[:int(np.prod(shape))].reshape(shape)


def cnn_blas(spec: ModelSpec, X: np.ndarray, y: np.ndarray, params: np.ndarray) -> np.ndarray:
    """[loss_sum, *grad_sum] (float64) in the flat layout of coordinator/contract/models.py."""
    if X.shape[0] == 0:
        return np.zeros(params.size + 1)
    out = np.empty(params.size + 1)  # every value is written by the first sub-block
    out[0] = 0.0
    model = _Model(spec, params, out)
    sub_rows, head_rows = cnn_sub_rows(spec, "blas"), cnn_head_rows(spec)
    scratch = _Scratch(spec, min(sub_rows, X.shape[0]), min(head_rows, X.shape[0]))
    with single_threaded_blas():
        for start in range(0, X.shape[0], head_rows):
            stop = min(X.shape[0], start + head_rows)
            out[0] += _head_block(spec, model, scratch, X[start:stop], y[start:stop], sub_rows,
                                  start == 0)
    return out


def _head_block(spec, model: _Model, scratch: _Scratch, X, y, sub_rows: int,
                first: bool) -> float:
    """The conv layers forward sub-block by sub-block, the dense head on all rows at once, then
    the conv layers backward sub-block by sub-block; returns the loss."""
    count = X.shape[0]
    rows = _take(scratch.acts[0], count, spec.widths[0])
    for offset in range(0, count, sub_rows):
        stop = min(count, offset + sub_rows)
        _forward(spec, model, scratch, X[offset:stop], offset, rows[offset:stop])
    loss, dF = _head(model, scratch, rows, y, first)
    for offset in range(0, count, sub_rows):
        stop = min(count, offset + sub_rows)
        _backward(spec, model, scratch, X[offset:stop], offset, dF[offset:stop],
                  first and offset == 0)
    return loss


def _conv_input(spec, scratch: _Scratch, X, offset: int, index: int) -> tuple:
    """(flat values, strides) of layer ``index``'s input for ``im2col``: the rows of X (image-
    major) for the first layer, the previous layer's kept pooled output (CNHW) after it."""
    if index == 0:
        return X.reshape(-1), (spec.conv_layers[0].positions, spec.n_features)
    pooled = scratch.kept(index - 1, spec.conv_layers[index - 1], offset, X.shape[0])[0]
    plane = pooled.shape[2] * pooled.shape[3]
    return pooled.reshape(-1), (X.shape[0] * plane, plane)


def _forward(spec, model: _Model, scratch: _Scratch, X, offset: int, rows) -> None:
    """One sub-block's conv layers; its flattened features into ``rows``."""
    count = X.shape[0]
    for index, layer in enumerate(model.layers):
        cols = _take(scratch.cols, layer.taps, count * layer.positions)
        im2col(*_conv_input(spec, scratch, X, offset, index),
               (layer.c_in, count, layer.height, layer.width), layer.kernel, cols)
        Z = np.matmul(model.conv_w[index], cols,
                      out=_take(scratch.conv, layer.c_out, count * layer.positions))
        pooled, argmax = scratch.kept(index, layer, offset, count)
        pool_forward(Z, model.conv_b[index], pooled, argmax, layer.height, layer.width,
                     spec.pool)
    to_rows(pooled, rows)


def _backward(spec, model: _Model, scratch: _Scratch, X, offset: int, dF, first: bool) -> None:
    """One sub-block's conv layers backward from d loss / d features ``dF``: the im2col matrices
    again (cheaper than keeping them), the weight and bias gradients, the input gradients."""
    count = X.shape[0]
    last = model.layers[-1]
    G = _take(scratch.grads[-1], last.c_out, count, last.pooled_height, last.pooled_width)
    to_channels(dF, G)
    for index in range(len(model.layers) - 1, -1, -1):
        layer = model.layers[index]
        pooled, argmax = scratch.kept(index, layer, offset, count)
        dZ = _take(scratch.conv, layer.c_out, count * layer.positions)
        pool_backward(G, argmax, pooled, dZ, layer.height, layer.width, spec.pool)
        cols = _take(scratch.cols, layer.taps, count * layer.positions)
        im2col(*_conv_input(spec, scratch, X, offset, index),
               (layer.c_in, count, layer.height, layer.width), layer.kernel, cols)
        part = np.matmul(dZ, cols.T, out=_take(scratch.product, layer.c_out, layer.taps))
        accumulate(model.grad_cw[index], part, first)
        add_row_sums(dZ, model.grad_cb[index], first)
        if index:
            G = _take(scratch.grads[index - 1], layer.c_in, count, layer.height, layer.width)
            dcols = np.matmul(model.conv_w[index].T, dZ,
                              out=_take(scratch.dcols, layer.taps, count * layer.positions))
            col2im(dcols, G, layer.kernel)


def _head(model: _Model, scratch: _Scratch, rows: np.ndarray, y, first: bool):
    """The dense head on one head block's flattened features: (loss, d loss / d rows)."""
    count = rows.shape[0]
    H = [rows]
    for layer, (W, b) in enumerate(zip(model.dense_w[:-1], model.dense_b[:-1], strict=True)):
        A = np.matmul(H[-1], W, out=_take(scratch.acts[layer + 1], count, W.shape[1]))
        bias_activate(A, b, RELU)
        H.append(A)
    G = np.matmul(H[-1], model.dense_w[-1],
                  out=_take(scratch.acts[-1], count, model.dense_w[-1].shape[1]))
    loss = softmax_rows(G, model.dense_b[-1], y)
    which = 0
    for layer in range(len(model.dense_w) - 1, -1, -1):
        W = model.dense_w[layer]
        part = np.matmul(H[layer].T, G, out=_take(scratch.product, *W.shape))
        accumulate(model.grad_dw[layer], part, first)
        add_column_sums(G, model.grad_db[layer], first)
        D = np.matmul(G, W.T, out=_take(scratch.dense[which], count, W.shape[0]))
        if layer:
            gate(D, H[layer], RELU)
        G, which = D, 1 - which
    return loss, G
