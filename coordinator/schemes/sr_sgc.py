"""SR-SGC (Krishnan et al., ICLR 2023): GC with selective repetition of unfinished tasks.

A GC code tolerating s = ceil(B lam / (W - 1 + B)) stragglers; load (s + 1) / n; T = B. In round
t every worker works on job t, except that when job t - B got results from v > s too few workers
in round t - B, v - s of those non-contributors repeat their job-(t - B) task in round t.
Repeaters are taken first from round t - B's stragglers (under the bursty model none of them
straggles again B rounds later), then from the workers that were busy repeating.
Job t is decodable from n - s distinct coded results across rounds t and t + B.

Replicated redo (``replication`` R > 1): each repeated task is also computed by R - 1 helpers,
the most reliable workers of the round, as an extra task beside their own job-t task (so a
helper's load that round is 2 (s + 1) / n: ``Session.worker_loads`` reports it, and the
simulator charges it). The repeaters and job t's tasks are unchanged, so everything the model
guarantees still holds; the copies only make the repeated rows arrive sooner.
"""

from __future__ import annotations

import math

from .base import BurstyScheme
from .components import Component
from .gc_codes import make_gc_code
from .replicas import assign_replicas, reliable_first
from .session import Session


class SelectiveRepetitionSession(Session):
    def __init__(self, scheme: SelectiveRepetitionSGC, jobs: int):
        super().__init__(scheme, jobs)
        self.s = scheme.s
        self.replication = scheme.replication
        self._block = Component(f"GC block ({scheme.code.kind}, s={scheme.s})", 0,
                                code=scheme.code)

    @property
    def partition_sizes(self) -> list[float]:
        return [1 / self.n] * self.n

    def components(self, job: int) -> list[Component]:
        return [self._block]

    def _plan(self, t: int):
        fresh = t if t <= self.jobs else None
        plan = [[(fresh, self._block)] if fresh else [] for _ in range(self.n)]
        repeaters = self._repeaters(t)
        for worker in repeaters:
            plan[worker] = [(t - self.T, self._block)]
        if self.replication > 1 and repeaters:
            others = [w for w in range(self.n) if w not in set(repeaters)]
            helpers = reliable_first(others, self._stragglers, t, self.scheme.W)
            for helper, row in assign_replicas(helpers, repeaters, self.replication - 1):
                plan[helper].append((t - self.T, self._block, row))
        return plan

    def _repeaters(self, t: int) -> list[int]:
        """The v - s rows repeated in round t for job t - B (none if v <= s), each by its own
        worker."""
        earlier = t - self.T
        if earlier < 1 or earlier > self.jobs:
            return []
        stragglers = self._stragglers[earlier]
        contributed = self._arrived(earlier, self._block)  # rows delivered in round t - B
        idle = [w for w in range(self.n) if w not in contributed]
        excess = len(idle) - self.s
        if excess <= 0:
            return []
        idle.sort(key=lambda w: (w not in stragglers, w))
        return idle[:excess]


class SelectiveRepetitionSGC(BurstyScheme):
    name = "sr-sgc"
    session_class = SelectiveRepetitionSession

    def __init__(self, n: int, B: int, W: int, lam: int, replication: int = 1):
        super().__init__(n, B, W, lam, replication)
        if (self.W - 1) % self.B:
            raise ValueError(f"B must divide W - 1 for sr-sgc, got B={self.B}, W={self.W}")
        self.s = math.ceil(self.B * self.lam / (self.W - 1 + self.B))
        if self.s >= self.n:
            raise ValueError(f"lam too large for n={self.n}: GC tolerance s={self.s} must be < n")
        self.code = make_gc_code(self.n, self.s)

    @property
    def T(self) -> int:
        return self.B

    @property
    def load(self) -> float:
        return (self.s + 1) / self.n
