"""What Lambda really runs and bills while a scheme's rounds go by: every invocation to its end.

A round ends when the wait policy says so, but Lambda cannot cancel an invocation: a straggler
keeps running, is billed to its end, and its result still lands (``late``: the schemes count it
for any job still open). All workers are one function, so a task for a worker whose previous
invocation still runs simply takes another execution environment: a warm idle one if the
function has one, else a cold start. The function keeps every environment it ever started warm
for the length of a job (Lambda keeps idle environments for minutes; rounds take seconds), so
cold starts happen only when the concurrency climbs above every earlier peak and the ``spares``
the warm pool provisioned beyond the n workers.

The account caps concurrency (1,000 by default, docs/aws.md): a task that would exceed the cap
is throttled and starts when an earlier invocation ends (Lambda queues an asynchronous event
and retries it), so a scheme that leaves many stragglers running pays with queued tasks.

Reported: ``peak_concurrency`` (invocations in flight at once), ``billed_gb_s`` (every
invocation to its end, cold start included, at the worker's memory), ``cold_starts`` and
``throttled`` tasks.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from coordinator.workflow.resources import WORKER_MEMORY_MB

ACCOUNT_CONCURRENCY = 1000  # Lambda's default per-region quota (docs/aws.md)
ColdStart = Callable[[np.random.Generator, int], np.ndarray]


def default_cold_start(rng: np.random.Generator, size: int) -> np.ndarray:
    from coordinator.warmpool.worker_cold import worker_cold_start_s

    return worker_cold_start_s(rng, size)


@dataclass
class Fleet:
    """Invocations in flight across rounds (absolute seconds from the run's start): at most
    ``concurrency`` at once, each in one of ``pool`` warm environments or a new one."""

    n: int
    spares: int | None = 0  # None: a warm environment for every task (no cold start ever)
    memory_gb: float = WORKER_MEMORY_MB / 1024
    cold_start: ColdStart = default_cold_start
    seed: int = 0
    concurrency: int = ACCOUNT_CONCURRENCY
    peak: int = 0
    cold_starts: int = 0
    throttled: int = 0
    billed_s: float = 0.0

    def __post_init__(self):
        self.pool = float("inf") if self.spares is None else self.n + self.spares  # warm ones
        self._rng = np.random.default_rng(self.seed)
        self._slots: list[float] = []  # heap: when each occupied concurrency slot frees
        self._last: dict[int, float] = {}  # worker -> when its latest invocation ends

    def dispatch(self, t: int, start_s: float, workers: np.ndarray,
                 times: np.ndarray) -> tuple[np.ndarray, dict[int, float]]:
        """Round t's invocations are sent at ``start_s`` (``times``: each one's seconds);
        returns their times from ``start_s`` with a wait where the concurrency cap queued them
        (behind the first invocation to end, whose warm environment they take) and a cold
        start where no warm environment was left, and {worker: cold-start seconds} of those
        (a worker reports its init time: the live coordinator knows it too)."""
        while self._slots and self._slots[0] <= start_s:
            heapq.heappop(self._slots)
        busy = {w for w, end in self._last.items() if end > start_s}
        times = np.array(times, dtype=float)
        # the busy workers' tasks need another environment: served last
        order = sorted(range(len(workers)), key=lambda i: int(workers[i]) in busy)
        cold: dict[int, float] = {}
        for i in order:
            if len(self._slots) < self.concurrency:
                if len(self._slots) + 1 > self.pool:  # no warm environment left: a new one
                    cold[int(workers[i])] = float(self.cold_start(self._rng, 1)[0])
                    times[i] += cold[int(workers[i])]
                    self.pool = len(self._slots) + 1
                self.billed_s += times[i]
            else:  # throttled: Lambda queues the event until a slot frees
                frees = heapq.heappop(self._slots)
                self.billed_s += times[i]
                times[i] += frees - start_s
                self.throttled += 1
            heapq.heappush(self._slots, start_s + times[i])
            self._last[int(workers[i])] = start_s + times[i]
            self.peak = max(self.peak, len(self._slots))
        self.cold_starts += len(cold)
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
