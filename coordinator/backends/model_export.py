"""A job's trained models out of the bucket, checked against the job's record.

Each model's newest parameters (``outcome.job_result``) are read and hashed: the digest must be
the one the job recorded when it wrote them (the job record's initial digests, the round log's
update records, the progress it keeps), else the download is refused; so is one with no digest
recorded. The dataset's manifest (checked against the plan's ``manifest_sha256``) gives the label
mapping, the standardization and the feature names. The files are described in
``coordinator/contract/trained.py``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from coordinator.backends.outcome import NoResult, job_result
from coordinator.contract.models import ModelSpec
from coordinator.contract.preprocessing import Preprocessing
from coordinator.contract.trained import TrainedModel
from coordinator.control.plan import JobPlan
from coordinator.storage import integrity
from coordinator.storage.state import Store

_JOB = re.compile(r"/params/job-(\d{6})\.npy$")


class DownloadRefused(ValueError):
    """A parameter file that does not match the job's record (or has no record)."""


def trained_models(store: Store, run_id: str, record: dict[str, Any]) -> list[TrainedModel]:
    """Every model of the job, its parameters checked against the digests the job recorded."""
    result = job_result(store, run_id, record)
    if not result["models"] or not record.get("plan"):
        raise NoResult(f"job {run_id} has no trained model ({result.get('note') or 'no plan'})")
    plan = JobPlan.from_dict(record["plan"])
    manifest = _manifest(store, plan)
    preprocessing = Preprocessing.from_manifest(manifest)
    losses = (result.get("summary") or {}).get("final_losses") or []
    models = []
    for entry in result["models"]:
        index, key = entry["model"], entry.get("final_params_key")
        if entry.get("params_problem"):  # job_result withheld them (coordinator/backends/outcome)
            raise DownloadRefused(f"refused: {entry['params_problem']}")
        if key is None:
            raise NoResult(f"job {run_id}: model {index} has no parameters written")
        expected = entry["final_params_sha256"]
        try:  # read again: what is written must be what was checked
            flat = integrity.read_array(store, key, expected)
        except integrity.IntegrityError as error:
            raise DownloadRefused(f"refused: {error}") from None
        spec = ModelSpec.from_dict(plan.models[index])
        card = {"index": index, "run_id": run_id,
                "feature_columns": manifest.get("feature_columns"),
                "label_column": manifest.get("source_label_column", "label"),
                "iterations_done": entry.get("final_iteration"),
                "final_loss": losses[index] if index < len(losses) else None,
                "status": entry.get("status"), "params_sha256": expected}
        models.append(TrainedModel.from_flat(spec, flat, preprocessing, card))
    return models


def download(store: Store, run_id: str, record: dict[str, Any], folder: str | Path
             ) -> list[Path]:
    """Write ``model-<i>.npz`` and ``model-<i>.json`` for every model; the paths written."""
    models = trained_models(store, run_id, record)  # every check passes before any write
    written = []
    for model in models:
        written += model.save(Path(folder), model.card["index"])
    return written


def _manifest(store: Store, plan: JobPlan) -> dict[str, Any]:
    try:
        body = integrity.read_bytes(store, f"{plan.dataset.prefix}/manifest.json",
                                    plan.dataset.manifest_sha256)
    except integrity.IntegrityError as error:
        raise DownloadRefused(f"refused: {error}") from None
    return json.loads(body)


def evaluate(models: list[TrainedModel], data_file: str, label_column: str | None = None
             ) -> tuple[list[dict[str, Any]], int]:
    """([{"index", "accuracy", "loss"}] per model, rows) on a .csv / .parquet / .npz file;
    ``label_column`` defaults to the training data's. DatasetError / ValueError name what is
    wrong (the file, a column, a label the training data never had)."""
    from coordinator.storage import dataset_sources

    card = models[0].card
    column = label_column or card.get("label_column") or "label"
    X, labels = dataset_sources.read_labelled(data_file, column,
                                              list(card.get("feature_columns") or []))
    return [{"index": model.card["index"], **model.evaluate(X, labels)}
            for model in models], len(labels)
