"""A job's dataset in S3, partitioned the way its scheme needs (storage.dataset_prep does the
work).

The prefix depends only on the dataset spec and the partition fractions, so jobs with the same
scheme and data share one copy, and a re-run Plan step finds it already there. What is there is
never trusted by its name: the Plan step builds the dataset from its definition (deterministic)
and reuses the stored copy only if its partitions' digests are the built ones; otherwise (a
partition swapped together with its manifest, a copy from another version) it writes the
built one over it. The plan then fixes the manifest's digest and every partition's; workers
refuse a manifest that does not hash to the plan's digest, and the partitions it lists are
checked against their digests (docs/security.md).
"""

from __future__ import annotations

import hashlib
import json
import logging

import numpy as np

from coordinator.control.plan import DatasetInfo
from coordinator.storage import dataset_prep, integrity
from coordinator.storage.state import Store

log = logging.getLogger("sgcflow.coordinator")


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
    """The dataset partitioned into ``sizes`` fractions, in the bucket exactly as its definition
    builds it (written unless an identical copy is there); its description with the digests
    the job will hold its workers to."""
    prefix = prefix_for(spec, sizes)
    manifest_key = f"{prefix}/manifest.json"
    try:
        table = load_table(spec)
    except dataset_prep.DatasetError as error:
        from coordinator.spec.jobspec import JobSpecError

        raise JobSpecError([(f"dataset.{error.field}".replace("dataset.dataset", "dataset"),
                             str(error))]) from error
    blobs, manifest = dataset_prep.build(table, sizes=list(sizes), seed=int(spec.get("seed", 0)))
    stored = store.get_json(manifest_key) if store.exists(manifest_key) else None
    if stored is None or _digests(stored) != _digests(manifest):
        if stored is not None:
            log.warning("dataset %s differs from its definition (%s): written again", prefix,
                        "partitions changed" if stored.get("partitions") else "manifest")
        dataset_prep.write(f"s3://{store.bucket}/{prefix}", blobs, manifest, store.s3)
        stored = manifest
    return DatasetInfo(prefix=prefix, rows=int(stored["n_rows"]),
                       n_features=int(stored["n_features"]),
                       n_classes=int(stored["n_classes"]),
                       partition_rows=tuple(int(p["rows"]) for p in stored["partitions"]),
                       manifest_sha256=integrity.manifest_checksum(store, prefix),
                       partition_sha256=_digests(stored))


def _digests(manifest: dict) -> tuple[str, ...]:
    parts = manifest.get("partitions")
    return tuple(str(p.get("sha256")) for p in parts) if isinstance(parts, list) else ()


def shuffled_table(spec: dict) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) of the whole dataset (row order does not matter for full-batch sums)."""
    table = load_table(spec)
    return table.features, table.labels
