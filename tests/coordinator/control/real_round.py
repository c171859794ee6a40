"""A job on the in-memory store whose fake workers compute real coded gradients.

Like ``fake_round`` (fake clock, in-memory store, milliseconds per round), but each worker reads
its task's parameters from the store, checks them against the task's ``params_sha256`` as the
real worker does (a mismatch is a ``ChecksumError`` completion), and computes
sum_p c_p * [loss_p, grad_p] with the numpy reference kernels (coordinator.contract.gradients)
on in-memory partitions of a synthetic dataset. So decoded gradients and trained parameters can
be compared with full-batch numpy gradient descent (coordinator.control.reference).
"""

from __future__ import annotations

import numpy as np
from fake_round import FakeClock, TimedStore

from coordinator.contract import gradients, keys, records
from coordinator.contract.models import ModelSpec
from coordinator.control.plan import DatasetInfo, JobPlan
from coordinator.spec.jobspec import validate
from coordinator.storage import dataset_prep, integrity

ROWS, FEATURES, CLASSES = 240, 4, 3
MODEL = {"kind": "softmax", "n_features": FEATURES, "n_classes": CLASSES}
M_SGC = {"name": "m-sgc", "B": 1, "W": 2, "lam": 2}


def partition_counts(sizes: list[float], rows: int) -> list[int]:
    """Row counts per partition that add up to ``rows`` (largest remainder)."""
    raw = np.asarray(sizes) * rows
    counts = np.floor(raw).astype(int)
    for i in np.argsort(counts - raw)[: rows - counts.sum()]:
        counts[i] += 1
    return [int(c) for c in counts]


class RealWorkers:
    """Fake Lambda workers computing real coded gradients; ``events`` keeps what was sent."""

    def __init__(self, store: TimedStore, plan: JobPlan, X: np.ndarray, y: np.ndarray,
                 delays: np.ndarray, tamper=None):
        self.store, self.plan, self.delays = store, plan, delays
        bounds = np.cumsum([0, *plan.dataset.partition_rows])
        self.parts = [(X[a:b], y[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        self.tamper = tamper  # tamper(t, worker, event): runs after the worker wrote
        self.events: list[dict] = []

    def __call__(self, items: list[tuple[int, dict]], **_) -> None:
        for worker, event in items:
            self.events.append(event)
            t, run_id = event["round"], event["run"]
            self.store.visible_at[(run_id, t, worker)] = self.store.clock.now() + float(
                self.delays[t - 1, worker])
            try:
                vectors = {task["job"]: self._coded(task) for task in event["tasks"]}
            except integrity.IntegrityError as error:
                self.store.complete(run_id, t, worker, "error", error_type="ChecksumError",
                                    error_message=str(error))
                continue
            digests = {str(job): integrity.write_array(
                self.store, keys.result_key(run_id, t, job, worker), vector)
                for job, vector in vectors.items()}
            self.store.complete(run_id, t, worker, "ok", timings={"compute_s": 0.01},
                                checks=records.result_checks(vectors), sha256=digests)
            if self.tamper:
                self.tamper(t, worker, event)

    def _coded(self, task: dict) -> np.ndarray:
        spec = ModelSpec.from_dict(task["model"])
        params = integrity.read_array(self.store, task["params_key"], task.get("params_sha256"))
        coded = np.zeros(spec.n_params + 1)
        for partition, coefficient in task["coefficients"].items():
            X, y = self.parts[int(partition)]
            loss, grad = gradients.loss_grad(spec, X, y, params)
            coded += float(coefficient) * np.concatenate([[loss], grad])
        return coded


def real_job(store: TimedStore, lrs: list[float], *, iterations: int = 3, workers: int = 8,
             scheme: dict | None = None, run_id: str = "run-real") -> tuple[JobPlan, np.ndarray,
                                                                              np.ndarray]:
    """A job record as the Plan step writes it (initial parameters with their digests).

    ``lrs`` go to the plan as given: a learning rate above what submit accepts (1000) stands
    for a step that explodes at run time, which no submit-time bound can foresee."""
    spec = validate({"models": [{"kind": "softmax", "lr": min(lr, 1000.0)} for lr in lrs],
                     "dataset": "digits", "iterations": iterations, "workers": workers,
                     "scheme": scheme or M_SGC,
                     "wait": {"deadline_s": 4.0, "hard_limit_s": 30}})
    built = spec.scheme()
    counts = partition_counts(built.session(jobs=spec.jobs).partition_sizes, ROWS)
    table = dataset_prep.synthetic(rows=ROWS, features=FEATURES, classes=CLASSES, seed=3)
    plan = JobPlan(run_id=run_id, bucket=store.bucket, n=workers, T=built.T, jobs=spec.jobs,
                   models=tuple([MODEL] * len(lrs)), lrs=tuple(lrs),
                   dataset=DatasetInfo("datasets/real", ROWS, FEATURES, CLASSES, tuple(counts),
                                       "0" * 64))
    digests = {str(m + 1): integrity.write_array(store, plan.params_key(m + 1),
                                                 ModelSpec.from_dict(MODEL).init(seed=m))
               for m in range(len(lrs))}
    store.create_job(run_id, {"spec": spec.raw, "plan": plan.to_dict(), "status": "running",
                           "round": 0, "execution": 1, "params_sha256": digests})
    return plan, table.features, table.labels


def new_store() -> TimedStore:
    return TimedStore(FakeClock())
