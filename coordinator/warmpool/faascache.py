"""FaasCache (Fuerst and Sharma, ASPLOS 2021): keep-alive as Greedy-Dual caching.

Every warm environment group is a cache entry of size ``weight * memory`` with priority
``clock + frequency * cold_cost / size``; a call that finds its entry warm is a hit (frequency
+1, priority refreshed); a miss loads the entry, evicting the lowest-priority idle entries
until the region's memory fits and advancing the clock to the evicted priority. Nothing expires
on its own, so idle time ends only at an eviction or the end of the trace. A call that folds
several invocations (an Azure app's busy period) adds all of them to the frequency.
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

    def run(self, streams: list[Stream], horizon_s: float,
            scored_from_s: float = 0.0) -> list[Outcome]:
        """Idle time before ``scored_from_s`` (the warm-up) is not counted."""
        outcomes = [Outcome(np.zeros(len(s.times), bool), 0.0) for s in streams]
        for region in sorted({s.region for s in streams}):
            members = [i for i, s in enumerate(streams) if s.region == region]
            self._run_region(streams, members, outcomes, horizon_s, self._capacity(region),
                             scored_from_s)
        return outcomes

    def _run_region(self, streams: list[Stream], members: list[int], outcomes: list[Outcome],
                    horizon_s: float, capacity: float, scored_from_s: float) -> None:
        times = np.concatenate([streams[i].times for i in members])
        ends = np.concatenate([streams[i].ends for i in members])
        hits = np.concatenate([streams[i].requests for i in members])
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
                outcomes[i].idle_s += max(0.0, t - max(entry[2], scored_from_s))
                entry[1] += float(hits[k])
            else:
                outcomes[i].cold[position[k]] = True
                clock, used = self._evict(heap, warm, outcomes, t, clock, used,
                                          capacity - size[i], scored_from_s)
                if size[i] > capacity:
                    continue  # cannot be cached at all
                entry = warm[i] = [0.0, float(hits[k]), 0.0, 0, size[i]]
                used += size[i]
            version += 1
            entry[0] = clock + entry[1] * cost[i] / max(size[i], 1e-9)
            entry[2] = float(ends[k])
            entry[3] = version
            heapq.heappush(heap, (entry[0], version, i))
        for i, entry in warm.items():
            outcomes[i].idle_s += max(0.0, horizon_s - max(entry[2], scored_from_s))

    @staticmethod
    def _evict(heap, warm, outcomes, t, clock, used, limit, scored_from_s=0.0):
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
            outcomes[i].idle_s += max(0.0, t - max(entry[2], scored_from_s))
            clock = priority
            used -= entry[4]
            del warm[i]
        for item in kept:
            heapq.heappush(heap, item)
        return clock, used
