"""The job spec's ``dataset: {path: P, ...}``: your own data (docs/datasets.md).

``P`` is a folder written by `sgc data prepare`, an ``s3://bucket/prefix`` holding one, or a
.csv, .parquet or .npz file (``X``, ``y`` arrays). Optional fields, for a file:
``label_column`` (default ``label``; a .npz has ``y``), ``standardize`` (default false) and
``seed`` (the shuffle before partitioning, default 0).

At submit the data is read, prepared for the scheme's partitions if needed, and a local path is
uploaded into the stack's bucket under ``datasets/sha256-<manifest digest>``; the stored spec
then names that prefix (``path: s3://...``) and records what submit found:
``manifest_sha256`` (the plan keeps it; workers refuse anything else), ``shape`` (rows,
features, classes: the resource check uses it) and ``source`` (what you wrote). A spec may pin
``manifest_sha256`` itself: an S3 dataset that hashes otherwise is refused.

Here, without reading any data: the field's types and bounds, and that a local path exists
and has a dataset's form.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from coordinator.spec.limits import MAX_CLASSES, MAX_FEATURES, MAX_ROWS, MAX_SEED
from coordinator.spec.speccheck import Checker, show

KEYS = ("path", "label_column", "standardize", "seed", "manifest_sha256", "shape", "source")
FILE_TYPES = (".csv", ".parquet", ".npz")
MANIFEST = "manifest.json"
# \Z, not $: "$" also matches before a trailing newline
HEX_SHA256 = re.compile(r"^[0-9a-f]{64}\Z")
S3_URL = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\x00]*)?\Z")
MAX_PATH = 1024


def path_dataset(check: Checker, dataset: dict) -> dict[str, Any] | None:
    """The normalized ``dataset`` of a spec giving ``path``; problems go to ``check``."""
    if check.mapping("dataset", dataset, KEYS) is None:
        return None
    if "name" in dataset:
        check.fail("dataset", "give name (a built-in dataset) or path (your data), not both")
    path = dataset.get("path")
    out: dict[str, Any] = {"path": path}
    if _path_problem(path) is not None:
        check.fail("dataset.path", _path_problem(path))
    label = dataset.get("label_column", "label")
    if not isinstance(label, str) or not 1 <= len(label) <= 255 or "\x00" in label:
        check.fail("dataset.label_column", f"must be a column name (1-255 characters), got "
                                           f"{show(label)}")
    out["label_column"] = label
    standardize = dataset.get("standardize", False)
    if not isinstance(standardize, bool):
        check.fail("dataset.standardize", f"must be true (rescale every feature to mean 0, "
                                          f"std 1; kept for prediction) or false, got "
                                          f"{show(standardize)}")
    out["standardize"] = standardize
    out["seed"] = check.integer("dataset.seed", dataset.get("seed", 0), 0, MAX_SEED)
    if "manifest_sha256" in dataset:
        digest = dataset["manifest_sha256"]
        if not isinstance(digest, str) or not HEX_SHA256.match(digest):
            check.fail("dataset.manifest_sha256", f"must be 64 lower-case hex characters (the "
                                                  f"sha256 of manifest.json), got {show(digest)}")
        out["manifest_sha256"] = digest
    if "shape" in dataset:
        out["shape"] = _shape(check, dataset["shape"])
    if "source" in dataset:
        source = dataset["source"]
        if not isinstance(source, str) or len(source) > MAX_PATH:
            check.fail("dataset.source", f"must be a path of at most {MAX_PATH} characters, "
                                         f"got {show(source)}")
        out["source"] = source
    return out


def _path_problem(path: Any) -> str | None:
    if not isinstance(path, str) or not 1 <= len(path) <= MAX_PATH or "\x00" in path:
        return (f"must be a folder written by `sgc data prepare`, an s3://bucket/prefix or a "
                f".csv / .parquet / .npz file (at most {MAX_PATH} characters), got {show(path)}")
    if path.startswith("s3://"):
        if not S3_URL.match(path):
            return f"{show(path)} is not an s3://bucket/prefix URL"
        return None
    local = Path(path)
    if local.is_dir():
        if not (local / MANIFEST).is_file():
            return (f"{path} is a folder without {MANIFEST}: prepare it with `sgc data prepare "
                    f"SOURCE --out {path}`, or give the file itself")
        return None
    if not local.exists():
        return f"no such file or folder: {path}"
    if local.suffix == ".npy":
        return (f"{path}: a .npy holds one array; save features and labels together with "
                "numpy.savez('data.npz', X=X, y=y)")
    if local.suffix not in FILE_TYPES:
        return f"{path}: not a dataset file (allowed: {', '.join(FILE_TYPES)}, or a folder)"
    return None


def _shape(check: Checker, shape: Any) -> dict[str, int] | None:
    if check.mapping("dataset.shape", shape, ("rows", "features", "classes")) is None:
        return None
    bounds = {"rows": (1, MAX_ROWS), "features": (1, MAX_FEATURES), "classes": (2, MAX_CLASSES)}
    out = {}
    for key, (low, high) in bounds.items():
        out[key] = check.integer(f"dataset.shape.{key}", shape.get(key), low, high)
    return out
