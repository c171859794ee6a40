"""Which MLP kernel runs a model on a partition: a pure rule, importable without Numba.

One rule for every worker, from (model, rows) only: the paths round differently, and decoding
needs every worker's g_p to be the same bits, so the choice may not depend on the host or on a
timing taken at run time. Its thresholds come from measurements of both paths forced, side by
side (CPU time, medians), with Numba built for the generic x86-64 as in Lambda and OpenBLAS on its
Haswell kernels (README "Kernels", `sgc bench kernels`):

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

from coordinator.contract.models import ModelSpec

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
