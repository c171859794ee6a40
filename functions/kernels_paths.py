"""Which MLP kernel runs a model on a partition: a pure rule, importable without Numba.

Measured (`sgc bench kernels`, README "Kernels"): once a hidden layer is ``BLAS_MIN_WIDTH`` wide
and a partition has ``BLAS_MIN_ROWS`` rows, the matrix products dominate and sgemm (numpy's
OpenBLAS, ``kernels_blas``) wins; below that its launches and packing cost more than the fused
Numba loops (``kernels_deep``). One ReLU layer below the threshold keeps its specialised kernel
(``kernels_mlp``).
"""

from __future__ import annotations

from functions.models import ModelSpec

BLAS_MIN_WIDTH = 128
BLAS_MIN_ROWS = 32


def mlp_path(spec: ModelSpec, rows: int) -> str:
    """"blas", "deep" or "mlp1" for an mlp ``spec`` on ``rows`` rows."""
    if max(spec.hidden) >= BLAS_MIN_WIDTH and rows >= BLAS_MIN_ROWS:
        return "blas"
    if len(spec.hidden) == 1 and spec.activation == "relu":
        return "mlp1"
    return "deep"
