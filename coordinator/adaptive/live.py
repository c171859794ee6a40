"""sgcflow in the live coordinator: a job spec's ``scheme: {name: sgcflow}``, rebuilt from the
round log.

The online controller's choices are a pure function of the rounds it has seen (``resume``), so
the coordinator keeps nothing beyond its round log: any step, retried or in a new execution,
replays the logged rounds and holds exactly the session and blocks the run had. A round as the
log records it (the collect record): which workers were dispatched, who arrived when (seconds
after dispatch, as written), the stragglers and the round's end. Workers still running when the
round ended have no time in their own round's record: the next round's record holds those that
finished by its end (``late_previous``), and the rest count as finishing then.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from coordinator.replay.round_simulator import RoundRecord

from .family import safe_start
from .online import OnlineRun, resume

NAME = "sgcflow"


class SgcflowScheme:
    """What a job spec's ``sgcflow`` scheme is before any round ran: n equal partitions, delay
    at most 1 (0 when only GC may be chosen), the load of its first job: GC(n - 1), the whole
    job per worker, which the spec check budgets (any later choice may be that again)."""

    name = NAME
    params: dict = {}

    def __init__(self, n: int, replicated: bool = True):
        self.n, self.replicated = n, replicated
        self._start = safe_start(n).scheme(n)

    @property
    def T(self) -> int:
        return 1 if self.replicated else 0

    @property
    def load(self) -> float:
        return self._start.load

    @property
    def model(self):
        return self._start.model

    def session(self, jobs: int):
        return OnlineRun(self.n, jobs, replicated=self.replicated).session

    def describe(self) -> str:
        return NAME


def round_times(n: int, dispatched: Iterable[int], arrivals: Mapping) -> np.ndarray:
    """A logged round as the controller reads it: nan for workers not dispatched, the logged
    arrival for those that arrived, inf for the rest (still running at the end)."""
    times = np.full(n, np.nan)
    times[list(dispatched)] = np.inf
    for worker, seconds in arrivals.items():
        times[int(worker)] = float(seconds)
    return times


class LiveOnline:
    """The controller of a live sgcflow run, from its logged rounds onwards."""

    def __init__(self, n: int, jobs: int, logged: list[tuple[Iterable[int], dict]],
                 replicated: bool = True, hard_limit_s: float | None = None):
        self.n, self.jobs, self.hard_limit_s = n, jobs, hard_limit_s
        self.controller = resume(n, jobs, [self._row(d, c) for d, c in logged], replicated)

    @classmethod
    def from_log(cls, n: int, jobs: int, entries: list[dict], **options) -> LiveOnline:
        """From the round log's entries (each with its ``dispatch`` and ``collect`` record)."""
        return cls(n, jobs, [(e["dispatch"]["workers"], e["collect"]) for e in entries],
                   **options)

    @property
    def session(self):
        return self.controller.session

    def policy(self, t: int):
        """Round t's policy: the current block's, with the job spec's hard limit."""
        limits = {} if self.hard_limit_s is None else {"hard_limit_s": self.hard_limit_s}
        return self.controller.config(min(t, self.jobs)).policy(**limits)

    def describe(self, t: int) -> str:
        """The configuration round t's newest job runs under (for the round log)."""
        return self.controller.config(min(t, self.jobs)).describe()

    def after_round(self, t: int, dispatched: Iterable[int], collected: dict) -> None:
        """Round t ended (already observed by the session): learn, maybe switch for t + 1.
        ``collected["late_previous"]``: round t - 1's stragglers that finished by now."""
        times, end_s, stragglers, late = self._row(dispatched, collected)
        loads = np.asarray(self.session.worker_loads(t), dtype=float)
        self.controller.after_round(RoundRecord(t, loads, times, end_s, stragglers, False), late)

    def _row(self, dispatched, collected: dict):
        late = {int(w): float(x) for w, x in collected.get("late_previous", {}).items()}
        return (round_times(self.n, dispatched, collected.get("arrivals", {})),
                float(collected["elapsed_s"]), frozenset(collected["stragglers"]), late)
