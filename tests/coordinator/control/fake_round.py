"""A job on the in-memory store with fake workers and a fake clock: round steps in milliseconds.

Each fake worker computes sum_p c_p * g_p(job) from fixed random partial gradients g_p(job),
writes it where the real worker would and completes ``delays[t - 1, w]`` seconds after dispatch
on the fake clock, so an exact decode must give sum_p g_p(job) (the "full batch").
"""

from __future__ import annotations

import numpy as np

from coordinator.contract import keys, records
from coordinator.control.memstore import MemoryStore
from coordinator.control.plan import DatasetInfo, JobPlan
from coordinator.spec.jobspec import validate
from coordinator.storage import integrity

MODEL = {"kind": "softmax", "n_features": 3, "n_classes": 2}  # 8 parameters
ROWS = 64


class FakeClock:
    def __init__(self, start: float = 1000.0):
        self.t = start

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


class TimedStore(MemoryStore):
    """Completion records become visible at their time on the fake clock."""

    def __init__(self, clock: FakeClock):
        super().__init__()
        self.clock = clock
        self.visible_at: dict[tuple[str, int, int], float] = {}

    def completions(self, run: str, t: int):
        records = super().completions(run, t)
        return {w: r for w, r in records.items()
                if self.visible_at.get((run, t, w), 0.0) <= self.clock.now()}

    def completion_count(self, run: str, t: int) -> int:
        return len(self.completions(run, t))


class FakeWorkers:
    def __init__(self, store: TimedStore, plan: JobPlan, delays: np.ndarray, seed: int = 0,
                 garbage: frozenset = frozenset(), errors: frozenset = frozenset(),
                 per_partition_s: float = 0.0):
        self.store, self.plan, self.delays = store, plan, delays
        self.per_partition_s = per_partition_s  # compute: more partitions take longer
        rng = np.random.default_rng(seed)
        self.partials = rng.normal(size=(plan.jobs + 1, len(plan.dataset.partition_rows), 9))
        self.garbage, self.errors = garbage, errors  # {(round, worker)}
        self.invoked: list[tuple[int, int]] = []

    def full(self, job: int) -> np.ndarray:
        return self.partials[job].sum(axis=0)

    def __call__(self, items: list[tuple[int, dict]], **_) -> None:
        for worker, event in items:
            t = event["round"]
            self.invoked.append((t, worker))
            key = (event["run"], t, worker)
            work = sum(len(task["coefficients"]) for task in event["tasks"])
            self.store.visible_at[key] = self.store.clock.now() + float(
                self.delays[t - 1, worker]) + self.per_partition_s * work
            if (t, worker) in self.errors:
                self.store.complete(event["run"], t, worker, "error", error_type="Boom",
                                    error_message="injected")
                continue
            vectors, digests = {}, {}
            for task in event["tasks"]:
                vector = sum(float(c) * self.partials[task["job"], int(p)]
                             for p, c in task["coefficients"].items())
                if (t, worker) in self.garbage:
                    vector = np.full(9, np.nan)
                vectors[task["job"]] = np.asarray(vector, dtype=np.float64)
                digests[str(task["job"])] = integrity.write_array(
                    self.store, keys.result_key(event["run"], t, task["job"], worker),
                    vectors[task["job"]])
            self.store.complete(event["run"], t, worker, "ok", timings={"compute_s": 0.01},
                                checks=records.result_checks(vectors), sha256=digests,
                                **({"token": event["token"]} if "token" in event else {}))


def make_job(store: MemoryStore, *, scheme: dict, workers: int = 8, iterations: int = 3,
             models: int = 2, wait: dict | None = None, run_id: str = "run-test") -> JobPlan:
    """Write a job record as the Plan step would (without a dataset: the fake workers need none)."""
    spec = validate({"models": [{"kind": "softmax", "lr": 0.1}] * models, "dataset": "digits",
                     "iterations": iterations, "workers": workers, "scheme": scheme,
                     "wait": wait or {"deadline_s": 4.0, "hard_limit_s": 30}})
    built = spec.scheme()
    parts = built.session(jobs=spec.jobs).partition_sizes
    plan = JobPlan(run_id=run_id, bucket=store.bucket, n=workers, T=built.T, jobs=spec.jobs,
                   models=tuple([MODEL] * models), lrs=tuple([0.1] * models),
                   dataset=DatasetInfo("datasets/fake", ROWS, 3, 2,
                                       tuple(max(1, round(ROWS * p)) for p in parts)))
    for m in range(models):
        store.put_array(plan.params_key(m + 1), np.zeros(8, dtype=np.float32))
    store.create_job(run_id, {"spec": spec.raw, "plan": plan.to_dict(), "status": "running",
                              "round": 0, "execution": 1, "rounds": spec.session().rounds})
    return plan
