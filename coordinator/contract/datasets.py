"""The dataset layout both sides read: Parquet parts plus a manifest (docs/contracts.md,
"Datasets"). ``coordinator/storage/dataset_prep.py`` writes it; the worker (functions/partitions.py)
reads it.
"""

from __future__ import annotations

FORMAT = "sgcflow-dataset/1"
MANIFEST = "manifest.json"
LABEL_COLUMN = "label"
COLUMN_TYPE = "float"  # str(pa.float32())


def partition_key(index: int) -> str:
    return f"part-{index:05d}.parquet"
