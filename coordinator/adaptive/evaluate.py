"""Replaying sgcflow's candidate configurations on the rounds a run has observed (pure numpy).

The online chooser (``online``) asks: had we run configuration c over the last rounds, how long
would they have taken? It answers from what the run itself measured: every round's worker times
at the loads that round used. To move a round to another load it uses ``LoadFit``, the observed
order statistics per load, interpolated between the loads the run has used, and shifts each
worker by its rank's difference, keeping the round's own pattern of who was slow.

The evaluators follow the real scheme and policy exactly (the tests replay both on the same
times and compare): GC(s) ends at its earliest decodable set; replicated M-SGC deals copies of
lost chunks most-reliable-first and ends at max(the previous job complete, the ceil(q n)-th
arrival).
"""

from __future__ import annotations

import math

import numpy as np

from coordinator.replay.search import gc_round_times


class LoadFit:
    """How each order statistic of a round's times varies with load, from observed rounds.

    Rounds are pooled by load: at each load the run has used, the mean sorted round (the mean
    fastest worker, the mean second fastest, ...). Between two observed loads a rank's time is
    interpolated linearly, beyond them extrapolated with the nearest segment's slope (never
    decreasing with load); with a single observed load, nothing moves.

    Censoring: a worker still running when its round was learned carries the learning horizon,
    not its time, so a rank is *known* at a load only below the fewest uncensored workers of
    any round pooled there (``known``). Ranks above it are a lower bound that differs with each
    round's horizon: comparing them across loads would move slow workers by the difference of
    two horizons, not of two loads (``Shifted`` uses the last known rank's difference instead).
    """

    def __init__(self, n: int):
        self.n = n
        self._sums: dict[float, np.ndarray] = {}
        self._counts: dict[float, int] = {}
        self._known: dict[float, int] = {}

    def add(self, loads: np.ndarray, times: np.ndarray, horizon_s: float = np.inf) -> None:
        """A round where every worker was dispatched (others carry no clean order statistics);
        ``horizon_s``: times at or above it are censored (still running then)."""
        if np.isfinite(times).all() and len(times) == self.n:
            load = round(float(np.mean(loads)), 9)
            self._sums[load] = self._sums.get(load, 0.0) + np.sort(times)
            self._counts[load] = self._counts.get(load, 0) + 1
            known = int(np.count_nonzero(times < horizon_s))
            self._known[load] = min(self._known.get(load, self.n), known)

    @property
    def distinct_loads(self) -> int:
        return len(self._sums)

    def state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(loads, per-rank sums, round counts, known ranks), one row per observed load in
        increasing order: everything the fit knows, for a later run to start from (``restore``)."""
        grid = sorted(self._sums)
        sums = np.asarray([self._sums[x] for x in grid], dtype=float).reshape(-1, self.n)
        return (np.asarray(grid, dtype=float), sums,
                np.asarray([self._counts[x] for x in grid], dtype=float),
                np.asarray([self._known[x] for x in grid], dtype=float))

    def restore(self, loads, sums, counts, known) -> None:
        """Start from ``state()``'s arrays (checked by the caller, ``online.Learned``)."""
        for load, row, count, k in zip(loads, sums, counts, known, strict=True):
            at = round(float(load), 9)
            self._sums[at] = np.array(row, dtype=float)
            self._counts[at] = int(count)
            self._known[at] = int(k)

    def curve(self, load: float) -> np.ndarray:
        """Expected sorted round times at ``load`` (per rank)."""
        return self.at(load)[0]

    def known(self, load: float) -> int:
        """How many of the fastest ranks ``curve(load)`` knows uncensored."""
        return self.at(load)[1]

    def at(self, load: float) -> tuple[np.ndarray, int]:
        """``curve(load)`` and ``known(load)`` together."""
        grid = sorted(self._sums)
        if not grid:
            return np.zeros(self.n), self.n
        at = round(float(load), 9)
        if at in self._sums:  # an observed load: its own rounds, its own censoring
            return self._sums[at] / self._counts[at], self._known[at]
        rows = [self._sums[x] / self._counts[x] for x in grid]
        if len(grid) == 1:
            return rows[0], self._known[grid[0]]
        j = int(np.clip(np.searchsorted(grid, load) - 1, 0, len(grid) - 2))
        slope = np.maximum((rows[j + 1] - rows[j]) / (grid[j + 1] - grid[j]), 0.0)
        known = min(self._known[grid[j]], self._known[grid[j + 1]])
        return rows[j] + slope * (load - grid[j]), known


class Shifted:
    """Observed rounds, ready to be moved to any load (``at``): ranks and loads computed once."""

    def __init__(self, times: np.ndarray, loads: np.ndarray, fit: LoadFit,
                 horizons: np.ndarray | None = None):
        """``horizons``: per round, when it was learned (its times at or above it are censored:
        moved, they stay unknown, ``inf``)."""
        self.times, self.fit = times, fit
        self.censored = np.zeros(times.shape, dtype=bool) if horizons is None else \
            times >= np.asarray(horizons, dtype=float)[:, None]
        self.order = np.argsort(times, axis=1, kind="stable")
        self.round_loads, self.which = np.unique(np.round(loads.mean(axis=1), 9),
                                                 return_inverse=True)
        self._from = [fit.at(float(x)) for x in self.round_loads]

    def at(self, target: float) -> np.ndarray:
        """(rounds, n) times moved from each round's load to ``target``, rank by rank, keeping
        each round's own pattern of who was slow: every known rank by its own difference, the
        rest (censored somewhere) by the last known one's, and never reordered. A worker
        censored in its own round stays unknown (``inf``): a candidate that would wait for it
        has no estimate, rather than the optimistic one its horizon would give."""
        to, known_to = self.fit.at(target)
        deltas = np.empty((len(self._from), self.fit.n))
        for i, (start, known_from) in enumerate(self._from):
            deltas[i] = _tail_extended(to - start, min(known_to, known_from))
        rows = np.arange(len(self.times))[:, None]
        ordered = self.times[rows, self.order] + deltas[self.which]
        moved = np.empty_like(ordered)
        moved[rows, self.order] = np.maximum.accumulate(ordered, axis=1)
        moved[self.censored] = np.inf
        return moved


def _tail_extended(delta: np.ndarray, known: int) -> np.ndarray:
    """``delta`` with every rank from ``known`` on replaced by the last known rank's (0 if no
    rank is known)."""
    out = delta.copy()
    out[known:] = delta[known - 1] if known > 0 else 0.0
    return out


def gc_total(times: np.ndarray, s: int) -> float:
    return float(gc_round_times(times, s, "decodable", 0.0).sum())


def replicated_round_times(low: np.ndarray, high: np.ndarray, q: float,
                           group: int = 1, late_results: bool = True) -> np.ndarray:
    """Round times of replicated M-SGC (B=1, W=2, lam=n, replication=n, ``group``) under the
    earliest-decodable policy with ``min_fraction=q``; ``low``/``high``: (rounds, n) times at
    load group/n (no chunk to recover) and 2 group/n (every worker busy recovering). With
    ``late_results`` a lost chunk is also recovered when its own group's straggling result
    lands (Lambda runs it to its end), measured from the previous round's end."""
    rounds, n = low.shape
    k = max(1, math.ceil(q * n))
    out = np.empty(rounds)
    lost = np.zeros(0, dtype=int)  # leaders of the groups whose chunk is lost
    recent = [np.zeros(0, dtype=int), np.zeros(0, dtype=int)]  # stragglers of t-1, t-2
    landing = np.zeros(0)  # when each lost chunk's own late result lands, from this round on
    for r in range(rounds):
        x = high[r] if lost.size else low[r]
        done = _recovery_time(x, lost, recent, group, landing) if lost.size else 0.0
        end = max(done, float(np.partition(x, k - 1)[k - 1]))
        out[r] = end
        late = x > end
        lost = np.flatnonzero(late.reshape(-1, group).all(axis=1)) * group
        recent = [np.flatnonzero(late), recent[0]]
        members = lost[:, None] + np.arange(group)[None, :]
        landing = (x[members].min(axis=1) - end if late_results
                   else np.full(len(lost), np.inf))
    return out


def _recovery_time(x: np.ndarray, lost: np.ndarray, recent, group: int,
                   landing: np.ndarray) -> float:
    """When every lost chunk has its first copy: its group's redo, a helper's replica or its
    own late result."""
    n = len(x)
    members = (lost[:, None] + np.arange(group)[None, :])
    idle = np.setdiff1d(np.arange(n), members.ravel(), assume_unique=True)
    key = np.zeros(n, dtype=int)
    key[recent[1]] = 1  # straggled two rounds ago
    key[recent[0]] = 2  # straggled last round: least reliable
    helpers = idle[np.lexsort((idle, key[idle]))]
    first = np.minimum(x[members].min(axis=1), landing)
    target = np.arange(len(helpers)) % len(lost)
    np.minimum.at(first, target, x[helpers])
    return float(first.max())
