"""A lower bound on *any* scheme's runtime on a trace: work conservation with a clairvoyant master.

Why: ``replay.bound`` bounds sgcflow's own family; this asks how much faster than the best
GC anything at all could be on the same delays, so a runtime target can be judged against it.

Relaxation (pure numpy; every scheme of docs/schemes.md is feasible in it, so its optimum is
a lower bound):

- Decoding job j needs the partial gradients of all of its data, so the workers whose results
  arrive must have processed, over the rounds j .. j + T, at least one job's worth of data in
  total (loads are fractions of one job's data, as in the trace).
- A clairvoyant master knows every worker's time at every load in every round and gives each
  worker the largest load it finishes by the round's end ``tau``; a round's arrived work is then
  ``W_r(tau) = sum_i max{load : time_i(load) <= tau}`` (loads on the grid k/n, k = 1..n, so at
  most one job's data per worker and round, as every scheme here uses).
- A round lasts at least until its first arrival (a round with no result is not a round);
  once every job is decoded no further round runs.
- Work is done neither before its job starts (round j) nor after its deadline (round j + T),
  and any mix of jobs can share a round (as SGC's tasks do).

A dynamic program over the backlog (work started but not done, in units of 1/n job) gives the
least total time of the J + T rounds.
"""

from __future__ import annotations

import numpy as np

from coordinator.replay.round_simulator import TraceClock
from coordinator.replay.traces import LatencyModel


def earliest_work_times(cubes: np.ndarray, max_units: int) -> np.ndarray:
    """``tau[k]``: the earliest time ``k`` units (1/n job each) can have arrived in one round.

    ``cubes[l, w]`` is worker w's time at load (l + 1)/n. Each worker contributes the largest
    load it finishes by then; ``tau[0]`` is the first arrival (the shortest round)."""
    loads, n = cubes.shape
    order = np.argsort(cubes, axis=0, kind="stable")
    times = np.take_along_axis(cubes, order, 0)
    best = np.maximum.accumulate(order + 1, axis=0)  # units finished by each time, per worker
    gained = np.diff(np.vstack([np.zeros((1, n), int), best]), axis=0)
    keep = gained > 0
    at, units = times[keep], gained[keep]
    by_time = np.argsort(at, kind="stable")
    at, arrived = at[by_time], np.cumsum(units[by_time])
    tau = np.full(max_units + 1, np.inf)
    index = np.searchsorted(arrived, np.arange(1, max_units + 1), side="left")
    found = index < arrived.size
    tau[1:][found] = at[index[found]]
    tau[0] = at[0]
    return tau


def least_total_time(tau: np.ndarray, jobs: int, T: int, n: int) -> float:
    """DP over rounds r = 0 .. jobs + T - 1; state: backlog after the round, 0 .. n T units."""
    cap = n * T
    value = np.full(cap + 1, np.inf)
    value[0] = 0.0  # after the last round nothing may be left
    for r in range(jobs + T - 1, -1, -1):
        arriving = n if r < jobs else 0
        started = n * min(r + 1, jobs)
        nxt = np.full(cap + 1, np.inf)
        for backlog in range(cap + 1):
            before = backlog + arriving
            if before > started:
                continue
            if before == 0 and r >= jobs:
                nxt[backlog] = 0.0  # every job is done: no further round runs
                continue
            work = np.arange(max(0, before - cap), before + 1)
            nxt[backlog] = float(np.min(tau[r, work] + value[before - work]))
        value = nxt
    return float(value[0])


def work_bound(latency: LatencyModel, jobs: int, T: int, seed=None) -> float:
    """Least total seconds any scheme with delay ``T`` could take for ``jobs`` jobs (above)."""
    if jobs < 1 or T < 0:
        raise ValueError(f"need jobs >= 1 and T >= 0, got jobs={jobs}, T={T}")
    n = latency.n_workers
    rounds = jobs + T
    clock = TraceClock(latency, rounds, seed)
    grid = np.stack([clock.cube(k / n) for k in range(1, n + 1)])  # (loads, measured rounds, n)
    per_measured = {}
    tau = np.empty((rounds, n * (T + 1) + 1))
    for r, measured in enumerate(clock.order[:rounds]):
        if measured not in per_measured:
            per_measured[measured] = earliest_work_times(grid[:, measured, :], n * (T + 1))
        tau[r] = per_measured[measured]
    return least_total_time(tau, jobs, T, n)
