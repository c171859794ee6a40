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

Replicated redo (``replication`` R > 1, needs lam = n): with no D2 a worker whose own chunks
all arrived has an idle adaptive slot. Those idle slots recompute other workers' lost chunks,
up to R copies of each lost chunk in all (the owner's own redo included), so a worker that
straggles twice in a row no longer holds its job back: any copy that arrives completes the
chunk. The idle slots are already counted in the load formula, so the load does not change.
With lam < n every adaptive slot carries a D2 task that the code's tolerance depends on, so
there is no free slot to replicate into.

Grouped D1 (``group`` g > 1, needs lam = n, g | n): the workers form n / g groups of g
consecutive workers, and each group's members all compute the group's chunks (fractional
repetition inside D1, the same task as GC's fractional-repetition code with s = g - 1): a chunk
is delivered by the group's first arrival, and only a chunk no member delivered is redone.
The data keeps n (W - 1) equal partitions, a group chunk covering g of them, so the load is g
times the lam = n formula and a run can switch between this scheme and GC without
re-partitioning.
"""

from __future__ import annotations

import functools

from coordinator.schemes.params import require_int

from .base import BurstyScheme
from .components import Component
from .gc_codes import make_gc_code
from .replicas import assign_replicas, reliable_first
from .session import Session


class MultiplexedSession(Session):
    def __init__(self, scheme: MultiplexedSGC, jobs: int):
        super().__init__(scheme, jobs)
        self.B, self.W = scheme.B, scheme.W
        self.replication = scheme.replication
        self._d1, self._leader, self._d2, self._components, self._sizes = scheme.layout

    @property
    def partition_sizes(self) -> list[float]:
        return list(self._sizes)

    def components(self, job: int) -> list[Component]:
        return self._components

    def _plan(self, t: int):
        plan = [[] for _ in range(self.n)]
        for slot in range(self.W - 1 + self.B):
            job = t - slot
            if not 1 <= job <= self.jobs:
                continue
            idle = []
            for worker in range(self.n):
                component = self._slot_component(worker, job, slot)
                if component is not None:
                    plan[worker].append((job, component, self._leader[worker]))
                elif slot >= self.W - 1:
                    idle.append(worker)
            if self.replication > 1 and idle:
                self._replicate(t, job, idle, plan)
        return plan

    def _slot_component(self, worker: int, job: int, slot: int) -> Component | None:
        if slot < self.W - 1:
            return self._d1[worker][slot]
        lost = self._lost_chunk(worker, job)
        if lost is not None:  # adaptive slot: redo the earliest lost D1 chunk
            return lost
        group = slot - (self.W - 1)
        return self._d2[group] if self._d2 else None

    def _lost_chunk(self, worker: int, job: int) -> Component | None:
        for chunk in self._d1[worker]:
            if chunk.owner not in self._arrived(job, chunk):
                return chunk
        return None

    def _replicate(self, t: int, job: int, idle: list[int], plan) -> None:
        """Idle adaptive slots recompute lost chunks of ``job``: R copies of each in all."""
        leaders = range(0, self.n, self.scheme.group)
        lost = [(w, self._lost_chunk(w, job)) for w in leaders]
        lost = [(w, chunk) for w, chunk in lost if chunk is not None]
        if not lost:
            return
        helpers = reliable_first(idle, self._stragglers, t, self.W)
        for helper, (owner, chunk) in assign_replicas(helpers, lost, self.replication - 1):
            plan[helper].append((job, chunk, owner))


class MultiplexedSGC(BurstyScheme):
    name = "m-sgc"
    session_class = MultiplexedSession

    def __init__(self, n: int, B: int, W: int, lam: int, replication: int = 1, group: int = 1):
        super().__init__(n, B, W, lam, replication)
        if self.replication > 1 and self.lam < self.n:
            raise ValueError(
                f"replication > 1 needs lam = n ({self.n}) for m-sgc: with lam < n every "
                f"adaptive slot carries a D2 task, so no slot is free to hold a replica")
        self.group = require_int("group", group, 1, self.n)
        if self.group > 1 and (self.lam < self.n or self.n % self.group):
            raise ValueError(f"group > 1 needs lam = n ({self.n}) and group dividing n, got "
                             f"group={self.group}, lam={self.lam}")
        self.code = make_gc_code(self.n, self.lam) if self.lam < self.n else None

    @property
    def T(self) -> int:
        return self.W - 2 + self.B

    @functools.cached_property
    def layout(self) -> tuple[list, list[int], list[Component], list[Component], list[float]]:
        """(each worker's D1 chunks, each worker's group leader, the D2 groups, every
        component, the partition sizes): the same for every session of this scheme, and the
        components are immutable (their remembered shares depend on these sizes only), so
        sessions share them (building them per session was 40% of the largest exhaustive test
        case: 13.9 s -> 8.3 s)."""
        n, chunks, g = self.n, self.W - 1, self.group
        groups = {w: [_group_chunk(w, g, chunks, c) for c in range(chunks)]
                  for w in range(0, n, g)}  # one object per chunk, shared by its group
        d1 = [groups[w - w % g] for w in range(n)] if g > 1 else [
            [Component(f"D1 chunk {c}", w * chunks + c, owner=w) for c in range(chunks)]
            for w in range(n)]
        leader = [w - w % g for w in range(n)]
        d2 = [] if self.code is None else [
            Component(f"D2 group {b}", n * chunks + b * n, code=self.code) for b in range(self.B)
        ]
        components = [c for w in range(0, n, g) for c in d1[w]] + d2
        d1_size = (1 - self.d2) / (n * chunks)
        d2_size = self.d2 / (self.B * n)
        sizes = [d1_size] * (n * chunks) + [d2_size] * (n * len(d2))
        return d1, leader, d2, components, sizes

    @property
    def d2(self) -> float:
        """Fraction of a job's data in D2 (coded); 0 when lam = n."""
        if self.lam == self.n:
            return 0.0
        return self.B / (self.B + (self.lam + 1) * (self.W - 1))

    @property
    def params(self) -> dict[str, int]:
        params = super().params
        if self.group > 1:
            params["group"] = self.group
        return params

    @property
    def load(self) -> float:
        slots = self.W - 1 + self.B
        if self.lam == self.n:
            return self.group * slots / (self.n * (self.W - 1))
        return (self.lam + 1) * slots / (self.n * (self.B + (self.W - 1) * (self.lam + 1)))


def _group_chunk(leader: int, g: int, chunks: int, c: int) -> Component:
    """Chunk c of the group led by ``leader``: partition c of each of its g members."""
    parts = tuple((leader + i) * chunks + c for i in range(g))
    return Component(f"D1 chunk {c} of group {leader // g}", parts[0], owner=leader, parts=parts)
