"""Where a dataset comes from: a built-in name, a file, or a prepared dataset (a folder written by
`sgc data prepare`, or an ``s3://bucket/prefix`` holding one), read back as one ``Table``.

A prepared dataset is read with every check a worker makes: the manifest's digest (when one is
expected), each part's sha256 against the manifest, the columns it lists. What preparing did
(label mapping, standardization, generator, optimum) travels in the table's ``extra``, so a
dataset cut again into other partitions keeps it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from coordinator.contract.arrow_io import read_parquet
from coordinator.contract.datasets import FORMAT, LABEL_COLUMN, MANIFEST
from coordinator.storage import dataset_prep
from coordinator.storage.dataset_prep import DatasetError, Table

# Manifest fields that describe the partitions; every other field is about the data (extra).
LAYOUT_FIELDS = {"format", "dataset", "n_rows", "n_features", "n_classes", "feature_columns",
                 "label_column", "schema", "compression", "k", "sizes", "shuffle", "seed",
                 "partitions", "created_utc"}
MAX_MANIFEST_BYTES = 64 << 20


def is_prepared(location: str) -> bool:
    """An S3 prefix, or a local folder holding a manifest."""
    return location.startswith("s3://") or (Path(location) / MANIFEST).is_file()


def load_source(source: str, *, label_column: str = LABEL_COLUMN, standardize: bool = False,
                s3: Any = None, **options: Any) -> Table:
    """A prepared dataset (folder, S3 prefix), a file, or a built-in name, as one table;
    ``standardize``: features rescaled (statistics kept for prediction)."""
    if is_prepared(source):
        table = read_prepared(source, s3=s3)[0]
    elif Path(source).is_dir():
        raise DatasetError("path", f"{source} is a folder without {MANIFEST}: give a file, or a "
                                   "folder written by `sgc data prepare`")
    else:
        table = dataset_prep.load(source, label_column=label_column, **options)
    return dataset_prep.standardized(table) if standardize else table


def read_manifest(location: str, s3: Any = None) -> bytes:
    """The manifest's bytes as stored; DatasetError("path") when there is none."""
    if location.startswith("s3://"):
        bucket, prefix = split_s3(location)
        key = f"{prefix}/{MANIFEST}" if prefix else MANIFEST
        try:
            return _s3(s3).get_object(Bucket=bucket, Key=key)["Body"].read(MAX_MANIFEST_BYTES)
        except Exception as error:  # NoSuchKey, NoSuchBucket, AccessDenied
            code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
            raise DatasetError("path", f"no prepared dataset at {location} (s3://{bucket}/"
                                       f"{key}: {code or type(error).__name__})") from None
    path = Path(location) / MANIFEST
    if not path.is_file():
        raise DatasetError("path", f"no prepared dataset at {location} ({path} is missing)")
    return path.read_bytes()[:MAX_MANIFEST_BYTES]


def parse_manifest(body: bytes, location: str) -> dict[str, Any]:
    try:
        manifest = json.loads(body)
    except ValueError:
        raise DatasetError("path", f"{location}/{MANIFEST} is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DatasetError("path", f"{location}/{MANIFEST} is not a {FORMAT} manifest")
    for key in ("n_rows", "n_features", "n_classes", "feature_columns", "partitions"):
        if key not in manifest:
            raise DatasetError("path", f"{location}/{MANIFEST} has no {key!r}")
    return manifest


def read_prepared(location: str, s3: Any = None, expected_sha256: str | None = None
                  ) -> tuple[Table, dict[str, Any], bytes]:
    """(table, manifest, manifest bytes) of a prepared dataset, every part checked."""
    body = read_manifest(location, s3)
    digest = hashlib.sha256(body).hexdigest()
    if expected_sha256 is not None and digest != expected_sha256:
        raise DatasetError("manifest_sha256", f"{location}/{MANIFEST} hashes to {digest[:16]}..., "
                                              f"the job recorded {expected_sha256[:16]}...")
    manifest = parse_manifest(body, location)
    columns = list(manifest["feature_columns"])
    features, labels = [], []
    for part in manifest["partitions"]:
        data = _read_part(location, part["key"], s3)
        if hashlib.sha256(data).hexdigest() != part.get("sha256"):
            raise DatasetError("path", f"{location}/{part['key']} does not match the manifest's "
                                       "sha256 (changed since it was prepared)")
        table = read_parquet(pa.BufferReader(data))
        if table.column_names != [*columns, LABEL_COLUMN]:
            raise DatasetError("path", f"{location}/{part['key']}: columns differ from the "
                                       "manifest")
        features.append(np.column_stack([table.column(c).to_numpy() for c in columns])
                        if table.num_rows else np.empty((0, len(columns)), np.float32))
        labels.append(table.column(LABEL_COLUMN).to_numpy())
    extra = {k: v for k, v in manifest.items() if k not in LAYOUT_FIELDS}
    table = Table(str(manifest.get("dataset", location)),
                  np.concatenate(features).astype(np.float32),
                  np.concatenate(labels).astype(np.int64), columns, extra)
    return table, manifest, body


def shape(manifest: dict[str, Any]) -> dict[str, int]:
    return {"rows": int(manifest["n_rows"]), "features": int(manifest["n_features"]),
            "classes": int(manifest["n_classes"])}


def fits(manifest: dict[str, Any], sizes: list[float]) -> bool:
    """Whether the manifest's partitions are the rows ``sizes`` asks for, in order."""
    try:
        wanted = dataset_prep.partition_rows(int(manifest["n_rows"]), sizes=list(sizes))
    except DatasetError:
        return False
    return [int(p.get("rows", -1)) for p in manifest["partitions"]] == wanted


def split_s3(url: str) -> tuple[str, str]:
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    if not bucket:
        raise DatasetError("path", f"no bucket in {url!r}: use s3://bucket/prefix")
    return bucket, prefix.strip("/")


def _read_part(location: str, key: str, s3: Any) -> bytes:
    if not isinstance(key, str) or "/" in key or key.startswith("."):
        raise DatasetError("path", f"{location}: partition key {str(key)[:80]!r} is not a "
                                   "file name")
    if location.startswith("s3://"):
        bucket, prefix = split_s3(location)
        full = f"{prefix}/{key}" if prefix else key
        return _s3(s3).get_object(Bucket=bucket, Key=full)["Body"].read()
    return (Path(location) / key).read_bytes()


def _s3(s3: Any):
    if s3 is None:
        import boto3

        s3 = boto3.client("s3")
    return s3



def read_labelled(path: str, label_column: str, feature_columns: list[str]
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(features in ``feature_columns`` order, labels as written) of a .csv / .parquet / .npz
    file to evaluate a model on; DatasetError naming the file, column or array at fault."""
    source = Path(path)
    if source.suffix not in dataset_prep.FILE_TYPES or not source.is_file():
        raise DatasetError("data", f"{path}: no such .csv / .parquet / .npz file")
    if source.suffix == ".npz":
        from coordinator.storage import array_files

        try:
            X, y, _ = array_files.load(source)
        except array_files.ArrayFileError as error:
            raise DatasetError(error.field, str(error).split(": ", 1)[1]) from None
        if X.shape[1] != len(feature_columns):
            raise DatasetError("X", f"{X.shape[1]} features per row, the model was trained on "
                                    f"{len(feature_columns)}")
        return np.asarray(X, dtype=np.float64), y
    table = dataset_prep._read_file(source)
    names = table.column_names
    if label_column not in names:
        raise DatasetError("label_column", f"{label_column!r} not among {names}"[:300])
    missing = [c for c in feature_columns if c not in names]
    if missing:
        raise DatasetError(f"column {missing[0]!r}", f"missing from {path}: the model was trained "
                                                     f"on {len(feature_columns)} columns"
                                                     f" ({', '.join(feature_columns[:5])}...)")
    columns = []
    for name in feature_columns:
        column_type = table.schema.field(name).type
        if not (pa.types.is_integer(column_type) or pa.types.is_floating(column_type)):
            raise DatasetError(f"column {name!r}", f"non-numeric type {column_type}")
        columns.append(table.column(name).to_numpy(zero_copy_only=False).astype(np.float64))
    X = np.column_stack(columns)
    bad = np.argwhere(~np.isfinite(X))
    if bad.size:
        raise DatasetError(f"column {feature_columns[bad[0][1]]!r}", f"NaN/inf at row "
                                                                      f"{bad[0][0]}")
    return X, table.column(label_column).to_numpy(zero_copy_only=False)
