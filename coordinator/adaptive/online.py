"""sgcflow's default: start safe, then every few jobs re-choose the configuration from the
rounds this run has observed, switching at a job boundary.

- Jobs 1..every run ``SAFE_START`` (fractional-repetition GC(15): never far from the best
  fixed GC on any measured profile; groups of n below 16 workers).
- The next ``probe`` jobs run GC(n - 1) (every worker computes the whole job; with n <= 16
  workers, where that is the start, the family's lowest load instead), so the run has seen its
  workers at two far-apart loads: the ends of the load fit.
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
    """A controller for ``coordinator.simulate.run_rounds``: sgcflow's default over ``jobs``."""

    def __init__(self, n: int, jobs: int, every: int = EVERY, probe: int = PROBE,
                 window: int = WINDOW, replicated: bool = True):
        self.n, self.jobs, self.every, self.probe = n, jobs, every, probe
        # Without ``replicated`` only GC (T = 0) is chosen: a job stream that cannot overlap
        # two jobs of one model (a single model trained) has no room for T = 1.
        self.chooser = OnlineChooser(n, window, groups=GROUPS if replicated else ())
        start = safe_start(n)
        self.session = SwitchingSession(start.scheme(n), jobs)
        self.blocks: list[tuple[int, Config]] = [(1, start)]

    def config(self, job: int) -> Config:
        return [c for first, c in self.blocks if first <= job][-1]

    def policy(self, t: int):
        return self.config(min(t, self.jobs)).policy()

    def after_round(self, record) -> None:
        """Learn from an ended round; maybe switch for the job that starts next.

        ``record.times``: each worker's finish time, nan if not dispatched, inf if it was still
        running when the round ended (the live coordinator does not wait for stragglers; they
        count as finishing at the round's end, an optimistic guess about the tail)."""
        times = np.where(np.isposinf(record.times), record.end_s, record.times)
        self.chooser.observe(record.loads, times)
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
        has two loads: GC(n - 1) (full load), or, when that is the start (n <= 16), the lowest
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


def resume(n: int, jobs: int, rounds, replicated: bool = True) -> OnlineRun:
    """The controller after the logged ``rounds`` [(times, end_s, stragglers)], replayed in
    order: the choices are a pure function of the log, so a restarted coordinator (or the
    next step function) rebuilds exactly the session and blocks the run had."""
    from ..simulate import RoundRecord

    controller = OnlineRun(n, jobs, replicated=replicated)
    for t, (times, end_s, stragglers) in enumerate(rounds, start=1):
        loads = np.asarray(controller.session.worker_loads(t), dtype=float)
        controller.session.observe(t, stragglers)
        controller.after_round(RoundRecord(t, loads, np.asarray(times, dtype=float), end_s,
                                           frozenset(stragglers), False))
    return controller
