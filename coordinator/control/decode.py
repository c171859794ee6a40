"""Decoding: a job's gradient is the weighted sum of coded worker results read from S3.

Each result is the float64 vector [loss_sum_coded, *grad_sum_coded] (docs/contracts.md,
"Worker"); the scheme's weights {(round, worker, job): weight} make sum weight * result equal
the job's full-batch sums.

The sum streams: results are fetched in parallel but only a few at a time (``window``, sized so
the vectors in flight stay within ``budget_bytes``), added in a fixed order (so a re-run gives
the same bits) and dropped. Extra memory is the accumulator plus the window, never n vectors: for
P = 1e6 parameters from 256 results about 3 x P x 8 bytes (``sgc bench decode --params``).
"""

from __future__ import annotations

import io
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

ResultKey = tuple[int, int, int]
CHUNK = 1 << 16  # elements per in-place step: no vector-sized temporaries
BUDGET_BYTES = 16 << 20  # vectors in flight: 2 for P = 1e6 (8 MB each), 128 for P <= 16k


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


def npy_view(body: bytes) -> np.ndarray:
    """The array inside a .npy byte string, without copying the data."""
    stream = io.BytesIO(body)
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
    if dtype.hasobject:
        raise ValueError("object arrays are not results")
    count = int(np.prod(shape)) if shape else 1
    array = np.frombuffer(body, dtype=dtype, count=count, offset=stream.tell())
    return array.reshape(shape, order="F" if fortran else "C")


def window_for(n_params: int, budget_bytes: int = BUDGET_BYTES, most: int = 128) -> int:
    """Reads in flight: as many as fit the budget, at least 2 (one read overlaps one add)."""
    return int(max(2, min(most, budget_bytes // max(1, 8 * (n_params + 1)))))


def decode(weights: dict[ResultKey, float], read: Callable[[ResultKey], np.ndarray],
           n_params: int | None = None, window: int | None = None) -> np.ndarray:
    """sum over ``weights`` of weight * read(key), as [loss_sum, *grad_sum] (float64).

    ``read(key)`` returns the checked result vector (a read-only view is fine). Keys are summed
    in sorted order whatever order the reads finish in.
    """
    keys = sorted(weights)
    if not keys:
        raise ValueError("no results to decode")
    window = window or (window_for(n_params) if n_params else 4)
    total: np.ndarray | None = None
    with ThreadPoolExecutor(max_workers=window) as pool:
        pending: deque = deque()
        upcoming = iter(keys)
        for key in upcoming:
            pending.append((key, pool.submit(read, key)))
            if len(pending) >= window:
                break
        while pending:
            key, future = pending.popleft()
            vector = future.result()
            if total is None:
                total = np.zeros(vector.shape, dtype=np.float64)
            _axpy(total, weights[key], vector)
            del vector, future
            following = next(upcoming, None)
            if following is not None:
                pending.append((following, pool.submit(read, following)))
    return total


def _axpy(total: np.ndarray, weight: float, vector: np.ndarray) -> None:
    """total += weight * vector, chunk by chunk (the same bits as the whole-vector expression)."""
    if vector.shape != total.shape:
        raise GarbageResult(f"result of length {vector.size}, expected {total.size}")
    for start in range(0, total.size, CHUNK):
        stop = start + CHUNK
        total[start:stop] += weight * vector[start:stop]
