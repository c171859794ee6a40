"""The round-by-round bookkeeping every scheme shares: tasks out, arrivals in, decode weights.

A scheme says only two things (see ``Session`` subclasses): which components a job has, and
which (job, component) mini-tasks each worker runs in round t given what arrived before. This
class does the rest: the contract's ``tasks``, ``observe``, ``decoded``, ``late`` and
``would_be_late``, identically for every scheme, so the simulator, the emulator and the cloud
coordinator share one decoding path.

Invariant (tested exhaustively for small n): whenever the straggler pattern is inside the
scheme's model, every job j is decodable after round j + T, and the weights reproduce
sum_p g_p(j) exactly; outside it, a job is reported late and never decoded wrongly.

Late results: Lambda runs every invocation to its end, so a round-r straggler's result may still
land in a later round t. ``observe(t, stragglers, late=[(r, w), ...])`` counts it for every job
it serves that is not decoded yet and whose deadline has not passed (t <= j + T): a scheme with
delay T >= 1 gets its stragglers' work back for free. Its weights name the round it was computed
in (``(r, w, job)``), which is where its result lies.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from numbers import Integral

from coordinator.schemes.params import require_int

from .components import Component, ResultKey

# (job, component, row): the worker computes ``row``'s share of the component. The row is the
# worker itself except for a *replica*: another worker's lost share, recomputed so that the
# first copy to arrive can stand in for it (replicated redo).
MiniTask = tuple[int, Component, int]


class Session(ABC):
    """A run of ``jobs`` jobs through a scheme; rounds and jobs numbered from 1."""

    def __init__(self, scheme, jobs: int):
        self.scheme = scheme
        self.n, self.T = scheme.n, scheme.T
        self.jobs = require_int("jobs", jobs, 1)
        self.rounds = self.jobs + self.T
        self._plans: dict[int, list[list[MiniTask]]] = {}
        self._stragglers: dict[int, frozenset[int]] = {}
        # job -> component -> {row: (first round it arrived, the worker that delivered it)}
        self._arrivals: dict[int, dict[Component, dict[int, tuple[int, int]]]] = {}
        self._weights: dict[int, dict[ResultKey, float]] = {}
        self._decoded_in: dict[int, dict[int, dict[ResultKey, float]]] = {}
        self._late: dict[int, frozenset[tuple[int, int]]] = {}  # round -> late results counted
        self._late_round: dict[tuple[int, int], int] = {}  # late result -> round it counted in

    # --- what a scheme defines -------------------------------------------------------------
    @property
    @abstractmethod
    def partition_sizes(self) -> list[float]:
        """Fraction of a job's data in each partition (k entries summing to 1)."""

    @abstractmethod
    def components(self, job: int) -> list[Component]:
        """The components whose sums add up to job's gradient."""

    @abstractmethod
    def _plan(self, t: int) -> list[list[tuple]]:
        """Per worker, round t's (job, component) mini-tasks, or (job, component, row) for a
        replica of another row; may read arrivals up to round t - 1."""

    # --- the contract ----------------------------------------------------------------------
    @property
    def partitions(self) -> int:
        return len(self.partition_sizes)

    def tasks(self, t: int) -> list[dict[int, dict[int, float]]]:
        """Per worker: {job: {partition: coefficient}} for round t."""
        return [{job: component.coefficients(row)
                 for job, (component, row) in one_task_per_job(minitasks).items()}
                for minitasks in self.plan(t)]

    def worker_loads(self, t: int) -> list[float]:
        """Per worker, the fraction of one job's data it processes in round t (its real load:
        idle slots cost nothing, replicas cost what they compute)."""
        sizes = self.partition_sizes
        return [sum(component.share(row, sizes)
                    for component, row in one_task_per_job(minitasks).values())
                for minitasks in self.plan(t)]

    def plan(self, t: int) -> list[list[MiniTask]]:
        """Round t's mini-tasks per worker (cached: a round's plan never changes once made)."""
        self._check_round(t)
        if t not in self._plans:
            if t > 1 and (t - 1) not in self._stragglers:
                raise ValueError(f"round {t - 1} must be observed before planning round {t}")
            self._plans[t] = [[_with_row(minitask, worker) for minitask in minitasks]
                              for worker, minitasks in enumerate(self._plan(t))]
        return self._plans[t]

    def observe(self, t: int, stragglers: Iterable[int],
                late: Iterable[tuple[int, int]] = ()) -> None:
        """Record round t's stragglers (workers whose round-t results did not arrive) and the
        ``late`` results, (round r < t, worker), of earlier stragglers that landed by its end.

        Rounds are observed in order; observing a round again with the same sets is a no-op
        (a re-executed coordinator step changes nothing), with others an error.
        """
        stragglers = self._check_workers(stragglers)
        late = self._check_late(t, late)
        if t in self._stragglers:
            if self._stragglers[t] != stragglers or self._late[t] != late:
                raise ValueError(
                    f"round {t} was already observed with stragglers "
                    f"{sorted(self._stragglers[t])} and late results {sorted(self._late[t])}, "
                    f"not {sorted(stragglers)} and {sorted(late)}"
                )
            return
        expected = len(self._stragglers) + 1
        if t != expected:
            raise ValueError(f"round must be {expected} (rounds are observed in order), got {t}")
        touched = self._deliver(self.plan(t), t, stragglers, self._arrivals)
        touched |= self._deliver_late(t, late, self._arrivals)
        self._stragglers[t] = stragglers
        self._late[t] = late
        self._late_round.update(dict.fromkeys(late, t))
        self._decoded_in[t] = {}
        for job in sorted(touched):
            if job in self._weights:
                continue
            weights = self._decode(job, self._arrivals.get(job, {}))
            if weights is not None:
                self._weights[job] = weights
                self._decoded_in[t][job] = weights

    def decoded(self, t: int) -> dict[int, dict[ResultKey, float]]:
        """{job: {(round, worker, job): weight}} for the jobs that became decodable in round t."""
        if t not in self._decoded_in:
            raise ValueError(f"round {t} has not been observed yet")
        return dict(self._decoded_in[t])

    def late(self, t: int) -> dict[int, str]:
        """Jobs due by round t (j + T <= t) that are still not decodable, with what each lacks."""
        return {
            job: self._describe_missing(job, self._arrivals.get(job, {}))
            for job in self._due(t)
            if job not in self._weights
        }

    def would_be_late(self, t: int, stragglers: Iterable[int],
                      late: Iterable[tuple[int, int]] = ()) -> set[int]:
        """The jobs due by round t that round-t stragglers ``stragglers`` (with the ``late``
        results landed so far) would leave undecodable.

        Pure: nothing is recorded. The coordinator calls it while results arrive to know when it
        may stop waiting. A job whose deadline passed in an earlier round is not among them: it
        was reported late then, and no result can make it count now, so it must not hold every
        later round to wait for everyone.
        """
        stragglers = self._check_workers(stragglers)
        late = self._check_late(t, late)
        pending = [job for job in self._due(t) if job not in self._weights and job + self.T >= t]
        if not pending:
            return set()
        arrivals = {job: {c: dict(a) for c, a in self._arrivals.get(job, {}).items()}
                    for job in pending}
        self._deliver(self.plan(t), t, stragglers, arrivals, only=set(pending))
        self._deliver_late(t, late, arrivals, only=set(pending))
        return {job for job in pending if self._decode(job, arrivals[job]) is None}

    def late_results(self, t: int) -> frozenset[tuple[int, int]]:
        """The late results counted in round t."""
        return self._late[t]

    def useful(self, t: int, r: int, worker: int) -> bool:
        """Whether round r's result of ``worker``, landing in round t, would serve a job that is
        not decoded yet and still within its deadline (else nobody needs to wait for it)."""
        return any(job not in self._weights and t <= job + self.T
                   for job, _, _ in self.plan(r)[worker])

    def weights(self, job: int) -> dict[ResultKey, float] | None:
        """Decode weights of ``job`` once decodable, else None."""
        return self._weights.get(job)

    def stragglers(self, t: int) -> frozenset[int]:
        return self._stragglers[t]

    @property
    def observed_rounds(self) -> int:
        return len(self._stragglers)

    # --- internals -------------------------------------------------------------------------
    def _deliver(self, plan, t, stragglers, arrivals, only=None) -> set[int]:
        touched = set()
        for worker, minitasks in enumerate(plan):
            if worker in stragglers:
                continue
            for job, component, row in minitasks:
                if only is None or job in only:
                    _record(arrivals, touched, job, component, row, (t, worker))
        return touched

    def _deliver_late(self, t, late, arrivals, only=None) -> set[int]:
        """Deliver round-r results that landed in round t to the jobs still open at t."""
        touched = set()
        for r, worker in sorted(late):
            for job, component, row in self.plan(r)[worker]:
                if job in self._weights or t > job + self.T:
                    continue
                if only is None or job in only:
                    _record(arrivals, touched, job, component, row, (r, worker))
        return touched

    def _check_late(self, t: int, late: Iterable[tuple[int, int]]) -> frozenset[tuple[int, int]]:
        """Late results must be earlier rounds' stragglers, each counted once."""
        late = frozenset((int(r), int(w)) for r, w in late)
        for r, worker in late:
            if not 1 <= r < t or worker not in self._stragglers.get(r, ()):
                raise ValueError(f"late result (round {r}, worker {worker}) in round {t}: only "
                                 f"an earlier round's straggler can deliver late")
            counted = self._late_round.get((r, worker), t)
            if counted != t:
                raise ValueError(f"late result (round {r}, worker {worker}) was already counted "
                                 f"in round {counted}")
        return late

    def _decode(self, job: int, arrivals: dict[Component, dict[int, tuple[int, int]]]):
        components = self.components(job)
        for component in components:  # cheap pass first: most attempts fail on an owned piece
            if component.code is None and component.owner not in arrivals.get(component, ()):
                return None
        weights: dict[ResultKey, float] = {}
        for component in components:
            part = component.decode(arrivals.get(component, {}), job)
            if part is None:
                return None
            weights.update(part)
        return weights

    def _describe_missing(self, job: int, arrivals) -> str:
        needs = [
            component.missing(arrivals.get(component, {}))
            for component in self.components(job)
            if component.decode(arrivals.get(component, {}), job) is None
        ]
        shown = "; ".join(needs[:5]) + (f"; and {len(needs) - 5} more" if len(needs) > 5 else "")
        return f"job {job} is late: {shown}"

    def _due(self, t: int) -> range:
        return range(1, min(self.jobs, t - self.T) + 1)

    def _check_round(self, t: int) -> None:
        if isinstance(t, bool) or not isinstance(t, int) or not 1 <= t <= self.rounds:
            raise ValueError(f"round must be an integer in [1, {self.rounds}], got {t!r}")

    def _check_workers(self, workers: Iterable[int]) -> frozenset[int]:
        if isinstance(workers, frozenset) and all(type(w) is int for w in workers) and (
                not workers or (min(workers) >= 0 and max(workers) < self.n)):
            return workers  # the simulator's own sets: checked in one pass
        workers = list(workers)
        bad = [w for w in workers if isinstance(w, bool) or not isinstance(w, Integral)
               or not 0 <= w < self.n]
        if bad:
            raise ValueError(
                f"stragglers must be worker indices in [0, {self.n - 1}], got {bad[:5]}")
        return frozenset(int(w) for w in workers)

    def _arrived(self, job: int, component: Component) -> dict[int, tuple[int, int]]:
        """{row: (round, deliverer)} of the component's shares that arrived so far."""
        return self._arrivals.get(job, {}).get(component, {})


def _with_row(minitask: tuple, worker: int) -> MiniTask:
    return minitask if len(minitask) == 3 else (*minitask, worker)


class OneJobPerRoundSession(Session):
    """Schemes whose workers all work on job t in round t over n equal partitions (uncoded, GC)."""

    def __init__(self, scheme, jobs: int, components: list[Component]):
        super().__init__(scheme, jobs)
        self._components = components

    @property
    def partition_sizes(self) -> list[float]:
        return [1 / self.n] * self.n

    def components(self, job: int) -> list[Component]:
        return self._components

    def _plan(self, t: int):
        if t > self.jobs:
            return [[] for _ in range(self.n)]
        return [[(t, self._component_of(worker))] for worker in range(self.n)]

    def _component_of(self, worker: int) -> Component:
        return self._components[0]


def _record(arrivals: dict, touched: set, job: int, component, row, origin: tuple) -> None:
    """One delivered row of ``job``'s ``component`` (the first copy stands)."""
    arrivals.setdefault(job, {}).setdefault(component, {}).setdefault(row, origin)
    touched.add(job)


def one_task_per_job(minitasks) -> dict:
    """{job: (component, row)}: a worker's task per job, as ``tasks`` keys them."""
    return {job: (component, row) for job, component, row in minitasks}
