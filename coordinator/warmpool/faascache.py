"""FaasCache (Fuerst and Sharma, ASPLOS 2021): keep-alive as Greedy-Dual caching.

Every warm environment group is a cache entry of size ``weight * memory`` with priority
``clock + frequency * cold_cost / size``; a call that finds its entry warm is a hit (frequency
+1, priority refreshed); a miss loads the entry, evicting the lowest-priority idle entries
until the region's memory fits and advancing the clock to the evicted priority. Nothing expires
on its own, so idle time ends only at an eviction or the end of the trace.
"""

from __future__ import annotations

import heapq

import numpy as np

from coordinator.warmpool.policies import Outcome
from coordinator.warmpool.workload import Stream


class FaasCache:
    name = "faascache"

    def __init__(self, capacity_gb: dict[str, float] | float):
        self.capacity_gb = capacity_gb

    def _capacity(self, region: str) -> float:
        if isinstance(self.capacity_gb, dict):
            return float(self.capacity_gb[region])
        return float(self.capacity_gb)

    def run(self, streams: list[Stream], horizon_s: float) -> list[Outcome]:
        outcomes = [Outcome(np.zeros(len(s.times), bool), 0.0) for s in streams]
        for region in sorted({s.region for s in streams}):
            members = [i for i, s in enumerate(streams) if s.region == region]
            self._run_region(streams, members, outcomes, horizon_s, self._capacity(region))
        return outcomes

    def _run_region(self, streams: list[Stream], members: list[int], outcomes: list[Outcome],
                    horizon_s: float, capacity: float) -> None:
        times = np.concatenate([streams[i].times for i in members])
        owner = np.concatenate([np.full(len(streams[i].times), i) for i in members])
        position = np.concatenate([np.arange(len(streams[i].times)) for i in members])
        order = np.argsort(times, kind="stable")
        size = {i: streams[i].weight * streams[i].memory_gb for i in members}
        cost = {i: float(np.mean(streams[i].costs)) if len(streams[i].costs) else 0.0
                for i in members}
        warm: dict[int, list] = {}  # stream -> [priority, frequency, busy_until, version, size]
        heap: list[tuple[float, int, int]] = []
        clock, used, version = 0.0, 0.0, 0
        for k in order:
            i, t = int(owner[k]), float(times[k])
            entry = warm.get(i)
            if entry is not None:
                outcomes[i].idle_s += max(0.0, t - entry[2])
                entry[1] += 1
            else:
                outcomes[i].cold[position[k]] = True
                clock, used = self._evict(heap, warm, outcomes, t, clock, used,
                                          capacity - size[i])
                if size[i] > capacity:
                    continue  # cannot be cached at all
                entry = warm[i] = [0.0, 1, 0.0, 0, size[i]]
                used += size[i]
            version += 1
            entry[0] = clock + entry[1] * cost[i] / max(size[i], 1e-9)
            entry[2] = t + streams[i].duration_s
            entry[3] = version
            heapq.heappush(heap, (entry[0], version, i))
        for i, entry in warm.items():
            outcomes[i].idle_s += max(0.0, horizon_s - entry[2])

    @staticmethod
    def _evict(heap, warm, outcomes, t, clock, used, limit):
        """Pop lowest-priority idle entries until ``used <= limit``; busy ones are kept."""
        kept = []
        while used > limit and heap:
            priority, version, i = heapq.heappop(heap)
            entry = warm.get(i)
            if entry is None or entry[3] != version:
                continue  # stale heap item
            if entry[2] > t:
                kept.append((priority, version, i))  # busy: cannot evict now
                continue
            outcomes[i].idle_s += max(0.0, t - entry[2])
            clock = priority
            used -= entry[4]
            del warm[i]
        for item in kept:
            heapq.heappush(heap, item)
        return clock, used
