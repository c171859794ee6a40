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


CONTENT_PREFIX = "datasets/sha256-"


def content_prefix(manifest_sha256: str) -> str:
    """Where a dataset uploaded at submit lives in the stack's bucket: named by its manifest's
    sha256, so the same data is stored once and a prefix never changes meaning."""
    return f"{CONTENT_PREFIX}{manifest_sha256}"
