"""Decoding: a job's gradient is the weighted sum of coded worker results read from S3.

Each result is the float64 vector [loss_sum_coded, *grad_sum_coded] (docs/contracts.md, "Worker");
the scheme's weights {(round, worker, job): weight} make sum weight * result equal the job's
full-batch sums.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

ResultKey = tuple[int, int, int]


class GarbageResult(ValueError):
    """A worker result that cannot be a coded gradient (wrong shape, dtype or not finite)."""


def check_result(vector: np.ndarray, n_params: int, key: str) -> np.ndarray:
    """The result as float64, or GarbageResult saying what is wrong with it."""
    if not isinstance(vector, np.ndarray) or vector.ndim != 1 or vector.size != n_params + 1:
        shape = getattr(vector, "shape", type(vector).__name__)
        raise GarbageResult(f"{key}: shape {shape}, expected ({n_params + 1},)")
    if not np.issubdtype(vector.dtype, np.floating):
        raise GarbageResult(f"{key}: dtype {vector.dtype}, expected float64")
    if not np.isfinite(vector).all():
        raise GarbageResult(f"{key}: {int((~np.isfinite(vector)).sum())} non-finite entries")
    return vector.astype(np.float64, copy=False)


def decode(weights: dict[ResultKey, float], read: Callable[[ResultKey], np.ndarray],
           threads: int = 16) -> tuple[float, np.ndarray]:
    """(loss_sum, grad_sum) of one job: sum over ``weights`` of weight * read(key)."""
    keys = sorted(weights)
    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(keys)))) as pool:
        vectors = list(pool.map(read, keys))
    total = np.zeros_like(vectors[0], dtype=np.float64)
    for key, vector in zip(keys, vectors, strict=True):
        total += weights[key] * vector
    return float(total[0]), total[1:]
