"""Prepare a dataset as Parquet partitions with a manifest, locally or in S3.

A prepared dataset is a folder / S3 prefix with ``part-00000.parquet`` ... (float32 feature
columns + float32 ``label``, zstd) and ``manifest.json`` (schema, rows and fraction per partition,
sha256 of each file). Partitions are either k near-equal ones or given fractions ``sizes`` (M-SGC
partitions are unequal: ``session.partition_sizes``). The manifest is written last, after any old
one is removed, so a reader never sees a manifest that does not match the parts beside it.

Built-in sources (never downloaded at run time):
- ``digits``: scikit-learn's bundled 8x8 digits (1797 rows, 64 features, 10 classes);
- ``digits-images``: the same rows as 1 x 8 x 8 images with pixels scaled to [0, 1] (x / 16, as
  images usually are for a cnn; the manifest records ``image_shape``);
- ``digits-parity``: the same images labelled odd (1) / even (0), for logreg;
- ``synthetic``: seeded Gaussian features with labels drawn from a known logistic model; for two
  classes the manifest also holds the exact optimum of the summed logistic loss (Newton's method).
Any other name is read as a file path: .csv or .parquet (numeric feature columns, one label
column), or .npz with arrays ``X`` and ``y`` (``storage/array_files.py``): ``X`` a table
(rows, features) or images (N, C, H, W) / (N, H, W), whose rows are the image's C*H*W values in
(C, H, W) order and whose shape the manifest records (``image_shape``). Labels are class
indices 0..C-1, or strings: those are encoded as indices in sorted order and the manifest keeps
the mapping (``labels``); ``standardized`` rescales the features and keeps the statistics
(``standardize``), both applied again at prediction (``coordinator/contract/preprocessing.py``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from coordinator.contract import preprocessing
from coordinator.contract.arrow_io import read_csv, read_parquet
from coordinator.contract.datasets import COLUMN_TYPE, FORMAT, LABEL_COLUMN, MANIFEST, partition_key
from coordinator.contract.errors import MAX_FIELD_CHARS, shorten
from coordinator.spec.limits import (
    MAX_CELLS,
    MAX_CLASSES,
    MAX_FEATURES,
    MAX_FILE_BYTES,
    MAX_PARTITIONS,
    MAX_ROWS,
)

BUILTIN = ("digits", "digits-images", "digits-parity", "synthetic")
FILE_TYPES = (".csv", ".parquet", ".npz")


class DatasetError(ValueError):
    """Bad dataset input; ``field`` names what was wrong."""

    def __init__(self, field: str, message: str):
        field = shorten(field, MAX_FIELD_CHARS)  # a quoted value (file name, column) may be huge
        super().__init__(f"{field}: {shorten(message)}")
        self.field = field


@dataclass
class Table:
    """A whole dataset in memory: features (rows x d float32) and integer class labels."""

    name: str
    features: np.ndarray
    labels: np.ndarray
    feature_columns: list[str]
    extra: dict[str, Any] = field(default_factory=dict)  # goes into the manifest

    @property
    def n_classes(self) -> int:
        return int(self.labels.max()) + 1 if self.labels.size else 0


def load(name: str, *, rows: int = 16384, features: int = 64, classes: int = 2, seed: int = 0,
         label_column: str = LABEL_COLUMN) -> Table:
    """A built-in source by name, else a .csv / .parquet file; validated (numeric, finite)."""
    if name in ("digits", "digits-images", "digits-parity"):
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        labels = y % 2 if name == "digits-parity" else y
        extra = {"image_shape": [1, 8, 8]} if name == "digits-images" else {}
        X = X / 16 if name == "digits-images" else X  # pixels 0..16 -> [0, 1]
        return _checked(name, X, labels, [f"x{j:03d}" for j in range(X.shape[1])], extra)
    if name == "synthetic":
        return synthetic(rows=rows, features=features, classes=classes, seed=seed)
    path = Path(name)
    if path.suffix not in FILE_TYPES or not path.is_file():
        from coordinator.spec.speccheck import did_you_mean

        raise DatasetError("dataset", f"unknown {name!r}: allowed {list(BUILTIN)} "
                                      "or an existing .csv / .parquet / .npz file"
                                      f"{did_you_mean(name, BUILTIN)}")
    if path.suffix == ".npz":
        return _from_npz(name, path)
    return _from_arrow(name, _read_file(path), label_column)


def _from_npz(name: str, path: Path) -> Table:
    from coordinator.storage import array_files

    try:
        X, y, image = array_files.load(path)
    except array_files.ArrayFileError as error:
        raise DatasetError(error.field, str(error).split(": ", 1)[1]) from None
    bad = np.argwhere(~np.isfinite(np.asarray(X, dtype=np.float64)))
    if bad.size:
        raise DatasetError("X", f"NaN/inf in row {bad[0][0]} (flat index {bad[0][1]})")
    if not preprocessing.is_text(y):
        labels = np.asarray(y, dtype=np.float64)
        if not np.isfinite(labels).all() or (labels < 0).any() \
                or (labels != np.round(labels)).any():
            raise DatasetError("y", "labels must be class indices 0, 1, ... (finite, whole, "
                                    ">= 0) or strings (encoded, the mapping kept)")
    digits = max(3, len(str(X.shape[1] - 1)))
    return _checked(name, X, y, [f"x{j:0{digits}d}" for j in range(X.shape[1])],
                    {"image_shape": image} if image else {}, label_column="y")


def standardized(table: Table) -> Table:
    """The table with every feature rescaled to mean 0, std 1; the statistics go into the
    manifest (``standardize``). A table standardized before is returned as it is."""
    if preprocessing.STANDARDIZE in table.extra:
        return table
    mean, std = preprocessing.standardization(table.features)
    features = ((table.features - mean) / std).astype(np.float32)
    fields = preprocessing.Preprocessing(mean=tuple(mean), std=tuple(std)).manifest_fields()
    return Table(table.name, features, table.labels, table.feature_columns,
                 {**table.extra, **fields})


def synthetic(rows: int, features: int, classes: int = 2, seed: int = 0) -> Table:
    """Seeded Gaussian features, labels sampled from softmax(X W* + b*); optimum for 2 classes."""
    for name, value, low, high in (("rows", rows, 1, MAX_ROWS),
                                   ("features", features, 1, MAX_FEATURES),
                                   ("classes", classes, 2, MAX_CLASSES)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) \
                or not low <= value <= high:
            raise DatasetError(name, f"must be an integer in [{low}, {high}], got {value!r}")
    if rows * features > MAX_CELLS:
        raise DatasetError("rows", f"rows x features = {rows * features} exceeds "
                                   f"{MAX_CELLS} values (about 1 GB of float32)")
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, features)).astype(np.float32)
    W = rng.standard_normal((features, classes)) * (2.0 / np.sqrt(features))
    b = rng.standard_normal(classes) * 0.5
    logits = X.astype(np.float64) @ W + b
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    labels = (probabilities.cumsum(axis=1) < rng.random((rows, 1))).sum(axis=1)
    labels = np.minimum(labels, classes - 1)
    extra: dict[str, Any] = {"generator": {"rows": rows, "features": features,
                                           "classes": classes, "seed": seed}}
    if classes == 2:
        try:
            extra["optimum"] = logistic_optimum(X, labels)
        except np.linalg.LinAlgError:  # a few rows, or one class only: no unique optimum
            pass
    return _checked("synthetic", X, labels, [f"x{j:03d}" for j in range(features)], extra)


def logistic_optimum(X: np.ndarray, labels: np.ndarray, tolerance: float = 1e-9) -> dict:
    """Exact minimizer of the summed logistic loss (model ``logreg``: [w, b]) by Newton's method."""
    A = np.hstack([X.astype(np.float64), np.ones((len(X), 1))])
    theta = np.zeros(A.shape[1])
    for _ in range(50):
        z = A @ theta
        p = 1.0 / (1.0 + np.exp(-z))
        gradient = A.T @ (p - labels)
        if np.linalg.norm(gradient) <= tolerance * len(X):
            break
        hessian = (A * (p * (1 - p))[:, None]).T @ A
        theta -= np.linalg.solve(hessian, gradient)
    z = A @ theta
    loss = float(np.sum(np.logaddexp(0, z) - labels * z))
    return {"model": {"kind": "logreg", "n_features": X.shape[1], "n_classes": 2},
            "params": [float(v) for v in theta], "loss_sum": loss,
            "gradient_norm": float(np.linalg.norm(gradient))}


def partition_rows(n_rows: int, k: int | None = None,
                   sizes: list[float] | None = None) -> list[int]:
    """Rows per partition: k near-equal parts, or fractions ``sizes`` (largest remainder; a
    partition may get no row when its fraction is below about 1 / n_rows)."""
    if (k is None) == (sizes is None):
        raise DatasetError("k/sizes", "give exactly one of k (equal partitions) or sizes")
    if sizes is None:
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_PARTITIONS:
            raise DatasetError("k", f"must be an integer in [1, {MAX_PARTITIONS}], got {k!r}")
        if k > n_rows:
            raise DatasetError("k", f"{k} partitions but only {n_rows} rows")
        return [len(part) for part in np.array_split(np.arange(n_rows), k)]
    if n_rows < 1:
        raise DatasetError("rows", "the dataset has no row")
    try:
        fractions = np.asarray(sizes, dtype=float)
    except (TypeError, ValueError):
        raise DatasetError("sizes", f"must be a list of numbers, got {sizes!r}"[:200]) from None
    if fractions.ndim != 1 or fractions.size == 0 or fractions.size > MAX_PARTITIONS or not (
            np.isfinite(fractions).all() and (fractions > 0).all() and (fractions <= 1).all()):
        raise DatasetError("sizes", f"must be 1..{MAX_PARTITIONS} fractions in (0, 1], "
                                    f"got {sizes}"[:300])
    if abs(fractions.sum() - 1.0) > 1e-9:
        raise DatasetError("sizes", f"fractions must sum to 1, got {fractions.sum():.12g}")
    exact = fractions * n_rows
    counts = np.floor(exact).astype(int)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: n_rows - counts.sum()]] += 1
    # A tiny fraction may round to an empty partition (M-SGC's D2 parts on a small dataset): its
    # partial gradient is zero, and decoding stays exact.
    return counts.tolist()


def check_trainable(table: Table, counts: list[int], *, sizes_field: str = "sizes",
                    labels_field: str = f"column {LABEL_COLUMN!r}") -> None:
    """Refuse what would train on nothing: a partition without a row or labels of one class
    only (nothing to tell apart); ``sizes_field`` and ``labels_field`` name where the fractions
    and the labels came from. `sgc data prepare` asks for it; the Plan step does not (an M-SGC
    part rounded to no row contributes a zero partial gradient there, decoding stays exact)."""
    empty = [i for i, rows in enumerate(counts) if rows == 0]
    if empty:
        shown = ", ".join(map(str, empty[:5])) + (", ..." if len(empty) > 5 else "")
        raise DatasetError(sizes_field, f"{len(empty)} of {len(counts)} partitions would get no "
                                        f"row of the {len(table.labels)} (partition {shown}): "
                                        "give fewer or larger fractions, or more rows")
    classes = np.unique(table.labels)
    if classes.size < 2:
        found = f"class {int(classes[0])}" if classes.size else "no class"
        raise DatasetError(labels_field, f"every row has {found}: training needs labels of at "
                                         "least two classes")


def prepare(table: Table, destination: str, *, k: int | None = None,
            sizes: list[float] | None = None, seed: int = 0, shuffle: bool = True,
            s3: Any = None) -> dict[str, Any]:
    """Write ``table`` as partitions + manifest under ``destination`` (folder or s3://bucket/prefix)."""
    if not isinstance(destination, str) or not destination.strip():
        raise DatasetError("destination", "must be a folder or s3://bucket/prefix, got "
                                          f"{destination!r}")
    manifest, parts = build(table, k=k, sizes=sizes, seed=seed, shuffle=shuffle)
    write(destination, parts, manifest, s3)
    return manifest


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    """The manifest as written (its sha256 is the dataset's digest)."""
    return json.dumps(manifest, indent=1).encode()


def build(table: Table, *, k: int | None = None, sizes: list[float] | None = None,
          seed: int = 0, shuffle: bool = True, stamp: bool = True
          ) -> tuple[dict[str, Any], dict[str, bytes]]:
    """(manifest, {part name: Parquet bytes}) of ``table`` cut into partitions, nothing written
    (deterministic for a given table, partitioning and seed: the partitions' digests identify
    the dataset's content). ``stamp=False``: no creation time, so the same data and partitions
    give the same manifest bytes (a content address)."""
    counts = partition_rows(len(table.labels), k=k, sizes=sizes)
    order = np.random.default_rng(seed).permutation(len(table.labels)) if shuffle else None
    features = table.features[order] if shuffle else table.features
    labels = table.labels[order] if shuffle else table.labels
    bounds = np.concatenate([[0], np.cumsum(counts)])
    blobs = [_parquet_bytes(table.feature_columns, features[lo:hi], labels[lo:hi])
             for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    manifest = {
        "format": FORMAT, "dataset": table.name, "n_rows": int(len(labels)),
        "n_features": len(table.feature_columns), "n_classes": table.n_classes,
        "feature_columns": table.feature_columns, "label_column": LABEL_COLUMN,
        "schema": [{"name": name, "type": COLUMN_TYPE}
                   for name in [*table.feature_columns, LABEL_COLUMN]],
        "compression": "zstd", "k": len(counts), "sizes": sizes, "shuffle": shuffle, "seed": seed,
        "partitions": [{"key": partition_key(i), "rows": rows, "fraction": rows / len(labels),
                        "bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}
                       for i, (rows, blob) in enumerate(zip(counts, blobs, strict=True))],
        **({"created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
           if stamp else {}),
        **table.extra,
    }
    return manifest, {partition_key(i): blob for i, blob in enumerate(blobs)}


def write(destination: str, parts: dict[str, bytes], manifest: dict[str, Any],
          s3: Any = None) -> None:
    """Partitions first, the manifest last (after removing the old one)."""
    writer = _S3Writer(destination, s3) if destination.startswith("s3://") else \
        _LocalWriter(destination)
    writer.write_all(parts, manifest_bytes(manifest))


class _LocalWriter:
    def __init__(self, folder: str):
        self.folder = Path(folder)

    def write_all(self, parts: dict[str, bytes], manifest: bytes) -> None:
        try:
            self._write_all(parts, manifest)
        except OSError as error:  # read-only, /proc, a file in the way, disk full
            raise DatasetError("destination", f"cannot write {self.folder}: "
                                              f"{error.strerror or error}") from None

    def _write_all(self, parts: dict[str, bytes], manifest: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / MANIFEST).unlink(missing_ok=True)
        written = []
        try:
            for name, blob in [*parts.items(), (MANIFEST, manifest)]:
                scratch = self.folder / f".{name}.tmp"
                scratch.write_bytes(blob)
                os.replace(scratch, self.folder / name)
                written.append(self.folder / name)
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            raise


class _S3Writer:
    def __init__(self, url: str, s3: Any):
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        if not bucket:
            raise DatasetError("destination", f"no bucket in {url!r}: use s3://bucket/prefix")
        if s3 is None:
            import boto3

            s3 = boto3.client("s3")
        self.s3, self.bucket, self.prefix = s3, bucket, prefix.strip("/")

    def write_all(self, parts: dict[str, bytes], manifest: bytes) -> None:
        key = f"{self.prefix}/{MANIFEST}" if self.prefix else MANIFEST
        self.s3.delete_object(Bucket=self.bucket, Key=key)
        written = []
        try:
            for name, blob in parts.items():  # one PUT is atomic: no temp key needed in S3
                part_key = f"{self.prefix}/{name}" if self.prefix else name
                self.s3.put_object(Bucket=self.bucket, Key=part_key, Body=blob)
                written.append(part_key)
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=manifest,
                               ContentType="application/json")
        except BaseException:
            for part_key in written:
                self.s3.delete_object(Bucket=self.bucket, Key=part_key)
            raise


def _parquet_bytes(columns: list[str], features: np.ndarray, labels: np.ndarray) -> bytes:
    arrays = [pa.array(features[:, j]) for j in range(features.shape[1])]
    arrays.append(pa.array(labels.astype(np.float32)))
    sink = io.BytesIO()
    pq.write_table(pa.table(arrays, names=[*columns, LABEL_COLUMN]), sink, compression="zstd")
    return sink.getvalue()


def _read_file(path: Path) -> pa.Table:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise DatasetError("dataset", f"{path} has {size} bytes; the limit is {MAX_FILE_BYTES}")
    try:
        if path.suffix == ".parquet":
            return read_parquet(path)
        return read_csv(path)
    except (pa.ArrowException, OSError) as error:  # corrupt, truncated, not this format
        message = " ".join(str(error).split())[:300]
        raise DatasetError("dataset", f"cannot read {path} as {path.suffix[1:]}: {message}") \
            from None


def _from_arrow(name: str, table: pa.Table, label_column: str) -> Table:
    names = table.column_names
    duplicates = sorted({c for c in names if names.count(c) > 1})
    if duplicates:
        raise DatasetError(f"column {duplicates[0]!r}", f"appears {names.count(duplicates[0])} "
                                                        "times: column names must be unique")
    if label_column not in names:
        raise DatasetError("label_column", f"{label_column!r} not among {names}"[:300])
    if table.num_rows == 0:
        raise DatasetError("rows", f"{name} has no row")
    columns = {}
    for column_name in table.column_names:
        column_type = table.schema.field(column_name).type
        text = pa.types.is_string(column_type) or pa.types.is_large_string(column_type)
        if column_name == label_column and text:
            if table.column(column_name).null_count:
                raise DatasetError(f"column {column_name!r}", "empty label (null)")
        elif not (pa.types.is_integer(column_type) or pa.types.is_floating(column_type)):
            hint = (" (string labels are encoded only in the label column: is "
                    f"--label-column {column_name} meant?)" if text else "")
            raise DatasetError(f"column {column_name!r}",
                               f"non-numeric type {column_type}: only int/float feature "
                               f"columns allowed{hint}")
        columns[column_name] = table.column(column_name).to_numpy(zero_copy_only=False)
    names = [c for c in table.column_names if c != label_column]
    if LABEL_COLUMN in names:
        raise DatasetError(f"column {LABEL_COLUMN!r}", f"a feature column may not be called "
                                                       f"{LABEL_COLUMN!r} (the label column is "
                                                       f"{label_column!r}): rename it")
    X = np.column_stack([columns[c] for c in names]) if names else np.empty((table.num_rows, 0))
    return _checked(name, X, columns[label_column], names,
                    {"source_label_column": label_column}, label_column)


def _checked(name: str, X: Any, labels: Any, columns: list[str], extra: dict,
             label_column: str = LABEL_COLUMN) -> Table:
    X = np.asarray(X, dtype=np.float64)
    if preprocessing.is_text(labels):
        labels, names = preprocessing.encode_labels(labels)
        extra = {**extra, **preprocessing.Preprocessing(labels=tuple(names)).manifest_fields()}
    labels = np.asarray(labels, dtype=np.float64)
    if X.shape[1] == 0:
        raise DatasetError("columns", "no feature column besides the label")
    for j, column in enumerate(columns):
        bad = np.flatnonzero(~np.isfinite(X[:, j]))
        if bad.size:
            raise DatasetError(f"column {column!r}", f"NaN/inf at row {bad[0]} ({bad.size} rows)")
    bad = np.flatnonzero(~np.isfinite(labels))
    if bad.size:
        raise DatasetError(f"column {label_column!r}", f"NaN/inf at row {bad[0]}")
    if (labels < 0).any() or (labels != np.round(labels)).any():
        raise DatasetError(f"column {label_column!r}", "labels must be class indices 0, 1, ... "
                                                       "or strings (encoded, the mapping kept)")
    if labels.size and labels.max() >= MAX_CLASSES:
        raise DatasetError(f"column {label_column!r}", f"largest label {labels.max():.0f} would "
                                                       f"mean more than {MAX_CLASSES} classes "
                                                       "(labels are class indices 0..C-1)")
    if (np.abs(X) > np.finfo(np.float32).max).any():
        raise DatasetError("features", "values overflow float32")
    return Table(name, X.astype(np.float32), labels.astype(np.int64), list(columns), extra)
