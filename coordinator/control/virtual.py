"""Emulation on the virtual clock: what each round's workers take, as the simulator has it.

A replayed trace gives every worker's time in every round; the simulator's ``Fleet`` adds a
cold start where a task finds no warm environment (its worker still busy with an earlier
round, the pool full), and a straggler's result lands when its invocation ends, seconds into
some later round. The live run uses the very same objects (``coordinator.replay``), so it makes
the simulator's decisions: rounds follow each other without a gap on the virtual clock, and the
state (the fleet's in-flight invocations, its random draws) is rebuilt from the round log on
resume by replaying the logged rounds in order.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from coordinator.replay.fleet import Fleet

# (round t, per-worker loads) -> per-worker seconds before any cold start (nan: idle)
BaseTimes = Callable[[int, np.ndarray], np.ndarray]


class VirtualTimeline:
    """Rounds on the virtual clock: each one's start, its workers' times and cold starts."""

    def __init__(self, base: BaseTimes, fleet: Fleet | None):
        self.base, self.fleet = base, fleet
        self.starts: dict[int, float] = {1: 0.0}
        self._times: dict[int, np.ndarray] = {}
        self.cold: dict[int, dict[int, float]] = {}

    def times(self, t: int, session) -> np.ndarray:
        """Round t's per-worker seconds (cold starts included); computed once per round."""
        if t not in self._times:
            loads = np.asarray(session.worker_loads(t), dtype=float)
            times = np.array(self.base(t, loads), dtype=float)
            workers = np.flatnonzero(loads > 0)
            self.cold[t] = {}
            if self.fleet is not None and len(workers):
                times[workers], self.cold[t] = self.fleet.dispatch(
                    t, self.starts[t], workers, times[workers])
            self._times[t] = times
        return self._times[t]

    def ended(self, t: int, elapsed_s: float) -> None:
        """Round t ended ``elapsed_s`` after its dispatch: round t + 1 starts then."""
        self.starts[t + 1] = self.starts[t] + float(elapsed_s)

    def landing(self, r: int, worker: int, t: int) -> float:
        """Seconds after round t's dispatch that round r's result of ``worker`` lands."""
        return max(0.0, self.starts[r] + float(self._times[r][worker]) - self.starts[t])

    def replay(self, session, elapsed: list[float]) -> None:
        """Rebuild the state after the logged rounds (``elapsed[r - 1]``: round r's end)."""
        for t, seconds in enumerate(elapsed, start=1):
            self.times(t, session)
            self.ended(t, seconds)
