"""One session across parameter changes: jobs 1..k under one scheme, k+1.. under the next.

sgcflow re-chooses its scheme every few jobs (coordinator.adaptive). A switch happens at a job
boundary: the running segment keeps finishing its own jobs (a T > 0 scheme still redoes their
lost shares in the rounds after the switch) while the next segment's jobs start, so a worker
may work for both in one round (on different jobs: still one result per worker and job). All
segments share one partitioning of the data (checked), so nothing is re-partitioned.

The object keeps the session contract (``tasks``, ``observe``, ``decoded``, ``late``,
``would_be_late``, ``partitions``, ``partition_sizes``, ``worker_loads``) with global round and
job numbers; each segment is an ordinary session with local numbers (segment round 1 = the
global round of its first job).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .components import ResultKey


@dataclass
class Segment:
    first_job: int  # global number of the segment's job 1 (its round 1 is the same global round)
    scheme: object
    session: object

    @property
    def offset(self) -> int:
        return self.first_job - 1

    def local_round(self, t: int) -> int | None:
        local = t - self.offset
        return local if 1 <= local <= self.session.rounds else None


class SwitchingSession:
    """A run of ``jobs`` jobs that starts under ``scheme`` and may ``switch`` at job boundaries."""

    def __init__(self, scheme, jobs: int, min_rounds: int = 0):
        """``min_rounds``: plan at least this many rounds (a run whose later schemes may have
        T > 0 fixes its length up front; rounds with nothing left to do end at once)."""
        self.n = scheme.n
        self.jobs = jobs
        self.min_rounds = min_rounds
        self.segments = [Segment(1, scheme, scheme.session(jobs))]
        self._observed = 0
        self._late: dict[int, frozenset[tuple[int, int]]] = {}

    # --- switching -------------------------------------------------------------------------
    @property
    def scheme(self):
        """The newest segment's scheme (its model, T and load describe the jobs starting now)."""
        return self.segments[-1].scheme

    @property
    def T(self) -> int:
        return max(segment.scheme.T for segment in self.segments)

    @property
    def rounds(self) -> int:
        return max(self.min_rounds,
                   *(segment.offset + segment.session.rounds for segment in self.segments))

    def switch(self, first_job: int, scheme, jobs: int | None = None) -> None:
        """Jobs ``first_job``.. run under ``scheme``; call before round ``first_job`` is planned.
        ``jobs``: the run's new total (a batched run re-cut its gradients into more or fewer
        scheme jobs, coordinator.schemes.batching); default unchanged."""
        current = self.segments[-1]
        if not current.first_job < first_job <= self.jobs:
            raise ValueError(f"first_job must be in ({current.first_job}, {self.jobs}], "
                             f"got {first_job}")
        if jobs is not None:
            if jobs < first_job:
                raise ValueError(f"jobs must be >= first_job {first_job}, got {jobs}")
            self.jobs = jobs
        if self._observed >= first_job:
            raise ValueError(f"round {first_job} was already observed: switch before it")
        if scheme.session(1).partition_sizes != current.session.partition_sizes:
            raise ValueError(f"{scheme.describe()} partitions the data differently from "
                             f"{current.scheme.describe()}: they cannot share a run")
        _truncate(current.session, first_job - current.first_job)
        self.segments.append(Segment(first_job, scheme,
                                     scheme.session(self.jobs - first_job + 1)))

    # --- the session contract ----------------------------------------------------------------
    @property
    def partition_sizes(self) -> list[float]:
        return self.segments[0].session.partition_sizes

    @property
    def partitions(self) -> int:
        return len(self.partition_sizes)

    @property
    def observed_rounds(self) -> int:
        return self._observed

    def plan(self, t: int) -> list[list[tuple]]:
        merged = [[] for _ in range(self.n)]
        for segment, local in self._active(t):
            for worker, minitasks in enumerate(segment.session.plan(local)):
                merged[worker].extend((job + segment.offset, component, row)
                                      for job, component, row in minitasks)
        return merged

    def tasks(self, t: int) -> list[dict[int, dict[int, float]]]:
        merged = [{} for _ in range(self.n)]
        for segment, local in self._active(t):
            for worker, tasks in enumerate(segment.session.tasks(local)):
                merged[worker].update({job + segment.offset: task for job, task in tasks.items()})
        return merged

    def worker_loads(self, t: int) -> list[float]:
        loads = [0.0] * self.n
        for segment, local in self._active(t):
            for worker, load in enumerate(segment.session.worker_loads(local)):
                loads[worker] += load
        return loads

    def observe(self, t: int, stragglers: Iterable[int],
                late: Iterable[tuple[int, int]] = ()) -> None:
        stragglers, late = frozenset(stragglers), frozenset(late)
        if t <= self._observed:
            for segment, local in self._active(t):  # same sets: no-op, else raises
                segment.session.observe(local, stragglers, _local(segment, late))
            return
        if t != self._observed + 1:
            raise ValueError(f"round must be {self._observed + 1} (rounds are observed in order), "
                             f"got {t}")
        for segment, local in self._active(t):
            segment.session.observe(local, stragglers, _local(segment, late))
        self._late[t] = late
        self._observed = t

    def decoded(self, t: int) -> dict[int, dict[ResultKey, float]]:
        if t > self._observed:
            raise ValueError(f"round {t} has not been observed yet")
        return {job: weights for segment, local in self._active(t)
                for job, weights in _globalize(segment, segment.session.decoded(local)).items()}

    def late(self, t: int) -> dict[int, str]:
        return {job + segment.offset: why for segment, local in self._active_or_done(t)
                for job, why in segment.session.late(local).items()}

    def would_be_late(self, t: int, stragglers: Iterable[int],
                      late: Iterable[tuple[int, int]] = ()) -> set[int]:
        stragglers, late = frozenset(stragglers), frozenset(late)
        return {job + segment.offset for segment, local in self._active(t)
                for job in segment.session.would_be_late(local, stragglers,
                                                         _local(segment, late))}

    def late_results(self, t: int) -> frozenset[tuple[int, int]]:
        return self._late[t]

    def useful(self, t: int, r: int, worker: int) -> bool:
        return any(segment.session.useful(local, r - segment.offset, worker)
                   for segment, local in self._active(t) if r > segment.offset)

    def weights(self, job: int):
        segment = self._segment_of(job)
        weights = segment.session.weights(job - segment.offset)
        return None if weights is None else _globalize(segment, {0: weights})[0]

    # --- internals ---------------------------------------------------------------------------
    def _active(self, t: int):
        for segment in self.segments:
            local = segment.local_round(t)
            if local is not None:
                yield segment, local

    def _active_or_done(self, t: int):
        for segment in self.segments:
            local = t - segment.offset
            if local >= 1:
                yield segment, min(local, segment.session.observed_rounds)

    def _segment_of(self, job: int) -> Segment:
        return [s for s in self.segments if s.first_job <= job][-1]


def _globalize(segment: Segment, decoded: dict) -> dict:
    o = segment.offset
    return {job + o: {(r + o, w, j + o): a for (r, w, j), a in weights.items()}
            for job, weights in decoded.items()}


def _local(segment: Segment, late: frozenset[tuple[int, int]]) -> frozenset[tuple[int, int]]:
    """The late results of rounds the segment ran, in its own round numbers."""
    o = segment.offset
    return frozenset((r - o, w) for r, w in late if r > o)


def _truncate(session, jobs: int) -> None:
    """End ``session`` after its job ``jobs``: later rounds only finish those jobs."""
    planned = max(session._plans, default=0)
    if any(job > jobs for t in session._plans for tasks in session._plans[t]
           for job, _, _ in tasks):
        raise ValueError(f"jobs after {jobs} were already planned (rounds up to {planned})")
    session.jobs, session.rounds = jobs, jobs + session.T
