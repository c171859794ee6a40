"""FaasCache (Fuerst and Sharma, ASPLOS 2021): keep-alive as Greedy-Dual caching.

Every warm environment group is a cache entry of size ``weight * memory`` with priority
``clock + frequency * cold_cost / size``; a call that finds its entry warm is a hit (frequency
+1, priority refreshed); a miss loads the entry, evicting the lowest-priority idle entries
until the region's memory fits and advancing the clock to the evicted priority. Nothing expires
on its own, so idle time ends only at an eviction or the end of the trace. A call that folds
several invocations (an Azure app's busy period) adds all of them to the frequency.
"""

from __future__ import annotations

import numpy as np

from coordinator.warmpool import cache_loops
from coordinator.warmpool.packed import Packed, PackedOutcome, packed


class FaasCache:
    """Greedy-Dual keep-alive with ``capacity_gb`` of memory per region (a number for every
    region, or a mapping region -> GB)."""

    name = "faascache"

    def __init__(self, capacity_gb: dict[str, float] | float, name: str | None = None):
        self.capacity_gb = capacity_gb
        self.name = name or self.name

    def _capacity(self, region: str) -> float:
        if isinstance(self.capacity_gb, dict):
            return float(self.capacity_gb[region])
        return float(self.capacity_gb)

    def run(self, streams, horizon_s: float, scored_from_s: float = 0.0) -> list:
        """Idle time before ``scored_from_s`` (the warm-up) is not counted."""
        p = packed(streams)
        return self.run_packed(p, horizon_s, scored_from_s).split(p)

    def run_packed(self, p: Packed, horizon_s: float, scored_from_s: float = 0.0
                   ) -> PackedOutcome:
        out = PackedOutcome.empty(p)
        if p.calls == 0:
            return out
        owner = p.stream_of_call()
        size = p.weight * p.memory_gb
        sums = np.bincount(owner, weights=p.costs, minlength=p.streams)
        cost = np.where(p.lengths() > 0, sums / np.maximum(p.lengths(), 1), 0.0)
        for code, region in enumerate(p.regions):
            members = np.flatnonzero(p.region == code)
            calls = np.flatnonzero(p.region[owner] == code)
            order = calls[np.argsort(p.times[calls], kind="stable")]
            cache_loops.greedy_dual(order, owner, p.times, p.ends, p.requests, size, cost,
                                    members, self._capacity(region), horizon_s,
                                    scored_from_s, out.cold, out.idle_s)
        return out
