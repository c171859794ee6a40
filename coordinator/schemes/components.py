"""The pieces a job's gradient is cut into, and how each is recovered from workers' results.

A job's gradient is the sum of its components' sums. A component is either *owned* (one
partition that one worker computes, recovered from any one delivery of it: M-SGC's D1 chunks,
the uncoded scheme's shares) or *coded* (a block of n partitions under a gradient code, recovered
from the results of any decodable set of workers: GC, SR-SGC, M-SGC's D2 groups).
A worker's result for a job in a round always covers exactly one component, so decode weights
map one-to-one onto results. A share (a row: the owner's piece, or one worker's coded row) may
arrive from several workers when it was replicated; decoding uses the first copy that arrived.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ResultKey = tuple[int, int, int]  # (round, worker, job)


@dataclass(frozen=True, eq=False)  # identity: one object per piece
class Component:
    """One piece of a job: ``name`` for messages, partitions from ``offset`` on."""

    name: str
    offset: int
    owner: int | None = None  # owned: the worker (or group leader) whose share it is
    code: object | None = None  # coded: a gc_codes code over all n workers
    parts: tuple[int, ...] | None = None  # owned: its partitions, if not just ``offset``
    _shares: dict = field(default_factory=dict, repr=False)  # row -> share (``share``)

    def partitions(self, worker: int) -> list[int]:
        """The partitions of worker's task on this component (``coefficients``' keys)."""
        if self.code is None:
            return list(self.parts) if self.parts else [self.offset]
        return [self.offset + p for p in self.code.support(worker)]

    def share(self, worker: int, sizes) -> float:
        """The data share of worker's task on this component: its partitions' ``sizes`` (the
        session's, which a component belongs to; remembered, as the simulator asks every
        round)."""
        share = self._shares.get(worker)
        if share is None:
            share = self._shares[worker] = sum(sizes[p] for p in self.partitions(worker))
        return share

    def coefficients(self, worker: int) -> dict[int, float]:
        """Worker's task on this component: {partition: coefficient}."""
        if self.code is None:
            return dict.fromkeys(self.partitions(worker), 1.0)
        row = self.code.matrix[worker]
        return {self.offset + p: float(row[p]) for p in self.code.support(worker)}

    def decode(self, arrivals: dict[int, tuple[int, int]],
               job: int) -> dict[ResultKey, float] | None:
        """Weights on results given {row: (round, deliverer) of its first copy}, or None."""
        if self.code is None:
            if self.owner not in arrivals:
                return None
            return {(*arrivals[self.owner], job): 1.0}
        weights = self.code.decode(arrivals)
        if weights is None:
            return None
        return {(*arrivals[row], job): a for row, a in weights.items()}

    def missing(self, arrivals: dict[int, tuple[int, int]]) -> str:
        """What this component still needs, for a late job's report."""
        if self.code is None:
            return f"{self.name} (worker {self.owner}) not delivered"
        need = self.code.n - self.code.s
        return f"{self.name}: {len(arrivals)} of at least {need} coded results delivered"
