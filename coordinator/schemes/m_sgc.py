"""M-SGC (Krishnan et al., ICLR 2023): GC for part of the data, repetition for the rest.

Each job's data is split into D1 (n (W - 1) equal chunks, W - 1 owned by each worker) and D2
(B groups of n partitions, each coded with a GC code tolerating lam stragglers). Every round
a worker runs W - 1 + B mini-tasks; mini-task m of round r belongs to job r - m, so job j is
worked on in rounds j .. j + T with T = W - 2 + B. Slots 0..W-2 are the worker's D1 chunks.
Slot W - 1 + b is adaptive: a worker still missing a D1 chunk of the job redoes the earliest
missing one; otherwise it does D2 group b's GC task. Job j decodes once every D1 chunk arrived
and each D2 group has a decodable set (n - lam results). Slot sizes are equal
(docs/schemes.md, "M-SGC"):
d2 = B / (B + (lam + 1)(W - 1)), giving load (lam + 1)(W - 1 + B) / (n (B + (W - 1)(lam + 1))).
"""

from __future__ import annotations

from .base import BurstyScheme
from .components import Component
from .gc_codes import make_gc_code
from .session import Session


class MultiplexedSession(Session):
    def __init__(self, scheme: MultiplexedSGC, jobs: int):
        super().__init__(scheme, jobs)
        self.B, self.W, n = scheme.B, scheme.W, self.n
        chunks = self.W - 1
        self._d1 = [[Component(f"D1 chunk {c}", w * chunks + c, owner=w) for c in range(chunks)]
                    for w in range(n)]
        self._d2 = [] if scheme.code is None else [
            Component(f"D2 group {b}", n * chunks + b * n, code=scheme.code) for b in range(self.B)
        ]
        self._components = [c for chunks_of_worker in self._d1 for c in chunks_of_worker]
        self._components += self._d2
        d1_size = (1 - scheme.d2) / (n * chunks)
        d2_size = scheme.d2 / (self.B * n)
        self._sizes = [d1_size] * (n * chunks) + [d2_size] * (n * len(self._d2))

    @property
    def partition_sizes(self) -> list[float]:
        return list(self._sizes)

    def components(self, job: int) -> list[Component]:
        return self._components

    def _plan(self, t: int):
        plan = []
        for worker in range(self.n):
            minitasks = []
            for slot in range(self.W - 1 + self.B):
                job = t - slot
                if 1 <= job <= self.jobs:
                    component = self._slot_component(worker, job, slot)
                    if component is not None:
                        minitasks.append((job, component))
            plan.append(minitasks)
        return plan

    def _slot_component(self, worker: int, job: int, slot: int) -> Component | None:
        if slot < self.W - 1:
            return self._d1[worker][slot]
        for chunk in self._d1[worker]:  # adaptive slot: redo the earliest lost D1 chunk
            if worker not in self._arrived(job, chunk):
                return chunk
        group = slot - (self.W - 1)
        return self._d2[group] if self._d2 else None


class MultiplexedSGC(BurstyScheme):
    name = "m-sgc"
    session_class = MultiplexedSession

    def __init__(self, n: int, B: int, W: int, lam: int):
        super().__init__(n, B, W, lam)
        self.code = make_gc_code(self.n, self.lam) if self.lam < self.n else None

    @property
    def T(self) -> int:
        return self.W - 2 + self.B

    @property
    def d2(self) -> float:
        """Fraction of a job's data in D2 (coded); 0 when lam = n."""
        if self.lam == self.n:
            return 0.0
        return self.B / (self.B + (self.lam + 1) * (self.W - 1))

    @property
    def load(self) -> float:
        slots = self.W - 1 + self.B
        if self.lam == self.n:
            return slots / (self.n * (self.W - 1))
        return (self.lam + 1) * slots / (self.n * (self.B + (self.W - 1) * (self.lam + 1)))
