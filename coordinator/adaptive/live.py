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
from .online import Learned, OnlineRun

NAME = "sgcflow"


class SgcflowScheme:
    """What a job spec's ``sgcflow`` scheme is before any round ran: n equal partitions, delay
    at most 1 (0 when only GC may be chosen: one model), the load of its first job: GC at
    load 1 (one whole gradient's worth per worker), which the spec check budgets (any later
    choice may be that again). With M models and ``batch``, every configuration runs
    batched (coordinator.adaptive.family)."""

    name = NAME
    params: dict = {}

    def __init__(self, n: int, models: int = 1, batch: bool = True):
        self.n, self.models, self.batch = n, models, batch
        self.replicated = models >= 2
        self._start = safe_start(n, models if batch else 1).scheme(n)

    @property
    def T(self) -> int:
        return 1 if self.replicated else 0

    @property
    def load(self) -> float:
        return self._start.load * (self.models if self.batch else 1)

    @property
    def model(self):
        return self._start.model

    def controller(self, jobs: int, prior: Learned | None = None) -> OnlineRun:
        """``prior``: an earlier job's learned rounds to start from (``scheme.learn_from``)."""
        return OnlineRun(self.n, jobs, replicated=self.replicated, models=self.models,
                         batched=self.batch, prior=prior)

    def session(self, jobs: int):
        return self.controller(jobs).session

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
                 models: int = 1, batch: bool = True, hard_limit_s: float | None = None,
                 prior: Learned | None = None):
        self.n, self.hard_limit_s = n, hard_limit_s
        self.controller = SgcflowScheme(n, models, batch).controller(jobs, prior)
        for t, (dispatched, collected) in enumerate(logged, start=1):
            self.controller.session.observe(t, collected["stragglers"], landed(collected))
            self.after_round(t, dispatched, collected)

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
        return self.controller.config(min(t, self.controller.jobs)).policy(**limits)

    def describe(self, t: int) -> str:
        """The configuration round t's newest job runs under (for the round log)."""
        return self.controller.config(min(t, self.controller.jobs)).describe()

    def after_round(self, t: int, dispatched: Iterable[int], collected: dict) -> None:
        """Round t ended (already observed by the session): learn, maybe switch for t + 1.
        ``collected["late_previous"]``: round t - 1's stragglers that finished by now;
        ``collected["cold"]``: the workers whose task cold-started, with the seconds."""
        late = {int(w): float(x) for w, x in collected.get("late_previous", {}).items()}
        cold = {int(w): float(x) for w, x in collected.get("cold", {}).items()}
        times = round_times(self.n, dispatched, collected.get("arrivals", {}))
        loads = np.asarray(self.session.worker_loads(t), dtype=float)
        record = RoundRecord(t, loads, times, float(collected["elapsed_s"]),
                             frozenset(collected["stragglers"]), False, cold=cold)
        self.controller.after_round(record, late)


def landed(collected: dict) -> list[tuple[int, int]]:
    """The late results a collect record counted, as (round, worker)."""
    return [tuple(int(x) for x in key.split(":")) for key in collected.get("late", {})]
