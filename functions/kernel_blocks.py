"""Building blocks shared by the Numba kernels: configuration, block layout, exp/log, flushes.

Importing this module first runs ``numba_setup.configure()``: the cache directory, CPU target
and threading layer must be set before any ``@njit(cache=True)`` below binds its cache.
Rows are cut into fixed blocks of ``BLOCK_ROWS`` and block partials are added in block order
(``_sum_blocks``), so every kernel's result is bit-identical whatever the thread count.
"""

from __future__ import annotations

from functions import numba_setup

PARALLEL_AVAILABLE = bool(numba_setup.configure()["parallel"])

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

from coordinator.contract.models import KERNEL_BLOCK_ROWS  # noqa: E402

BLOCK_ROWS = KERNEL_BLOCK_ROWS
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
# The rounding is a truncation of x / ln 2 - 1/2 (x <= 0), not floor(x / ln 2 + 1/2): the generic
# x86-64 the Lambda cache is built for has no vector floor (SSE4.1), so floor became one libm call
# per element there (measured 15x slower); truncation is SSE2's cvttps2dq.
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
        n = np.float32(np.int32(x * LOG2E - np.float32(0.5)))
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
