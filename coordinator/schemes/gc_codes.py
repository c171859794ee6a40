"""Gradient codes (Tandon et al., ICML 2017): the n x k encoding matrix B and its decoder.

Worker i returns sum_p B[i, p] g_p. For a set F of workers whose results arrived, decoding finds
a with a^T B[F, :] = 1^T, so sum_{i in F} a_i result_i = sum_p g_p. A code tolerates ``s``
stragglers: every F with |F| >= n - s decodes.

Two constructions (docs/schemes.md, "GC"):
- fractional repetition, when (s + 1) divides n: exact in floating point (weights are 0/1);
- cyclic repetition, any n and s: row i supported on partitions i..i+s (mod n), built so that
  every n - s rows span the all-ones vector. Decoding solves a small linear system, and the
  residual is checked on every solve, because conditioning degrades as n and s grow.

Invariant (tested): for every decodable F, weights @ B[F] == 1 (exactly for fractional
repetition; to 1e-7, below float32 resolution, for cyclic).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import numpy as np

RESIDUAL_TOLERANCE = 1e-7  # below float32 resolution: decoded gradients stay exact to it
# Correction steps on an ill-conditioned arrived set: some n - s subsets of the cyclic code at
# n = 256 have condition ~1e9, and one solve leaves a residual just above the tolerance (1.4e-7
# where one correction gives 4e-9). Results are float64, so weights of that size (~1e6) still
# decode to ~1e-9 relative.
REFINEMENTS = 2


class FractionalRepetitionCode:
    """Workers in n/(s+1) groups of s+1; a group's workers all return its s+1 partitions' sum."""

    kind = "fractional-repetition"

    def __init__(self, n: int, s: int):
        if n % (s + 1):
            raise ValueError(f"fractional repetition needs (s + 1) | n, got n={n}, s={s}")
        self.n, self.s, self.k = n, s, n
        self.group_size = s + 1
        self.matrix = np.zeros((n, n))
        for worker in range(n):
            self.matrix[worker, self.support(worker)] = 1.0

    def support(self, worker: int) -> list[int]:
        first = (worker // self.group_size) * self.group_size
        return list(range(first, first + self.group_size))

    def decode(self, arrived: Iterable[int]) -> dict[int, float] | None:
        """One survivor per group, weight 1; None when some group has no survivor."""
        chosen: dict[int, int] = {}
        for worker in sorted(arrived):
            chosen.setdefault(worker // self.group_size, worker)
        if len(chosen) < self.n // self.group_size:
            return None
        return {worker: 1.0 for worker in chosen.values()}


class CyclicRepetitionCode:
    """Tandon et al.'s cyclic construction: B's rows lie in null(H), H random s x n with H 1 = 0."""

    kind = "cyclic-repetition"

    def __init__(self, n: int, s: int, seed: int = 0):
        self.n, self.s, self.k = n, s, n
        self.matrix = _cyclic_matrix(n, s, seed)
        self._decode_cached = lru_cache(maxsize=4096)(self._solve)

    def support(self, worker: int) -> list[int]:
        return [(worker + offset) % self.n for offset in range(self.s + 1)]

    def decode(self, arrived: Iterable[int]) -> dict[int, float] | None:
        """Weights over the arrived workers, or None if fewer than n - s arrived or no solve is
        accurate to RESIDUAL_TOLERANCE (cached per arrived set: straggler sets repeat)."""
        workers = tuple(sorted(arrived))
        if len(workers) < self.n - self.s:
            return None
        return self._decode_cached(workers)

    def _solve(self, workers: tuple[int, ...]) -> dict[int, float] | None:
        with _blas_controller().limit(limits=1, user_api="blas"):
            return self._solve_single_threaded(workers)

    def _solve_single_threaded(self, workers: tuple[int, ...]) -> dict[int, float] | None:
        """Banded solve on n - s of them; if that subset is ill-conditioned, least squares on all
        arrived rows (extra rows usually restore the conditioning), refined by correction
        steps on its residual."""
        ones = np.ones(self.n)
        chosen = workers[: self.n - self.s]
        rows = self.matrix[list(chosen)]
        try:
            weights = self._banded_solve(chosen)
            if np.abs(weights @ rows - ones).max() <= RESIDUAL_TOLERANCE:
                return dict(zip(chosen, weights.tolist(), strict=True))
        except (np.linalg.LinAlgError, ValueError):
            pass
        rows = self.matrix[list(workers)]
        weights = np.linalg.lstsq(rows.T, ones, rcond=None)[0]
        for _ in range(REFINEMENTS):
            residual = ones - weights @ rows
            if np.abs(residual).max() <= RESIDUAL_TOLERANCE:
                break
            weights = weights + np.linalg.lstsq(rows.T, residual, rcond=None)[0]
        if np.abs(weights @ rows - ones).max() > RESIDUAL_TOLERANCE:
            return None
        return dict(zip(workers, weights.tolist(), strict=True))


    def _banded_solve(self, chosen: tuple[int, ...]) -> np.ndarray:
        """Solve a^T B[chosen] = 1 on partitions s..n-1 only: there no row wraps around, so the
        (n - s) x (n - s) system is banded (bandwidth s each side) and costs O(n s^2), not O(n^3).
        Coefficient (row p - s, column c) is B[chosen[c], p]; with at most s workers missing,
        chosen[c] - c <= s keeps every entry within s of the diagonal."""
        n, s, m = self.n, self.s, len(chosen)
        workers = np.asarray(chosen)
        partitions = workers[:, None] + np.arange(s + 1)[None, :]
        inside = (partitions < n) & (partitions >= s)
        columns = np.broadcast_to(np.arange(m)[:, None], partitions.shape)[inside]
        equations = partitions[inside] - s
        band = np.zeros((2 * s + 1, m))
        band[s + equations - columns, columns] = self.matrix[
            np.broadcast_to(workers[:, None], partitions.shape)[inside], partitions[inside]]
        from scipy.linalg import solve_banded  # lazily: see _blas_controller
        return solve_banded((s, s), band, np.ones(m), check_finite=False)


@lru_cache(maxsize=1)
def _blas_controller():
    """One BLAS thread for the small decode solves (threads only contend at this size: 10x
    slower p95). Built on first use: scanning the loaded libraries, like importing scipy.linalg
    below, costs half a second that every `sgc` command not decoding would pay at startup."""
    from threadpoolctl import ThreadpoolController
    return ThreadpoolController()


@lru_cache(maxsize=32)
def _cyclic_matrix(n: int, s: int, seed: int) -> np.ndarray:
    """The cyclic code's encoding matrix, read-only, built once per (n, s, seed) and process: a
    search builds every s of n = 256 for each profile, and a large s costs seconds (n dense
    solves of s x s). Each code keeps its own decode cache (sharing whole codes kept every
    code's decode cache alive)."""
    if s == 0:
        matrix = np.eye(n)
    else:
        rng = np.random.default_rng(seed)
        H = rng.standard_normal((s, n))
        H[:, -1] = -H[:, :-1].sum(axis=1)  # 1 lies in null(H), so in every row space of n - s rows
        matrix = np.zeros((n, n))
        for worker in range(n):
            others = [(worker + offset) % n for offset in range(1, s + 1)]
            matrix[worker, worker] = 1.0
            matrix[worker, others] = np.linalg.solve(H[:, others], -H[:, worker])
    matrix.setflags(write=False)
    return matrix


def make_gc_code(n: int, s: int):
    """Fractional repetition where (s + 1) | n (exact), cyclic repetition otherwise."""
    if n % (s + 1) == 0:
        return FractionalRepetitionCode(n, s)
    return CyclicRepetitionCode(n, s)
