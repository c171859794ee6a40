"""Which MLP kernel runs a model on a partition: a pure rule, importable without Numba.

Measured (`sgc bench kernels`, README "Kernels"), with Numba built for the generic CPU as in
Lambda: once rows x widest hidden layer reaches ``BLAS_MIN_WORK`` (e.g. 32 rows of 256 units, or
256 rows of 32), the matrix products dominate and sgemm (numpy's OpenBLAS, ``kernels_blas``) wins;
below that its per-call launches and packing cost more than the fused Numba loops
(``kernels_deep``). One ReLU layer narrower than ``BLAS_MIN_WIDTH`` keeps its specialised kernel
(``kernels_mlp``), tuned for the digits-sized models.
"""

from __future__ import annotations

from coordinator.contract.models import ModelSpec

BLAS_MIN_WORK = 8192
BLAS_MIN_WIDTH = 128


def mlp_path(spec: ModelSpec, rows: int) -> str:
    """"blas", "deep" or "mlp1" for an mlp ``spec`` on ``rows`` rows."""
    widest = max(spec.hidden)
    if len(spec.hidden) == 1 and spec.activation == "relu" and widest < BLAS_MIN_WIDTH:
        return "mlp1"
    return "blas" if rows * widest >= BLAS_MIN_WORK else "deep"
