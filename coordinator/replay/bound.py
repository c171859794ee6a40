"""A clairvoyant lower bound on any run of sgcflow's family on a trace (``--bound``).

Perfect knowledge of every round's arrivals at every load, per family (pure numpy):

- GC(s), T = 0: each round ends at the earliest decodable time of the best s *for that round*
  (fractional repetition: every group has an arrival; cyclic: the (n - s)-th arrival).
- Replicated M-SGC with D1 groups of g (T = 1): a clairvoyant master forms the groups so that
  the first arrivals fall in distinct groups and gives each lost chunk to one of the fastest
  workers, so with m chunks to recover a round can end no earlier than its m-th arrival, and
  ending it at its k-th arrival (k >= m) leaves max(0, n/g - k) chunks for the next round. A
  dynamic program over rounds (state: chunks to recover) gives the least total time.

The bound is the smaller of the two families' totals: no configuration the online chooser can
pick, switching or not, ends a round sooner than its family's clairvoyant does.
"""

from __future__ import annotations

import numpy as np

from coordinator.adaptive.family import GROUPS
from coordinator.replay.round_simulator import TraceClock
from coordinator.replay.search import gc_round_times
from coordinator.replay.traces import LatencyModel


def gc_clairvoyant(clock: TraceClock, rounds: int, n: int, batch: int = 1) -> float:
    """Sum over rounds of the best GC(s) decodable time for that round, each invocation
    computing ``batch`` gradients (load batch (s + 1) / n)."""
    best = np.full(rounds, np.inf)
    for s in range(n):
        times = clock.uniform(batch * (s + 1) / n, rounds)
        best = np.minimum(best, gc_round_times(times, s, "decodable", 0.0))
    return float(best.sum())


def batched_gc_clairvoyant(latency: LatencyModel, gradients: int, replay) -> float:
    """A lower bound on every run of batched GC (all ``replay.models`` models in every
    invocation, delay 0, ceil(J / M) rounds of ``replay``'s trace order) however it picks s
    round by round: each round at its own best s, as measured, with nothing the fleet adds (a
    cold start or a queued task only adds time). Against the best fixed s chosen in hindsight
    it says how much any way of choosing s online could win at most."""
    rounds = -(-gradients // replay.models)
    return gc_clairvoyant(replay.clock(latency, rounds), rounds, latency.n_workers,
                          replay.models)


def replicated_clairvoyant(clock: TraceClock, jobs: int, n: int, group: int) -> float:
    """Least total time of replicated M-SGC (groups of ``group``) over jobs + 1 rounds."""
    chunks = n // group
    low = np.sort(clock.cube(group / n)[clock.order[:jobs + 1]], axis=1)
    high = np.sort(clock.cube(2 * group / n)[clock.order[:jobs + 1]], axis=1)
    k = np.arange(1, n + 1)
    after = np.maximum(0, chunks - k)  # chunks left to recover when ending at arrival k
    value = np.zeros(chunks + 1)  # value[m]: least time of the rounds still to come
    value_final = np.where(np.arange(chunks + 1) == 0, 0.0, high[jobs][np.maximum(
        np.arange(chunks + 1) - 1, 0)])  # the last round only recovers
    value = value_final
    for r in range(jobs - 1, -1, -1):
        cost = np.empty(chunks + 1)
        tail = value[after]
        for m in range(chunks + 1):
            times = high[r] if m else low[r]
            options = times + tail
            cost[m] = options[max(m, 1) - 1:].min()
        value = cost
    return float(value[0])


def clairvoyant(latency: LatencyModel, jobs: int, seed=None, groups=GROUPS) -> dict:
    """{"runtime_s", "family", "per_family": {...}} for ``jobs`` jobs on the trace."""
    n = latency.n_workers
    clock = TraceClock(latency, jobs + 1, seed)
    per_family = {"gc": gc_clairvoyant(clock, jobs, n)}
    for g in groups:
        if n % g == 0:
            per_family[f"replicated(group={g})"] = replicated_clairvoyant(clock, jobs, n, g)
    family = min(per_family, key=per_family.get)
    return {"runtime_s": per_family[family], "family": family, "per_family": per_family}
