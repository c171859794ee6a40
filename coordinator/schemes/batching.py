"""Batched rounds: one scheme job carries the gradients of several models, one data read.

With M models in flight, one invocation can compute several models' gradients on the same
partitions: the same coefficients, each model's own parameters, one coded result per model.
The scheme codes *batches*: its job g stands for a run of consecutive gradients ("real jobs"),
and decoding g's weights decodes every gradient in it exactly, since one invocation delivers
all of them or none. A batch of b gradients costs its workers b times the scheme's load.

Real job j is iteration ceil(j / M) of model (j - 1) mod M (coordinator.control.plan), and its
gradient needs job j - M's update, so j may start only in a round after j - M's deadline. A
``Layout`` cuts the real jobs into batches greedily: each batch as large as its target allows
under that rule. With delay T the target is floor(M / (T + 1)): the models split into T + 1
groups that take turns (T = 0: every model in every round). A run that changes T (sgcflow)
passes through smaller batches until the rule allows the new target (``Layout.replan``).
``independent`` (``--models 1``, the paper's setting): jobs are unrelated gradients, one each.
"""

from __future__ import annotations

from collections.abc import Iterable

from coordinator.schemes.params import require_int
from coordinator.schemes.session import one_task_per_job


def batch_target(models: int, T: int) -> int:
    """Gradients per scheme job with ``models`` models in flight and delay ``T``: the models
    in T + 1 groups taking turns (0: the scheme cannot keep every model's iterations apart)."""
    return models // (T + 1)


class Layout:
    """Which real jobs each scheme job (batch) carries; batches numbered from 1, one per round."""

    def __init__(self, jobs: int, models: int, independent: bool = False):
        self.jobs = require_int("jobs", jobs, 1)
        self.models = require_int("models", models, 1)
        self.independent = independent
        self._first: list[int] = []  # batch g's real jobs: _first[g - 1] .. _end[g - 1] - 1
        self._end: list[int] = []
        self._deadline: list[int] = []  # batch g's deadline round
        self._batch_of = [0] * (self.jobs + 1)  # real job -> batch

    @property
    def batches(self) -> int:
        return len(self._first)

    def real_jobs(self, g: int) -> range:
        return range(self._first[g - 1], self._end[g - 1])

    def batch_of(self, job: int) -> int:
        return self._batch_of[job]

    def replan(self, first_batch: int, T: int, target: int) -> int:
        """Batches ``first_batch``.. under delay ``T`` with ``target`` gradients each (fewer
        where the dependency rule requires); returns how many batches that makes."""
        require_int("target", target, 1)
        del self._first[first_batch - 1:], self._end[first_batch - 1:]
        del self._deadline[first_batch - 1:]
        while self._next_free() <= self.jobs:
            g = len(self._first) + 1
            size = self._largest_startable(g, target)
            if size == 0:
                raise ValueError(f"batch {g}: no gradient can start (delay T={T} with "
                                 f"{self.models} models needs at least T + 1 models)")
            start = self._next_free()
            self._first.append(start)
            self._end.append(start + size)
            self._deadline.append(g + T)
            for job in range(start, start + size):
                self._batch_of[job] = g
        return len(self._first) - first_batch + 1

    def _next_free(self) -> int:
        return self._end[-1] if self._end else 1

    def _largest_startable(self, g: int, target: int) -> int:
        start = self._next_free()
        size = min(target, self.jobs - start + 1)
        if self.independent:
            return size
        while size > 0:
            needs = start + size - 1 - self.models  # the last gradient's predecessor
            if needs < 1 or all(self._deadline[self._batch_of[j] - 1] < g
                                for j in range(max(1, needs - size + 1), needs + 1)):
                return size
            size -= 1
        return 0


class BatchedSession:
    """A scheme session over batches, presented as a session over real jobs (the contract of
    ``coordinator.schemes.session.Session``): tasks, decode weights and late reports name real
    jobs, so the coordinator, the worker and the decoder need not know about batches."""

    def __init__(self, inner, layout: Layout):
        self.inner, self.layout = inner, layout
        self.n = inner.n

    # --- what stays the inner session's -----------------------------------------------------
    @property
    def scheme(self):
        return self.inner.scheme

    @property
    def T(self) -> int:
        return self.inner.T

    @property
    def rounds(self) -> int:
        return self.inner.rounds

    @property
    def jobs(self) -> int:
        return self.layout.jobs

    @property
    def partition_sizes(self) -> list[float]:
        return self.inner.partition_sizes

    @property
    def partitions(self) -> int:
        return self.inner.partitions

    @property
    def observed_rounds(self) -> int:
        return self.inner.observed_rounds

    def stragglers(self, t: int) -> frozenset[int]:
        return self.inner.stragglers(t)

    def observe(self, t: int, stragglers: Iterable[int],
                late: Iterable[tuple[int, int]] = ()) -> None:
        self.inner.observe(t, stragglers, late)

    def late_results(self, t: int) -> frozenset[tuple[int, int]]:
        return self.inner.late_results(t)

    def useful(self, t: int, r: int, worker: int) -> bool:
        return self.inner.useful(t, r, worker)

    # --- batches out as real jobs -----------------------------------------------------------
    def plan(self, t: int) -> list[list[tuple]]:
        return [[(job, component, row) for g, component, row in minitasks
                 for job in self.layout.real_jobs(g)] for minitasks in self.inner.plan(t)]

    def tasks(self, t: int) -> list[dict[int, dict[int, float]]]:
        return [{job: task for g, task in tasks.items() for job in self.layout.real_jobs(g)}
                for tasks in self.inner.tasks(t)]

    def worker_loads(self, t: int) -> list[float]:
        """A batch of b gradients costs b times its partitions' share."""
        sizes = self.inner.partition_sizes
        return [sum(len(self.layout.real_jobs(g)) * component.share(row, sizes)
                    for g, (component, row) in one_task_per_job(minitasks).items())
                for minitasks in self.inner.plan(t)]

    def decoded(self, t: int) -> dict[int, dict]:
        return {job: self._expand(weights, job) for g, weights in self.inner.decoded(t).items()
                for job in self.layout.real_jobs(g)}

    def late(self, t: int) -> dict[int, str]:
        return {job: why.replace(f"job {g} ", f"job {job} ", 1)
                for g, why in self.inner.late(t).items() for job in self.layout.real_jobs(g)}

    def would_be_late(self, t: int, stragglers: Iterable[int],
                      late: Iterable[tuple[int, int]] = ()) -> set[int]:
        return {job for g in self.inner.would_be_late(t, stragglers, late)
                for job in self.layout.real_jobs(g)}

    def weights(self, job: int):
        weights = self.inner.weights(self.layout.batch_of(job))
        return None if weights is None else self._expand(weights, job)

    @staticmethod
    def _expand(weights: dict, job: int) -> dict:
        return {(r, w, job): a for (r, w, _), a in weights.items()}


def batched(scheme, jobs: int, models: int, independent: bool = False,
            target: int | None = None):
    """A session of ``jobs`` real jobs under ``scheme`` with ``models`` models in flight,
    batched as far as the scheme's delay allows (or ``target`` gradients per scheme job, at
    most that); ``independent``: unrelated gradients, one per scheme job (the plain
    session)."""
    if independent:
        return scheme.session(jobs)
    target = batch_target(models, scheme.T) if target is None else target
    if target < 1:
        raise ValueError(f"{scheme.describe()} has delay T={scheme.T}: it needs at least "
                         f"T + 1 = {scheme.T + 1} models in flight, got models={models}")
    layout = Layout(jobs, models)
    return BatchedSession(scheme.session(layout.replan(1, scheme.T, target)), layout)
