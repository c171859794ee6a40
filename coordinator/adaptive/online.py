"""sgcflow's default: explore, then re-choose the configuration from the rounds this run has
observed, switching at a job boundary.

- Jobs 1..E explore (``family.exploration``): GC(n - 1), every worker computing the whole job
  so the first arrival ends the round (never a disaster, whatever the fleet), then GC at a
  quarter load. The load fit starts with two far-apart loads.
- Then, at jobs E + 2, E + 4, E + 8, ... and every ``Tuning.every`` jobs once blocks are that
  long, each candidate (GC(s) for every s, replicated M-SGC for every group size in GROUPS and
  every q in Q_GRID) within reach of the loads the window observed (``reachable``) is replayed
  on the last ``Tuning.window`` observed rounds moved to its loads
  (coordinator.adaptive.evaluate), and the fastest one with an estimate runs the next block.
- A choice whose rounds run well over its estimate is replaced at once (``Tuning.abort``).

Nothing looks ahead: a choice uses only rounds that have ended, learned as the live coordinator
learns them (a straggler's time only once its record landed). Every job is decoded exactly
whatever the choices, because every configuration is an ordinary scheme session with an exact
decoder (coordinator.schemes.switching joins them).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..schemes.batching import BatchedSession, Layout, batch_target
from ..schemes.switching import SwitchingSession
from .evaluate import LoadFit, Shifted, gc_total, replicated_round_times
from .family import GROUPS, Q_GRID, Config, exploration


@dataclass(frozen=True)
class Tuning:
    """The chooser's constants (``sgc bench sensitivity`` varies each one)."""

    every: int = 20  # jobs per block once blocks stopped doubling
    window: int = 100  # observed rounds a choice replays
    hysteresis: float = 0.01  # switch only for an estimated gain of 1%: estimates are noisy
    reach: float = 2.0  # candidates' loads within this factor of a load the window observed
    abort: float = 0.25  # re-choose early when a choice's rounds run this much over its estimate
    probe: float = 0.0  # a GC load never observed competes with its estimate cut by this share

    def __post_init__(self):
        for name, low in (("every", 1), ("window", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"Tuning.{name}: must be an integer >= {low}, got {value!r}")
        for name, low in (("hysteresis", 0.0), ("abort", 0.0), ("reach", 1.0), ("probe", 0.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or \
                    value != value or value < low:
                raise ValueError(f"Tuning.{name}: must be a number >= {low}, got {value!r}")


DEFAULT = Tuning()
MAX_LOAD = 64.0  # a load is gradients' worth of data per invocation: at most the models batched


@dataclass(frozen=True)
class Learned:
    """What a run's chooser knows, for another run on the same workload (same data, models and
    n: a load means the same work) to start from instead of exploring: the load fit's state
    (per observed load: the per-rank sums of its sorted rounds, how many rounds, how many ranks
    are known uncensored) and the window of rounds the next choice replays (per round every
    worker's load and time, censored at the horizon it was learned at)."""

    loads: np.ndarray  # (rounds, n): the window
    times: np.ndarray  # (rounds, n)
    horizons: np.ndarray  # (rounds,)
    fit_loads: np.ndarray  # (L,): the load fit, one row per observed load
    fit_sums: np.ndarray  # (L, n)
    fit_counts: np.ndarray  # (L,)
    fit_known: np.ndarray  # (L,)

    def __post_init__(self):
        for name in self.__dataclass_fields__:
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=float))
        rounds, n = self.loads.shape if self.loads.ndim == 2 else (-1, -1)
        shapes = {"loads": (rounds, n), "times": (rounds, n), "horizons": (rounds,),
                  "fit_loads": self.fit_loads.shape[:1], "fit_counts": self.fit_loads.shape[:1],
                  "fit_known": self.fit_loads.shape[:1],
                  "fit_sums": (len(self.fit_loads), n)}
        for name, shape in shapes.items():
            if rounds < 0 or getattr(self, name).shape != shape:
                raise ValueError(f"learned state: {name} has shape "
                                 f"{getattr(self, name).shape}, expected {shape}")
        _check("every load", self.loads, 0, MAX_LOAD)
        _check("every fit load", self.fit_loads, 0, MAX_LOAD)
        if len(np.unique(np.round(self.fit_loads, 9))) != len(self.fit_loads):
            raise ValueError("learned state: the fit's loads must be distinct")
        _check("every horizon", self.horizons, 0, np.inf, finite=False)
        _check("every time", self.times, 0, np.inf)
        if (self.times > self.horizons[:, None]).any():
            raise ValueError("learned state: every time must be at most its round's horizon")
        _check("every fit sum", self.fit_sums, 0, np.inf)
        _check("every fit count", self.fit_counts, 1, np.inf, integer=True)
        _check("every fit's known ranks", self.fit_known, 0, n, integer=True)

    @property
    def n(self) -> int:
        return self.loads.shape[1]

    def rounds(self):
        return zip(self.loads, self.times, self.horizons, strict=True)

    def to_array(self) -> np.ndarray:
        """One flat float64 array: [rounds, L, n, then every field in order, flattened]."""
        return np.concatenate([[len(self.horizons), len(self.fit_loads), self.n]] +
                              [getattr(self, name).ravel() for name in self.__dataclass_fields__])

    @classmethod
    def from_array(cls, array: np.ndarray, n: int) -> Learned:
        """The inverse of ``to_array``, checked (ValueError naming what is wrong)."""
        array = np.asarray(array)
        if array.ndim != 1 or array.dtype != np.float64 or array.size < 3:
            raise ValueError(f"learned state: expected a flat float64 array, got {array.dtype} "
                             f"{array.shape}")
        if not np.isfinite(array[:3]).all():
            raise ValueError(f"learned state: its header ({array[:3].tolist()}) is not finite")
        rounds, fits, width = array[:3]
        sizes = {"loads": rounds * n, "times": rounds * n, "horizons": rounds,
                 "fit_loads": fits, "fit_sums": fits * n, "fit_counts": fits, "fit_known": fits}
        if width != n or not all(x >= 0 and x == int(x) for x in (rounds, fits)) or \
                array.size != 3 + sum(sizes.values()):
            raise ValueError(f"learned state: its header ({array[:3].tolist()}) does not match "
                             f"{n} workers and its {array.size} values")
        parts, offset = {}, 3
        for name, size in sizes.items():
            parts[name] = array[offset:offset + int(size)]
            offset += int(size)
        rounds, fits = int(rounds), int(fits)
        return cls(parts["loads"].reshape(rounds, n), parts["times"].reshape(rounds, n),
                   parts["horizons"], parts["fit_loads"], parts["fit_sums"].reshape(fits, n),
                   parts["fit_counts"], parts["fit_known"])


def _check(what: str, values: np.ndarray, low: float, high: float, finite: bool = True,
           integer: bool = False) -> None:
    ok = ~np.isnan(values) & (values >= low) & (values <= high)
    if finite:
        ok &= np.isfinite(values)
    if integer:
        ok &= values == np.round(values)
    if not ok.all():
        kind = "an integer" if integer else "finite" if finite else "a number"
        raise ValueError(f"learned state: {what} must be {kind} in [{low:g}, {high:g}]")


class OnlineChooser:
    """Picks the configuration for the next block from observed rounds.

    Candidates are compared per gradient: a configuration's rounds, each carrying ``batch(c)``
    gradients, at the load that batch costs (M models in flight: coordinator.schemes.batching).
    """

    def __init__(self, n: int, tuning: Tuning = DEFAULT, qs=Q_GRID, groups=GROUPS,
                 batches: dict[str, int] | None = None):
        self.n, self.tuning, self.qs = n, tuning, tuple(qs)
        self.groups = tuple(g for g in groups if n % g == 0 and g < n)
        self.batches = batches or {"gc": 1, "replicated": 1}
        self.fit = LoadFit(n)
        self._loads: list[np.ndarray] = []
        self._times: list[np.ndarray] = []
        self._horizons: list[float] = []

    def learned(self) -> Learned:
        """Everything the next choice depends on, for a later run on the same workload to choose
        as this one would now (``OnlineRun(prior=...)``, ``start_from``): the load fit's state
        and the last ``tuning.window`` rounds."""
        window, n = self.tuning.window, self.n
        return Learned(np.asarray(self._loads[-window:]).reshape(-1, n),
                       np.asarray(self._times[-window:]).reshape(-1, n),
                       np.asarray(self._horizons[-window:], dtype=float), *self.fit.state())

    def start_from(self, learned: Learned) -> None:
        """Take over ``learned`` (before any round of this run): the fit as it was, the window's
        rounds as the recent ones (they are in the fit already)."""
        if learned.n != self.n:
            raise ValueError(f"prior: learned on {learned.n} workers, this run has {self.n}")
        self.fit.restore(learned.fit_loads, learned.fit_sums, learned.fit_counts,
                         learned.fit_known)
        for loads, times, horizon in learned.rounds():
            self._loads.append(loads.copy())
            self._times.append(times.copy())
            self._horizons.append(float(horizon))

    def batch(self, config: Config) -> int:
        return self.batches[config.kind]

    def observe(self, loads: np.ndarray, times: np.ndarray,
                horizon_s: float = np.inf) -> None:
        """One ended round: each worker's load and finish time (nan if not dispatched; at or
        above ``horizon_s``: still running when the round was learned)."""
        dispatched = np.isfinite(times)
        if dispatched.all():
            self.fit.add(loads, times, horizon_s)
            self._loads.append(np.asarray(loads, dtype=float))
            self._times.append(np.asarray(times, dtype=float))
            self._horizons.append(float(horizon_s))

    def estimates(self) -> dict[Config, float]:
        """Seconds per gradient each candidate within reach (``reachable``) would have taken
        over the recent window (none before a round with every worker dispatched was
        learned)."""
        if not self._times:
            return {}
        window = self.tuning.window
        loads = np.asarray(self._loads[-window:])
        times = np.asarray(self._times[-window:])
        shifted = Shifted(times, loads, self.fit, self._horizons[-window:])
        seen = shifted.round_loads
        n, out = self.n, {}
        b = self.batches["gc"]
        observed = set(np.round(seen, 9).tolist())
        for s in range(n):
            load = b * (s + 1) / n
            if reachable((load,), seen, self.tuning.reach):
                optimism = 1.0 if round(load, 9) in observed else 1.0 - self.tuning.probe
                out[Config("gc", s=s)] = optimism * gc_total(shifted.at(load), s) / len(times) / b
        b = self.batches["replicated"]
        for g in self.groups:
            if not b or not reachable((b * g / n, 2 * b * g / n), seen, self.tuning.reach):
                continue
            low, high = (shifted.at(k * b * g / n) for k in (1, 2))
            seen_both = all(round(k * b * g / n, 9) in observed for k in (1, 2))
            optimism = 1.0 if seen_both else 1.0 - self.tuning.probe
            for q in self.qs:
                out[Config("replicated", q=q, group=g)] = optimism * float(
                    replicated_round_times(low, high, q, g).mean()) / b
        return out

    def choose(self, current: Config | None = None) -> tuple[Config, float | None]:
        """The fastest candidate with an estimate, unless ``current`` is within the hysteresis of
        it; with the choice's estimate (seconds per round; None: nothing estimable)."""
        estimates = {c: x for c, x in self.estimates().items() if np.isfinite(x)}
        if not estimates:
            return current, None
        best = min(estimates, key=estimates.get)
        margin = 1 + self.tuning.hysteresis
        chosen = current if current in estimates and \
            estimates[current] <= margin * estimates[best] else best
        return chosen, estimates[chosen] * self.batch(chosen)


class OnlineRun:
    """A controller for ``coordinator.replay.round_simulator.run_rounds``: sgcflow's default over
    ``jobs`` gradients of ``models`` models (1: unrelated gradients, the paper's setting).

    Blocks are counted in scheme jobs (batches, one starting per round); with M models a GC
    batch carries all M gradients, a replicated one floor(M / 2) (``family``)."""

    def __init__(self, n: int, jobs: int, replicated: bool = True, tuning: Tuning = DEFAULT,
                 models: int = 1, batched: bool = True, prior: Learned | None = None):
        """``models == 1`` in simulation: unrelated gradients (the paper's setting); in a live
        job one model's iterations (``replicated=False``). ``batched=False``: one gradient per
        invocation whatever the models."""
        self.n, self.tuning, self.models = n, tuning, models
        independent = models == 1 and replicated
        # Without ``replicated`` only GC (T = 0) is chosen: a job stream that cannot overlap
        # two jobs of one model (a single model trained) has no room for T = 1.
        self.batches = {"gc": batch_target(models, 0), "replicated": batch_target(models, 1)}
        if independent or not batched:
            self.batches = {"gc": 1, "replicated": 1 if models != 1 or independent else 0}
        replicated = replicated and self.batches["replicated"] > 0
        self.chooser = OnlineChooser(n, tuning, groups=GROUPS if replicated else (),
                                     batches=self.batches)
        self.explore = exploration(n, self.batches["gc"])
        self.predicted_s: float | None = None  # the running choice's estimate, per round
        start = self.explore[0]
        if prior is not None:
            self.chooser.start_from(prior)
            if self.chooser.fit.distinct_loads >= 2:
                chosen, self.predicted_s = self.chooser.choose()
                if chosen is not None:
                    start, self.explore = chosen, []
        self.layout = Layout(jobs, models, independent=independent)
        count = self.layout.replan(1, start.T, self.batches[start.kind])
        spare = 1 if replicated and independent else 0  # a later T = 1 job needs one more round
        inner = SwitchingSession(start.scheme(n), count, min_rounds=count + spare)
        self.session = inner if independent else BatchedSession(inner, self.layout)
        self.switching = inner
        self.blocks: list[tuple[int, Config]] = [(1, start)]
        self._ends: dict[int, float] = {}  # each ended round's seconds
        self._pending = None  # the last ended round, learned when the next one ends

    @property
    def jobs(self) -> int:
        """Scheme jobs (batches) the run now has: re-cut when a choice changes the batch."""
        return self.switching.jobs

    def config(self, job: int) -> Config:
        return [c for first, c in self.blocks if first <= job][-1]

    def policy(self, t: int):
        return self.config(min(t, self.jobs)).policy()

    def after_round(self, record, late: dict[int, float] | None = None) -> None:
        """Learn from ended rounds; maybe switch for the job that starts next.

        A round is learned one round late, as the live coordinator learns it: a straggler keeps
        running after its round ends and its completion record lands later, so by the end of
        round t the coordinator knows round t - 1's workers that finished by then (``late``:
        {worker: seconds after round t - 1's dispatch}; without it, taken from
        ``record.times`` up to that horizon) and counts the rest as finishing at the horizon.
        """
        previous, self._pending = self._pending, record
        if not record.cold:  # a round slowed by cold starts says nothing about the estimate
            self._ends[record.t] = float(record.end_s)
        if previous is not None:
            horizon = round(previous.end_s + record.end_s, 6)  # as the log writes times
            times = np.array(previous.times, dtype=float)
            if late is not None:  # live: stragglers are inf until their record landed
                times[sorted(previous.stragglers)] = np.inf
                for worker, seconds in late.items():
                    times[int(worker)] = seconds
            self.chooser.observe(previous.loads, warm(censored(times, horizon), horizon,
                                                      previous.cold), horizon)
        job = record.t + 1  # the job that starts in the next round
        if job > self.jobs:
            return
        config = self._next_config(job)
        if config is not None:
            self._switch(job, config)

    def _next_config(self, job: int) -> Config | None:
        """Jobs 1..E explore (``exploration``); then a choice at E + 2, E + 4, E + 8, ...
        (each block twice the last, while data is scarce) up to every ``tuning.every`` jobs; between
        choices, an early one when the running block disappoints (``_disappointing``)."""
        explored = len(self.explore)
        if job <= explored:
            return self.explore[job - 1]
        if self._scheduled(job - explored) or self._disappointing(job):
            return self._choose(job)
        return None

    def _scheduled(self, offset: int) -> bool:
        step = 2
        every = self.tuning.every
        while step < every:
            if offset == step:
                return True
            step *= 2
        return offset >= step and (offset - step) % every == 0

    def _disappointing(self, job: int) -> bool:
        """The running choice's ended rounds (at least 2 past its first) average more than
        ``tuning.abort`` above the estimate it was chosen on: the estimate was wrong (a load the fit
        extrapolated to, a tail it could not see), so choose again now rather than at the
        block's end."""
        if self.predicted_s is None:
            return False
        first = self.blocks[-1][0]  # its first round also finishes the last block's redo
        ends = [self._ends[t] for t in range(first + 1, job) if t in self._ends]
        limit = (1 + self.tuning.abort) * self.predicted_s
        return len(ends) >= 2 and float(np.mean(ends)) > limit

    def _choose(self, job: int) -> Config:
        config, self.predicted_s = self.chooser.choose(self.config(job - 1))
        return config

    def _switch(self, job: int, config: Config) -> None:
        current = self.config(job - 1)
        if config == current:
            return
        if not config.same_scheme(current):
            count = self.layout.replan(job, config.T, self.batches[config.kind])
            self.switching.switch(job, config.scheme(self.n), jobs=job - 1 + count)
        self.blocks.append((job, config))

    def batch_sizes(self) -> list[int]:
        """Gradients per scheme job, in order (all 1 for unrelated gradients)."""
        return [len(self.layout.real_jobs(g)) for g in range(1, self.layout.batches + 1)]

    def describe_blocks(self) -> list[dict]:
        return [{"first_job": first, **config.to_json()} for first, config in self.blocks]


def reachable(loads, seen: np.ndarray, reach: float = DEFAULT.reach) -> bool:
    """Whether a load of a candidate (GC: its one load; replicated M-SGC: its own share or the
    doubled one it runs at while recovering) is within a factor ``reach`` of a load the window
    observed. Farther away the load fit extrapolates, and measured Lambda times need not even
    be monotone in load (each load its own fleet of warm and cold containers): a candidate is
    judged only near what the run has seen, so the choice moves through the loads a block at
    a time and learns each step before the next."""
    if not len(seen):
        return False
    return any(np.min(np.abs(np.log(load / seen))) <= np.log(reach) + 1e-9 for load in loads)


def censored(times: np.ndarray, horizon_s: float) -> np.ndarray:
    """A round's times as the live round log keeps them: rounded to the microsecond as written;
    workers still running at ``horizon_s`` count as finishing then (an optimistic guess of the
    far tail, which the coordinator never waits to see). Not dispatched: nan."""
    times = np.round(np.asarray(times, dtype=float), 6)
    return np.where(times > horizon_s, horizon_s, times)


def warm(times: np.ndarray, horizon_s: float, cold: dict) -> np.ndarray:
    """A learned round's times without the cold starts its workers reported: a cold start
    depends on how many invocations the fleet already had in flight, not on the load, so the
    load fit learns warm times (still-running workers stay at the horizon, unknown)."""
    times = times.copy()
    for worker, seconds in cold.items():
        if times[int(worker)] < horizon_s:
            times[int(worker)] -= seconds
    return times


def resume(n: int, jobs: int, rounds, replicated: bool = True, models: int = 1) -> OnlineRun:
    """The controller after the logged ``rounds``: each a ``RoundRecord`` of an ended round
    (its times, end, stragglers, counted late results and cold starts), or (record, late) with
    ``late`` the previous round's stragglers' times learned by its end. Replayed in order: the
    choices are a pure function of the log, so a restarted coordinator (or the next step
    function) rebuilds exactly the session and blocks the run had."""
    controller = OnlineRun(n, jobs, replicated=replicated, models=models)
    for row in rounds:
        record, late = row if isinstance(row, tuple) else (row, None)
        controller.session.observe(record.t, record.stragglers, list(record.late))
        loads = np.asarray(controller.session.worker_loads(record.t), dtype=float)
        controller.after_round(replace(record, loads=loads), late)
    return controller
