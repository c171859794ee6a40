"""sgcflow's default: start safe, then every few jobs re-choose the configuration from the
rounds this run has observed, switching at a job boundary.

- Jobs 1..every run the safe start (fractional-repetition GC at load 1/16, GC(15) at 256
  workers: never far from the best fixed GC on any measured profile).
- The next ``probe`` jobs run GC(n - 1) (every worker computes the whole job; where that is the
  start, the family's lowest load instead), so the run has seen its workers at two far-apart
  loads: the ends of the load fit.
- From then on, every ``every`` jobs, each candidate (GC(s) for every s, replicated M-SGC for
  every q in Q_GRID on the last ``window`` observed rounds moved to its loads
  and every group size in GROUPS) is replayed on the last ``window`` observed rounds moved to
  its loads (coordinator.adaptive.evaluate), and the fastest one runs the next block.

Nothing looks ahead: a choice uses only rounds that have ended. Every job is decoded exactly
whatever the choices, because every configuration is an ordinary scheme session with an exact
decoder (coordinator.schemes.switching joins them).
"""

from __future__ import annotations

import numpy as np

from ..schemes.switching import SwitchingSession
from .evaluate import LoadFit, Shifted, gc_total, replicated_round_times
from .family import GROUPS, Q_GRID, Config, safe_start

EVERY = 20
PROBE = 2
WINDOW = 100
HYSTERESIS = 0.01  # switch only for an estimated gain of at least 1%: estimates are noisy


class OnlineChooser:
    """Picks the configuration for the next block from observed rounds."""

    def __init__(self, n: int, window: int = WINDOW, qs=Q_GRID, groups=GROUPS):
        self.n, self.window, self.qs = n, window, tuple(qs)
        self.groups = tuple(g for g in groups if n % g == 0 and g < n)
        self.fit = LoadFit(n)
        self._loads: list[np.ndarray] = []
        self._times: list[np.ndarray] = []

    def observe(self, loads: np.ndarray, times: np.ndarray) -> None:
        """One ended round: each worker's load and finish time (nan if not dispatched)."""
        dispatched = np.isfinite(times)
        if dispatched.all():
            self.fit.add(loads, times)
            self._loads.append(np.asarray(loads, dtype=float))
            self._times.append(np.asarray(times, dtype=float))

    def estimates(self) -> dict[Config, float]:
        """Seconds per round each candidate would have taken over the recent window."""
        times = np.asarray(self._times[-self.window:])
        shifted = Shifted(times, np.asarray(self._loads[-self.window:]), self.fit)
        n = self.n
        out = {}
        for s in range(n):
            at = shifted.at((s + 1) / n)
            out[Config("gc", s=s)] = gc_total(at, s) / len(times)
        for g in self.groups:
            low, high = (shifted.at(k * g / n) for k in (1, 2))
            for q in self.qs:
                out[Config("replicated", q=q, group=g)] = float(
                    replicated_round_times(low, high, q, g).mean())
        return out

    def choose(self, current: Config | None = None) -> Config:
        """The fastest candidate, unless ``current`` is within HYSTERESIS of it."""
        estimates = self.estimates()
        best = min(estimates, key=estimates.get)
        if current in estimates and estimates[current] <= (1 + HYSTERESIS) * estimates[best]:
            return current
        return best


class OnlineRun:
    """A controller for ``coordinator.round_simulator.run_rounds``: sgcflow's default over
    ``jobs``."""

    def __init__(self, n: int, jobs: int, every: int = EVERY, probe: int = PROBE,
                 window: int = WINDOW, replicated: bool = True):
        self.n, self.jobs, self.every, self.probe = n, jobs, every, probe
        # Without ``replicated`` only GC (T = 0) is chosen: a job stream that cannot overlap
        # two jobs of one model (a single model trained) has no room for T = 1.
        self.chooser = OnlineChooser(n, window, groups=GROUPS if replicated else ())
        start = safe_start(n)
        self.session = SwitchingSession(start.scheme(n), jobs,
                                        min_rounds=jobs + (1 if replicated else 0))
        self.blocks: list[tuple[int, Config]] = [(1, start)]
        self._pending = None  # the last ended round, learned when the next one ends

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
        if previous is not None:
            horizon = previous.end_s + record.end_s
            times = np.array(previous.times, dtype=float)
            if late is not None:  # live: stragglers are inf until their record landed
                times[times > previous.end_s] = np.inf
                for worker, seconds in late.items():
                    times[int(worker)] = seconds
            self.chooser.observe(previous.loads, censored(times, horizon))
        job = record.t + 1  # the job that starts in the next round
        if job > self.jobs:
            return
        config = self._next_config(job)
        if config is not None:
            self._switch(job, config)

    def _next_config(self, job: int) -> Config | None:
        probe_start = self.every + 1
        if job == probe_start:
            return self._probe()
        if job >= probe_start + self.probe and (job - probe_start - self.probe) % self.every == 0:
            return self.chooser.choose(self.config(job - 1))
        return None

    def _probe(self) -> Config:
        """A configuration at the other end of the load range from the start, so the load fit
        has two loads: GC(n - 1) (full load), or, when that is the start (n = 2), the lowest
        load the family has."""
        full = Config("gc", s=self.n - 1)
        if self.blocks[0][1] != full:
            return full
        return Config("replicated", q=0.8) if self.chooser.groups else Config("gc", s=0)

    def _switch(self, job: int, config: Config) -> None:
        current = self.config(job - 1)
        if config == current:
            return
        if not config.same_scheme(current):
            self.session.switch(job, config.scheme(self.n))
        self.blocks.append((job, config))

    def describe_blocks(self) -> list[dict]:
        return [{"first_job": first, **config.to_json()} for first, config in self.blocks]


def censored(times: np.ndarray, horizon_s: float) -> np.ndarray:
    """A round's times as the live round log keeps them: rounded to the microsecond as written;
    workers still running at ``horizon_s`` count as finishing then (an optimistic guess of the
    far tail, which the coordinator never waits to see). Not dispatched: nan."""
    times = np.round(np.asarray(times, dtype=float), 6)
    return np.where(times > horizon_s, horizon_s, times)


def resume(n: int, jobs: int, rounds, replicated: bool = True) -> OnlineRun:
    """The controller after the logged ``rounds`` [(times, end_s, stragglers[, late])]
    (``late``: the previous round's stragglers' times learned by this round's end), replayed in
    order: the choices are a pure function of the log, so a restarted coordinator (or the next
    step function) rebuilds exactly the session and blocks the run had."""
    from ..round_simulator import RoundRecord

    controller = OnlineRun(n, jobs, replicated=replicated)
    for t, (times, end_s, stragglers, *late) in enumerate(rounds, start=1):
        loads = np.asarray(controller.session.worker_loads(t), dtype=float)
        controller.session.observe(t, stragglers)
        controller.after_round(RoundRecord(t, loads, np.asarray(times, dtype=float), end_s,
                                           frozenset(stragglers), False),
                               late[0] if late else None)
    return controller
