"""A job's dataset in S3, partitioned the way its scheme needs (storage.dataset_prep does the
work).

The prefix depends only on the dataset spec and the partition fractions, so jobs with the same
scheme and data share one copy, and a re-run Plan step finds it already there.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from coordinator.control.plan import DatasetInfo
from coordinator.storage import dataset_prep, integrity
from coordinator.storage.state import Store


def load_table(spec: dict) -> dataset_prep.Table:
    """The whole dataset in memory (what the full-batch reference trains on)."""
    options = {k: spec[k] for k in ("rows", "features", "classes", "seed") if k in spec}
    return dataset_prep.load(spec["name"], **options)


def prefix_for(spec: dict, sizes: list[float]) -> str:
    digest = hashlib.sha256(json.dumps([spec, [round(s, 15) for s in sizes]],
                                       sort_keys=True).encode()).hexdigest()[:10]
    name = "".join(c if c.isalnum() or c in "-_" else "-" for c in spec["name"])[-40:]
    return f"datasets/{name}-k{len(sizes)}-{digest}"


def prepare(store: Store, spec: dict, sizes: list[float]) -> DatasetInfo:
    """Write (once) the dataset partitioned into ``sizes`` fractions; describe it (with the
    manifest's sha256 as stored now: the job record keeps it, its tasks carry it)."""
    prefix = prefix_for(spec, sizes)
    manifest_key = f"{prefix}/manifest.json"
    if store.exists(manifest_key):
        manifest = store.get_json(manifest_key)
    else:
        try:
            table = load_table(spec)
        except dataset_prep.DatasetError as error:
            from coordinator.spec.jobspec import JobSpecError

            raise JobSpecError([(f"dataset.{error.field}".replace("dataset.dataset", "dataset"),
                                 str(error))]) from error
        manifest = dataset_prep.prepare(table, f"s3://{store.bucket}/{prefix}", sizes=list(sizes),
                                    seed=int(spec.get("seed", 0)), s3=store.s3)
    return DatasetInfo(prefix=prefix, rows=int(manifest["n_rows"]),
                       n_features=int(manifest["n_features"]),
                       n_classes=int(manifest["n_classes"]),
                       partition_rows=tuple(int(p["rows"]) for p in manifest["partitions"]),
                       manifest_sha256=integrity.manifest_checksum(store, prefix),
                       image_shape=(tuple(manifest["image_shape"])
                                    if manifest.get("image_shape") else None))


def shuffled_table(spec: dict) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) of the whole dataset (row order does not matter for full-batch sums)."""
    table = load_table(spec)
    return table.features, table.labels
