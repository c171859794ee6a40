"""Replaying sgcflow's candidate configurations on the rounds a run has observed (pure numpy).

The online chooser (``online``) asks: had we run configuration c over the last rounds, how long
would they have taken? It answers from what the run itself measured: every round's worker times
at the loads that round used. To move a round to another load it fits, over all observed rounds,
how each order statistic of a round's times grows with load (a least-squares slope per rank,
non-negative and non-decreasing across ranks), and shifts each worker by its rank's slope times
the load difference, keeping the round's own pattern of who was slow.

The evaluators follow the real scheme and policy exactly (the tests replay both on the same
times and compare): GC(s) ends at its earliest decodable set; replicated M-SGC deals copies of
lost chunks most-reliable-first and ends at max(the previous job complete, the ceil(q n)-th
arrival).
"""

from __future__ import annotations

import math

import numpy as np

from ..search import gc_round_times


class LoadFit:
    """Per-rank growth of round times with load, fitted on full observed rounds."""

    def __init__(self, n: int):
        self.n = n
        self._loads: list[float] = []
        self._sorted: list[np.ndarray] = []

    def add(self, loads: np.ndarray, times: np.ndarray) -> None:
        """A round where every worker was dispatched (others carry no clean order statistics)."""
        if np.isfinite(times).all() and len(times) == self.n:
            self._loads.append(float(np.mean(loads)))
            self._sorted.append(np.sort(times))

    @property
    def distinct_loads(self) -> int:
        return len({round(x, 9) for x in self._loads})

    def slopes(self) -> np.ndarray:
        """Seconds per unit of load, per rank (zeros until two loads were observed)."""
        if self.distinct_loads < 2:
            return np.zeros(self.n)
        loads = np.asarray(self._loads)
        rows = np.asarray(self._sorted)
        centred = loads - loads.mean()
        slope = centred @ (rows - rows.mean(axis=0)) / (centred @ centred)
        return np.maximum.accumulate(np.maximum(slope, 0.0))


def shift(times: np.ndarray, loads: np.ndarray, target: float,
          slopes: np.ndarray) -> np.ndarray:
    """(rounds, n) times moved from each round's mean load to ``target``, rank by rank."""
    ranks = np.argsort(np.argsort(times, axis=1, kind="stable"), axis=1, kind="stable")
    return times + slopes[ranks] * (target - loads.mean(axis=1))[:, None]


def gc_total(times: np.ndarray, s: int) -> float:
    return float(gc_round_times(times, s, "decodable", 0.0).sum())


def replicated_round_times(low: np.ndarray, high: np.ndarray, q: float,
                           group: int = 1) -> np.ndarray:
    """Round times of replicated M-SGC (B=1, W=2, lam=n, replication=n, ``group``) under the
    earliest-decodable policy with ``min_fraction=q``; ``low``/``high``: (rounds, n) times at
    load group/n (no chunk to recover) and 2 group/n (every worker busy recovering)."""
    rounds, n = low.shape
    k = max(1, math.ceil(q * n))
    out = np.empty(rounds)
    lost = np.zeros(0, dtype=int)  # leaders of the groups whose chunk is lost
    recent = [np.zeros(0, dtype=int), np.zeros(0, dtype=int)]  # stragglers of t-1, t-2
    for r in range(rounds):
        x = high[r] if lost.size else low[r]
        done = _recovery_time(x, lost, recent, group) if lost.size else 0.0
        end = max(done, float(np.partition(x, k - 1)[k - 1]))
        out[r] = end
        late = x > end
        lost = np.flatnonzero(late.reshape(-1, group).all(axis=1)) * group
        recent = [np.flatnonzero(late), recent[0]]
    return out


def _recovery_time(x: np.ndarray, lost: np.ndarray, recent, group: int) -> float:
    """When every lost chunk has its first copy: its group's redo or a helper's replica."""
    n = len(x)
    members = (lost[:, None] + np.arange(group)[None, :])
    idle = np.setdiff1d(np.arange(n), members.ravel(), assume_unique=True)
    key = np.zeros(n, dtype=int)
    key[recent[1]] = 1  # straggled two rounds ago
    key[recent[0]] = 2  # straggled last round: least reliable
    helpers = idle[np.lexsort((idle, key[idle]))]
    first = x[members].min(axis=1)
    target = np.arange(len(helpers)) % len(lost)
    np.minimum.at(first, target, x[helpers])
    return float(first.max())
