"""Which kernel runs an MLP or a CNN on a partition: a pure rule, importable without Numba.

One rule for every worker, from (model, rows) only: the paths round differently, and decoding
needs every worker's g_p to be the same bits, so the choice may not depend on the host or on a
timing taken at run time. Its thresholds come from measurements of both paths forced, side by
side (CPU time, medians), with Numba built as in Lambda and OpenBLAS on its Haswell kernels
(`sgc bench kernels`). The MLP thresholds below date from the generic x86-64 Lambda build
(SSE2); it now targets x86-64-v3 (functions/numba_setup.py), which moves those crossovers toward
the fused Numba paths (not re-measured yet); the CNN rule further down is measured on x86-64-v3:

- BLAS (numpy's sgemm, ``kernels_blas``) once the multiply-adds of one gradient, rows x weights,
  reach ``BLAS_MIN_MACS``: the crossover against the fused Numba kernels fell between 1e5 and
  4e5 for every shape measured (e.g. [32, 32] on 64 features between 64 and 128 rows, [96] near
  28 rows, [16] on 784 features between 8 and 32 rows), because the products then dominate and
  sgemm runs them 2-4x faster than Numba's generic SSE2 loops.
- BLAS as well for any model of at least ``BLAS_MIN_WEIGHTS`` weights, even on a handful of rows:
  the fused kernels transpose every weight matrix in and every gradient out and zero two gradient
  buffers per call, O(weights) work that the BLAS path does not do (measured: [256] or [128, 128]
  on 8 rows, BLAS 1.4x faster).
- Below both, the fused Numba pass (``kernels_deep``), whose one call replaces a dozen BLAS and
  numpy dispatches; one ReLU layer narrower than ``BLAS_MIN_WIDTH`` keeps its specialised kernel
  (``kernels_mlp``), tuned for the digits-sized models.
"""

from __future__ import annotations

from coordinator.contract.models import KERNEL_BLOCK_ROWS, ModelSpec

BLAS_MIN_MACS = 2**18
BLAS_MIN_WEIGHTS = 2**14
BLAS_MIN_WIDTH = 128


def weights(spec: ModelSpec) -> int:
    """Multiply-adds per row in the forward pass (the weight matrices' entries)."""
    return sum(fan_in * width for fan_in, width in zip(spec.widths[:-1], spec.widths[1:],
                                                       strict=True))


def mlp_path(spec: ModelSpec, rows: int) -> str:
    """"blas", "deep" or "mlp1" for an mlp ``spec`` on ``rows`` rows."""
    macs = weights(spec)
    if macs >= BLAS_MIN_WEIGHTS or rows * macs >= BLAS_MIN_MACS:
        return "blas"
    if len(spec.hidden) == 1 and spec.activation == "relu" and spec.hidden[0] < BLAS_MIN_WIDTH:
        return "mlp1"
    return "deep"


# --- cnn ---------------------------------------------------------------------------------------
# A cnn runs on sgemm over im2col matrices (``kernels_cnn``) when a convolution has at least
# CNN_BLAS_MIN_CHANNELS output channels and rows x multiply-adds per image reach CNN_BLAS_MIN_MACS,
# else in one fused Numba call (``kernels_cnn_fused``). Measured in the Lambda build (Numba for
# x86-64-v3, OpenBLAS Haswell), both paths forced side by side, CPU-time medians, 1 to 4,096
# rows of seven models: sgemm needs tens of output channels to fill its microkernel, and below
# that the fused call, which works a few images at a time in cache, is faster at every row count
# (fused / BLAS time: digits 8x8 with 16 and 32 channels 0.43-0.80, LeNet's 6 and 16 of 5x5
# 0.75-0.99, 28x28 with 16 and 32 0.62-0.81, 32x32x3 with 8 and 16 0.63-0.80, with 16 and 32
# 0.31-0.90); with 64 or more the products win once they outweigh the BLAS path's dozens of
# Python-level calls per sub-block (8x8 with 64 and 128 channels, 1.2e6 multiply-adds per image:
# 0.52-0.57 on 1-2 images, 0.80 or 1.42 on 4 in two sweeps, 1.10-1.41 from 8 on; 32x32x3 with 32
# and 64, 6.1e6: 0.89-0.99 on 1 image, 1.19-1.95 from 2 on; data/bench/targets.md holds the
# forced-path table of `sgc bench targets`). Between and beyond those shapes the rule is an
# extrapolation.
CNN_BLAS_MIN_CHANNELS = 64
CNN_BLAS_MIN_MACS = 2**23
# Images per sub-block: the largest power of two (at most a row block) whose im2col matrices,
# over every conv layer, hold at most this many floats: they stay in cache between the forward
# and the backward pass, and each float32 weight-gradient sum runs over a bounded number of
# positions before it is added into the float64 total.
CNN_SUB_BLOCK_COLUMNS = {"blas": 2**20, "fused": 2**16}
# The BLAS path's dense head runs on a head block of sub-blocks at once (its sgemm calls are
# then as large as an MLP's), keeping every sub-block's pooled outputs until the backward pass:
# at most this many floats of them.
CNN_HEAD_BLOCK_FLOATS = 2**22


def cnn_macs(spec: ModelSpec) -> int:
    """Multiply-adds per image in the forward pass: every convolution and dense layer."""
    return sum(layer.macs for layer in spec.conv_layers) + weights(spec)


def cnn_path(spec: ModelSpec, rows: int) -> str:
    """"blas" or "fused" for a cnn ``spec`` on ``rows`` rows."""
    wide = max((layer.c_out for layer in spec.conv_layers), default=0) >= CNN_BLAS_MIN_CHANNELS
    return "blas" if wide and rows * cnn_macs(spec) >= CNN_BLAS_MIN_MACS else "fused"


def cnn_sub_rows(spec: ModelSpec, path: str) -> int:
    """Images per sub-block on ``path`` (a power of two from 1 to KERNEL_BLOCK_ROWS)."""
    columns = sum(layer.taps * layer.positions for layer in spec.conv_layers)
    rows = 1
    while rows < KERNEL_BLOCK_ROWS and 2 * rows * columns <= CNN_SUB_BLOCK_COLUMNS[path]:
        rows *= 2
    return rows


def cnn_head_rows(spec: ModelSpec) -> int:
    """Images per head block on the BLAS path: a multiple of ``cnn_sub_rows(spec, "blas")``
    (both powers of two), at most KERNEL_BLOCK_ROWS."""
    kept = sum(layer.c_out * layer.pooled_height * layer.pooled_width
               for layer in spec.conv_layers)
    rows = cnn_sub_rows(spec, "blas")
    while rows < KERNEL_BLOCK_ROWS and 2 * rows * kept <= CNN_HEAD_BLOCK_FLOATS:
        rows *= 2
    return rows
