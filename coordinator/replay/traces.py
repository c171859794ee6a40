"""Latency model built from measured AWS Lambda delays (the straggler trace the simulator replays).

The trace (``data/lambda_delays.parquet``) comes from the sequential gradient coding study
(github.com/mamaj/Sequential-Gradient-Coding-2, ``delay_profiles/``): 256 Lambda workers invoked
round after round, each *profile* (one experiment folder) re-run at several per-worker loads
``profile_load``. In that study's worker a ``profile_load`` of ``x`` means "compute the gradient of
``max(1, round(x * batch))`` samples of the ``batch``-sample mini-batch", i.e. the fraction of one
job's data a worker processes per round: the same quantity as a scheme's *normalized load*
(docs/schemes.md, "Setting"; uncoded = 1/n, GC = (s + 1)/n). So the mapping is the identity,
``profile_load = normalized load``; the study's own simulation (``2_find_runtimes/find_runtime.py``)
puts both on one axis and its validation re-runs Lambda at the chosen schemes' loads.

Each profile_load is its own run, so between two measured loads the model blends two runs, per
measured round r and worker w (``method``):
- ``"quantile"`` (default): per round, the sorted times of the two runs are interpolated
  quantile by quantile and each worker gets the value at its rank in the nearer run. The round's
  fastest, slowest and every order statistic then move linearly with load (a blend of the two runs'
  distributions, with the stragglers' tail intact).
- ``"interp"``: cell by cell, (1 - a) d_k[r, w] + a d_k+1[r, w]. Averaging two independent runs
  shrinks the tail (a 26 s spike of one run enters with weight 1/4 at a = 1/4), so more load can
  make the slowest worker faster; this favours high-load schemes (GC) when rounds fall back.
- ``"shift"``: the study's additive model (lowest measured load's times plus the increase of the
  profile's non-decreasing median-vs-load curve); monotone in load in every cell by design.
``quantile`` and ``interp`` return the measured durations exactly at every measured load. Outside
the measured range both use: below the lowest measured load, that load's durations (no downward
extrapolation); above the highest, its durations plus the profile's median slope over the last
segment (clamped at >= 0), so never below a measured time.

Rounds: the measured rounds are replayed cyclically (row i is measured round i mod R); with an rng,
every pass over the rounds is an independent permutation. See :meth:`LatencyModel.round_order`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coordinator.contract.arrow_io import read_parquet

# The measured trace shipped in the repository (docs/schemes.md, "What the measured traces say").
SHIPPED_TRACE = Path(__file__).resolve().parents[2] / "data" / "lambda_delays.parquet"
DEFAULT_PROFILE = "sam-gc-cnn_profile_est_desktop_long"
DEFAULT_REGION = "Canada"
METHODS = ("quantile", "interp", "shift")
# A measured load whose median time is below this fraction of the next load's median did no
# gradient work at all (the ResNet-18 load-0 runs: 0.17 s vs 16.7 s at 5 samples); it is dropped.
OVERHEAD_ONLY_RATIO = 0.2
_COLUMNS = ["profile", "region", "model", "profile_load", "batch", "round", "worker", "started",
            "duration_s"]


@dataclass(frozen=True)
class ProfileInfo:
    """One (profile, region) of the trace: what was measured."""

    profile: str
    region: str
    model: str
    batch: int
    loads: tuple[float, ...]
    rounds: int
    workers: int


class LatencyModel:
    """Seconds per worker and round as a function of the normalized load (see module docstring).

    ``durations[k, r, w]`` is worker w's measured time in round r at ``loads[k]`` (loads strictly
    increasing). Invariants checked by the tests: ``times_at(loads[k])`` returns ``durations[k]``
    exactly (``quantile``, ``interp``); ``shift`` is non-decreasing in load in every cell.
    """

    def __init__(self, loads, durations, *, method: str = "quantile", profile: str = "",
                 region: str = "", profiles: Iterable[ProfileInfo] = (),
                 excluded_loads: Iterable[float] = ()):
        loads = np.asarray(loads, dtype=float)
        durations = np.asarray(durations, dtype=float)
        if method not in METHODS:
            raise ValueError(f"method={method!r} is not allowed; allowed: {', '.join(METHODS)}")
        if loads.ndim != 1 or loads.size == 0 or np.any(np.diff(loads) <= 0):
            raise ValueError("loads must be a non-empty, strictly increasing 1-d array")
        if loads[0] < 0 or loads[-1] > 1:
            raise ValueError(f"loads must lie in [0, 1], got {loads.tolist()}")
        if durations.ndim != 3 or durations.shape[0] != loads.size or 0 in durations.shape:
            raise ValueError(f"durations must have shape (len(loads)={loads.size}, rounds, "
                             f"workers), got {durations.shape}")
        if not np.all(np.isfinite(durations)) or np.any(durations < 0):
            raise ValueError("durations must be finite and >= 0")
        self.loads = loads
        self.durations = durations
        self.method = method
        self.profile = profile
        self.region = region
        self.profiles = tuple(profiles)
        self.excluded_loads = tuple(excluded_loads)
        medians = np.median(durations, axis=(1, 2))
        self._median_curve = np.maximum.accumulate(medians)  # for "shift": non-decreasing
        last = loads.size - 1
        self._tail_slope = 0.0 if last == 0 else max(
            0.0, (medians[last] - medians[last - 1]) / (loads[last] - loads[last - 1]))

    @property
    def n_rounds(self) -> int:
        return self.durations.shape[1]

    @property
    def n_workers(self) -> int:
        return self.durations.shape[2]

    @classmethod
    def from_parquet(cls, path, profile: str | None = None, region: str | None = None,
                     method: str = "quantile") -> LatencyModel:
        """Load one (profile, region) of the trace; defaults: DEFAULT_PROFILE and DEFAULT_REGION
        (or the profile's only region). A (load, round, worker) cell recorded twice keeps its
        last-started row (4 cells of resnet18_profile_est round 0); overhead-only loads are dropped
        (see OVERHEAD_ONLY_RATIO) and listed in ``excluded_loads``."""
        table = read_parquet(path, columns=list(_COLUMNS))
        cols = {name: table.column(name).to_numpy(zero_copy_only=False) for name in _COLUMNS}
        infos = _profile_infos(cols)
        profile, region = _pick(infos, profile, region)
        mask = (cols["profile"] == profile) & (cols["region"] == region)
        loads, durations = _cube({k: v[mask] for k, v in cols.items()})
        keep = _substantive_loads(loads, durations)
        excluded = [float(x) for x, k in zip(loads, keep, strict=True) if not k]
        return cls(loads[keep], durations[keep], method=method, profile=profile, region=region,
                   profiles=infos, excluded_loads=excluded)

    def times_at(self, load: float) -> np.ndarray:
        """(measured rounds, workers) seconds at normalized ``load`` in (0, MAX_LOAD]."""
        load = _check_load(load)
        if self.method == "shift":
            return self.durations[0] + (self._curve(load) - self._median_curve[0])
        loads, d = self.loads, self.durations
        if load <= loads[0]:
            return d[0].copy()
        if load >= loads[-1]:
            return d[-1] + (load - loads[-1]) * self._tail_slope
        k = int(np.searchsorted(loads, load, side="right")) - 1
        if load == loads[k]:
            return d[k].copy()
        a = (load - loads[k]) / (loads[k + 1] - loads[k])
        if self.method == "interp":
            return (1.0 - a) * d[k] + a * d[k + 1]
        return _rank_matched(d[k], d[k + 1], a)

    def round_order(self, rounds: int, rng=None) -> np.ndarray:
        """Which measured round supplies each simulated round.

        Without rng: 0, 1, ..., R-1, 0, 1, ... (cyclic, keeps the measured temporal order, so
        consecutive-round straggling is replayed as measured). With rng (a seed or a
        numpy Generator): each pass is an independent permutation of the R rounds, so every
        measured round is used equally often and seeds give independent, reproducible replays.
        To compare schemes on the same rounds, give each the same int seed, not one shared
        Generator (that would hand every scheme a different order).
        """
        if isinstance(rounds, bool) or not isinstance(rounds, int | np.integer) or rounds < 1:
            raise ValueError(f"rounds must be an integer >= 1, got {rounds!r}")
        passes = -(-int(rounds) // self.n_rounds)
        if rng is None:
            order = np.tile(np.arange(self.n_rounds), passes)
        else:
            gen = np.random.default_rng(rng)
            order = np.concatenate([gen.permutation(self.n_rounds) for _ in range(passes)])
        return order[:rounds]

    def round_times(self, load: float, rounds: int, rng=None) -> np.ndarray:
        """(rounds, n_workers) seconds per worker and round at normalized ``load``."""
        order = self.round_order(rounds, rng)
        return self.times_at(load)[order]

    def decreasing_fraction(self) -> np.ndarray:
        """Per measured-load segment, the fraction of (round, worker) cells whose measured time
        drops at the higher load: where ``interp`` is not monotone (each load is its own run)."""
        return (np.diff(self.durations, axis=0) < 0).mean(axis=(1, 2))

    def _curve(self, load: float) -> float:
        loads, curve = self.loads, self._median_curve
        if load >= loads[-1]:
            return float(curve[-1] + (load - loads[-1]) * self._tail_slope)
        return float(np.interp(load, loads, curve))


def paper_wait_rule(times_row, mu: float) -> set[int]:
    """Stragglers of one round under the study's rule: workers slower than (1 + mu) * fastest.

    (``2_find_runtimes/gradient_coding.py``: ``delay > delay.min() * (1 + mu)``, strict.)
    """
    row = _check_row(times_row)
    mu = _check_mu(mu)
    return {int(w) for w in np.flatnonzero(row > (1.0 + mu) * row.min())}


def straggler_counts(times, mu: float) -> np.ndarray:
    """Per round (row of ``times``), how many workers the paper's wait rule marks as stragglers."""
    times = np.asarray(times, dtype=float)
    if times.ndim != 2 or 0 in times.shape:
        raise ValueError(f"times must be a non-empty (rounds, workers) array, got {times.shape}")
    mu = _check_mu(mu)
    return (times > (1.0 + mu) * times.min(axis=1, keepdims=True)).sum(axis=1)


def profile_summary(model: LatencyModel, load: float, mus=(0.1, 1.0)) -> dict:
    """Numbers docs/schemes.md quotes ("What the measured traces say"), over the measured rounds
    at ``load``: median worker time, median round time when waiting for all (slowest worker),
    median stragglers per round for each mu."""
    times = model.times_at(load)
    summary = {"profile": model.profile, "region": model.region, "load": float(load),
               "median_worker_s": float(np.median(times)),
               "median_slowest_s": float(np.median(times.max(axis=1)))}
    for mu in mus:
        counts = straggler_counts(times, mu)
        summary[f"stragglers_mu{mu:g}"] = float(np.median(counts))
        summary[f"deadline_mu{mu:g}_s"] = float(np.median((1 + mu) * times.min(axis=1)))
    return summary


def _rank_matched(lower, upper, a: float) -> np.ndarray:
    """Per round, interpolate the sorted times of two runs (quantile by quantile) and hand each
    worker the value at its rank in the nearer run (lower for a < 1/2): the round's fastest,
    slowest and every order statistic move linearly in load, as in neither run's average."""
    mixed = (1.0 - a) * np.sort(lower, axis=1) + a * np.sort(upper, axis=1)
    anchor = lower if a < 0.5 else upper
    ranks = np.argsort(np.argsort(anchor, axis=1, kind="stable"), axis=1, kind="stable")
    return np.take_along_axis(mixed, ranks, axis=1)


# A worker may work on several jobs in one round (a scheme switch, a replica beside its own
# task), so its load may pass 1; beyond the measured loads times grow by the tail slope.
MAX_LOAD = 4.0


def _check_load(load) -> float:
    if isinstance(load, bool) or not isinstance(load, int | float | np.integer | np.floating):
        raise ValueError(f"load must be a number in (0, {MAX_LOAD:g}], got {load!r}")
    load = float(load)
    if not np.isfinite(load) or load <= 0 or load > MAX_LOAD:
        raise ValueError(f"load must be in (0, {MAX_LOAD:g}] (fraction of a job's data per worker "
                         f"and round; uncoded = 1/n), got {load!r}")
    return load


def _check_mu(mu) -> float:
    mu = float(mu)
    if not np.isfinite(mu) or mu < 0:
        raise ValueError(f"mu must be a finite number >= 0, got {mu!r}")
    return mu


def _check_row(times_row) -> np.ndarray:
    row = np.asarray(times_row, dtype=float)
    if row.ndim != 1 or row.size == 0 or not np.all(np.isfinite(row)):
        raise ValueError("times_row must be a non-empty 1-d array of finite seconds")
    return row


def _profile_infos(cols) -> tuple[ProfileInfo, ...]:
    infos = []
    for profile, region in sorted(set(zip(cols["profile"], cols["region"], strict=True))):
        mask = (cols["profile"] == profile) & (cols["region"] == region)
        infos.append(ProfileInfo(
            profile=str(profile), region=str(region), model=str(cols["model"][mask][0]),
            batch=int(cols["batch"][mask][0]),
            loads=tuple(float(x) for x in np.unique(cols["profile_load"][mask])),
            rounds=int(cols["round"][mask].max()) + 1,
            workers=int(cols["worker"][mask].max()) + 1))
    return tuple(infos)


def _pick(infos, profile, region) -> tuple[str, str]:
    names = sorted({i.profile for i in infos})
    profile = DEFAULT_PROFILE if profile is None else profile
    if profile not in names:
        raise ValueError(f"profile={profile!r} is not in the trace; allowed: {', '.join(names)}")
    regions = sorted(i.region for i in infos if i.profile == profile)
    if region is None:
        region = regions[0] if len(regions) == 1 or DEFAULT_REGION not in regions \
            else DEFAULT_REGION
    if region not in regions:
        raise ValueError(f"region={region!r} is not measured for profile {profile!r}; "
                         f"allowed: {', '.join(regions)}")
    return profile, region


def _cube(cols) -> tuple[np.ndarray, np.ndarray]:
    """(loads, durations[load, round, worker]) from one profile's rows; every cell must exist."""
    loads = np.unique(cols["profile_load"])
    rounds = int(cols["round"].max()) + 1
    workers = int(cols["worker"].max()) + 1
    cube = np.full((loads.size, rounds, workers), np.nan)
    cell = np.ravel_multi_index(
        (np.searchsorted(loads, cols["profile_load"]), cols["round"], cols["worker"]), cube.shape)
    order = np.argsort(cols["started"], kind="stable")[::-1]  # latest-started first
    _, first = np.unique(cell[order], return_index=True)  # so each cell keeps its last start
    rows = order[first]
    cube.flat[cell[rows]] = cols["duration_s"][rows]
    missing = np.argwhere(np.isnan(cube))
    if missing.size:
        k, r, w = missing[0]
        raise ValueError(f"trace has no duration for profile_load={loads[k]}, round={r}, "
                         f"worker={w} ({len(missing)} cells missing)")
    return loads, cube


def _substantive_loads(loads, durations) -> np.ndarray:
    """Mask of measured loads to keep: drop a load whose median is < OVERHEAD_ONLY_RATIO times the
    next load's median (that run did no gradient work, so it is not on the load curve)."""
    medians = np.median(durations, axis=(1, 2))
    keep = np.ones(loads.size, dtype=bool)
    keep[:-1] = medians[:-1] >= OVERHEAD_ONLY_RATIO * medians[1:]
    return keep
