"""A job's fixed plan: which model and iteration each scheme job is, where everything lives.

Several models train at once (docs/schemes.md, "Setting"): with M models, scheme
job j is iteration ceil(j / M) of model (j - 1) mod M. Job j's update must be applied before job
j + M is dispatched; job j is decoded by round j + T and job j + M first runs in round j + M,
so M >= T + 1 (the job spec enforces it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from coordinator.contract import keys, records


@dataclass(frozen=True)
class DatasetInfo:
    """The partitioned dataset a job trains on (written under ``prefix`` in the bucket).

    ``manifest_sha256``: the manifest's digest when the job was planned; every task carries it,
    so a worker refuses a manifest (with its partitions) swapped since (None: older records).
    ``partition_sha256``: the digest of every partition the plan fixed (the manifest that
    hashes to ``manifest_sha256`` lists the same; empty: older records).
    """

    prefix: str
    rows: int
    n_features: int
    n_classes: int
    partition_rows: tuple[int, ...]
    manifest_sha256: str | None = None
    partition_sha256: tuple[str, ...] = ()
    image_shape: tuple[int, ...] | None = None  # [C, H, W] of an image dataset (its manifest's)


@dataclass(frozen=True)
class JobPlan:
    """Everything about a job that never changes once it started."""

    run_id: str  # stored as "job" (to_dict)
    bucket: str
    n: int
    T: int
    jobs: int
    models: tuple[dict[str, Any], ...]  # worker model dicts (ModelSpec.to_dict)
    lrs: tuple[float, ...]
    dataset: DatasetInfo

    @property
    def M(self) -> int:
        return len(self.models)

    @property
    def rounds(self) -> int:
        return self.jobs + self.T

    @property
    def iterations(self) -> int:
        return self.jobs // self.M

    def model_of(self, job: int) -> tuple[int, int]:
        """(model index from 0, iteration from 1) of scheme job ``job``."""
        return (job - 1) % self.M, (job - 1) // self.M + 1

    def job_of(self, model: int, iteration: int) -> int:
        return (iteration - 1) * self.M + model + 1

    def params_key(self, job: int) -> str:
        """Parameters job ``job`` computes its gradient at (job > J: a model's final ones)."""
        return keys.params_key(self.run_id, job)

    def decoded_key(self, job: int) -> str:
        """The decoded [loss_sum, *grad_sum] of job ``job`` (float64), kept for audit."""
        return keys.decoded_key(self.run_id, job)

    def final_params_key(self, model: int) -> str:
        return self.params_key(self.job_of(model, self.iterations + 1))

    def result_key(self, t: int, job: int, worker: int) -> str:
        return keys.result_key(self.run_id, t, job, worker)

    def worker_event(self, t: int, worker: int, tasks: dict[int, dict[int, float]],
                     params_sha256: Mapping[int, str] | None = None,
                     secret: str | None = None) -> dict:
        """The worker's invocation event for round t (coordinator.contract.records);
        ``params_sha256``: {job: digest of its parameter object}, checked by the worker;
        ``secret``: the job's, from which the invocation's token is derived."""
        digests = params_sha256 or {}
        token = None if secret is None else self.token(secret, t, worker)
        return records.worker_event(self.run_id, t, worker, self.bucket, [
            records.task_entry(self.run_id, j, self.models[self.model_of(j)[0]],
                               self.dataset.prefix, coefficients,
                               manifest_sha256=self.dataset.manifest_sha256,
                               params_sha256=digests.get(j))
            for j, coefficients in sorted(tasks.items())], token,
            rounds=self.rounds, workers=self.n)

    def token(self, secret: str, t: int, worker: int) -> str:
        return records.invocation_token(secret, self.run_id, t, worker)

    def to_dict(self) -> dict[str, Any]:
        out = {"job": self.run_id, **asdict(self)}
        del out["run_id"]
        out["models"] = list(self.models)
        out["lrs"] = list(self.lrs)
        out["dataset"]["partition_rows"] = list(self.dataset.partition_rows)
        out["dataset"]["partition_sha256"] = list(self.dataset.partition_sha256)
        if self.dataset.image_shape is None:
            del out["dataset"]["image_shape"]  # tabular data: the plan as it always was
        else:
            out["dataset"]["image_shape"] = list(self.dataset.image_shape)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobPlan:
        dataset = dict(data["dataset"])
        dataset["partition_rows"] = tuple(dataset["partition_rows"])
        dataset["partition_sha256"] = tuple(dataset.get("partition_sha256", ()))
        if dataset.get("image_shape") is not None:
            dataset["image_shape"] = tuple(dataset["image_shape"])
        return cls(run_id=data["job"], bucket=data["bucket"], n=int(data["n"]), T=int(data["T"]),
                   jobs=int(data["jobs"]), models=tuple(data["models"]),
                   lrs=tuple(float(x) for x in data["lrs"]), dataset=DatasetInfo(**dataset))
