"""What Lambda really runs and bills while a scheme's rounds go by: every invocation to its end.

A round ends when the wait policy says so, but Lambda cannot cancel an invocation: a straggler
keeps running, is billed to its end, and its result still lands (``late``: the schemes count it
for any job still open). All workers are one function, so a task for a worker whose previous
invocation still runs simply takes another execution environment: a warm idle one if the
function has one, else a cold start. The function keeps every environment it ever started warm
for the length of a job (Lambda keeps idle environments for minutes; rounds take seconds), so
cold starts happen only when the concurrency climbs above every earlier peak and the ``spares``
the warm pool provisioned beyond the n workers.

Reported: ``peak_concurrency`` (invocations in flight at once), ``billed_gb_s`` (every
invocation to its end, cold start included, at the worker's memory) and ``cold_starts``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from coordinator.workflow.resources import WORKER_MEMORY_MB

ColdStart = Callable[[np.random.Generator, int], np.ndarray]


def default_cold_start(rng: np.random.Generator, size: int) -> np.ndarray:
    from coordinator.warmpool.worker_cold import worker_cold_start_s

    return worker_cold_start_s(rng, size)


@dataclass
class Fleet:
    """Invocations in flight across rounds (absolute seconds from the run's start)."""

    n: int
    spares: int | None = 0  # None: a warm environment for every task (no cold start ever)
    memory_gb: float = WORKER_MEMORY_MB / 1024
    cold_start: ColdStart = default_cold_start
    seed: int = 0
    running: dict[tuple[int, int], float] = field(default_factory=dict)  # (round, w) -> end
    peak: int = 0
    cold_starts: int = 0
    billed_s: float = 0.0

    def __post_init__(self):
        self.pool = float("inf") if self.spares is None else self.n + self.spares  # warm ones
        self._rng = np.random.default_rng(self.seed)

    def dispatch(self, t: int, start_s: float, workers: np.ndarray,
                 times: np.ndarray) -> tuple[np.ndarray, dict[int, float]]:
        """Round t's invocations start at ``start_s`` (``times``: each one's seconds); returns
        the times with a cold start added to those that found no warm environment (the tasks
        of workers whose previous invocation is still running, when the pool is full), and
        {worker: cold-start seconds} of those (a worker reports its init time: the live
        coordinator knows it too)."""
        self.running = {key: end for key, end in self.running.items() if end > start_s}
        busy = {w for (_, w) in self.running}
        times = np.array(times, dtype=float)
        in_flight = len(self.running) + len(workers)
        short = int(max(0, in_flight - self.pool))
        cold: dict[int, float] = {}
        if short:
            displaced = [i for i, w in enumerate(workers.tolist()) if w in busy][:short]
            charges = self.cold_start(self._rng, len(displaced))
            times[displaced] += charges
            cold = {int(workers[i]): float(c) for i, c in zip(displaced, charges, strict=True)}
            self.cold_starts += len(displaced)
            self.pool = in_flight
        self.peak = max(self.peak, in_flight)
        for w, seconds in zip(workers.tolist(), times.tolist(), strict=True):
            self.running[(t, w)] = start_s + seconds
        self.billed_s += float(times.sum())
        return times, cold

    @property
    def billed_gb_s(self) -> float:
        return self.billed_s * self.memory_gb


class LateResults:
    """Stragglers' results still to land: (round, worker) -> absolute landing time."""

    def __init__(self):
        self.pending: dict[tuple[int, int], float] = {}

    def add(self, t: int, start_s: float, stragglers, times: np.ndarray) -> None:
        for w in stragglers:
            if np.isfinite(times[w]):
                self.pending[(t, int(w))] = start_s + float(times[w])

    def offered(self, session, t: int, start_s: float) -> dict[tuple[int, int], float]:
        """The pending results that would still serve an open job in round t, as seconds
        after its dispatch (the rest are dropped: nobody needs them any more)."""
        self.pending = {key: x for key, x in self.pending.items()
                        if session.useful(t, key[0], key[1])}
        return {key: max(0.0, x - start_s) for key, x in self.pending.items()}

    def landed(self, offered: dict[tuple[int, int], float], end_s: float) -> dict:
        """The offered results that landed by the round's end (removed from pending)."""
        landed = {key: x for key, x in offered.items() if x <= end_s}
        for key in landed:
            del self.pending[key]
        return landed
