"""Read dataset partitions from S3 inside a worker, with caches that survive warm invocations.

A dataset prefix holds ``manifest.json`` and ``part-00000.parquet`` ... (written by
coordinator/storage/dataset_prep.py). A worker's partitions are fixed by the scheme, so a warm
worker should download its data once: decoded partitions stay in memory (bounded LRU), and the
Parquet bytes in /tmp, content-addressed by the manifest's sha256 (a re-prepared dataset never hits
a stale file).
Every partition is checked against the manifest: checksum, column names and float32 types.
The manifest itself is checked first (``check_manifest``): digests must be 64 lower-case hex
characters (a digest names a file in /tmp, so ``../evil/x`` is refused), counts are integers, and
with ``expected_sha256`` (the job record's manifest checksum, ``manifest_sha256``) its bytes must
hash to it, so a partition swapped together with its manifest is caught too. An image dataset's
``image_shape`` ([C, H, W], C*H*W feature columns) is checked too; its rows stay flat, and a cnn
reads each as one image of its model's ``input``, which must equal it (functions/worker.py).
Thread-safe: the emulator runs many invocations of one process concurrently.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from coordinator.contract.arrow_io import read_parquet
from coordinator.contract.datasets import COLUMN_TYPE, FORMAT, LABEL_COLUMN, MANIFEST, partition_key
from coordinator.contract.errors import (
    EventError,
    MissingObjectError,
    SchemaMismatchError,
    StorageError,
)

DEFAULT_CACHE_DIR = "/tmp/sgcflow-partitions"
DEFAULT_MEMORY_MB = 512
MAX_MANIFEST_BYTES = 64 << 20
MAX_PARTITIONS = 100_000
HEX_SHA256 = re.compile(r"[0-9a-f]{64}")  # use fullmatch ("$" matches before a final newline)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest_sha256(s3: Any, bucket: str, dataset: str) -> str:
    """sha256 of a prepared dataset's manifest.json as stored (for the job record)."""
    key = f"{dataset.rstrip('/')}/{MANIFEST}"
    try:
        return sha256_hex(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except s3.exceptions.NoSuchKey:
        raise MissingObjectError(key, f"no such object in bucket {bucket!r}") from None


def check_manifest(manifest: Any, key: str) -> dict[str, Any]:
    """The manifest if every field a worker uses is well-formed, else SchemaMismatchError."""
    def bad(field: str, message: str) -> SchemaMismatchError:
        return SchemaMismatchError(f"{key} {field}", message)

    if not isinstance(manifest, dict):
        raise bad("(document)", f"must be a JSON object, got {type(manifest).__name__}")
    if manifest.get("format") != FORMAT:
        raise bad("format", f"got {str(manifest.get('format'))[:40]!r}, expected {FORMAT!r}")
    columns = manifest.get("feature_columns")
    if not isinstance(columns, list) or not columns or not all(
            isinstance(c, str) and c != LABEL_COLUMN for c in columns) \
            or len(set(columns)) != len(columns):
        raise bad("feature_columns", "must be a non-empty list of distinct column names")
    if manifest.get("n_features") != len(columns):
        raise bad("n_features", f"{manifest.get('n_features')!r} differs from the "
                                f"{len(columns)} feature columns")
    image = manifest.get("image_shape")
    if image is not None and (not isinstance(image, list) or len(image) != 3 or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in image)
            or image[0] * image[1] * image[2] != len(columns)):
        raise bad("image_shape", f"must be [channels, height, width] with channels x height x "
                                 f"width = {len(columns)} feature columns, got "
                                 f"{str(image)[:80]}")
    parts = manifest.get("partitions")
    if not isinstance(parts, list) or not 1 <= len(parts) <= MAX_PARTITIONS:
        raise bad("partitions", f"must be a list of 1..{MAX_PARTITIONS} partitions")
    for i, part in enumerate(parts):
        if not isinstance(part, dict):
            raise bad(f"partitions[{i}]", "must be an object")
        digest, rows = part.get("sha256"), part.get("rows")
        if not isinstance(digest, str) or not HEX_SHA256.fullmatch(digest):
            raise bad(f"partitions[{i}].sha256",
                      f"must be 64 lower-case hex characters, got {str(digest)[:80]!r}")
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
            raise bad(f"partitions[{i}].rows", f"must be an integer >= 0, got {rows!r}")
    return manifest


@dataclass(frozen=True)
class Partition:
    """Rows of one partition: X row-major (rows x d float32), y int32 class labels."""

    key: str
    X: np.ndarray
    y: np.ndarray

    @property
    def nbytes(self) -> int:
        return self.X.nbytes + self.y.nbytes


def parse_partition(data: bytes, manifest: dict[str, Any], key: str) -> Partition:
    """Decode Parquet bytes into a Partition, or SchemaMismatchError naming ``key`` and column."""
    try:
        table = read_parquet(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as error:
        raise SchemaMismatchError(key, f"not a readable Parquet file: {str(error)[:200]}") \
            from None
    expected = list(manifest["feature_columns"]) + [LABEL_COLUMN]
    if table.column_names != expected:
        missing = sorted(set(expected) - set(table.column_names))
        extra = sorted(set(table.column_names) - set(expected))
        raise SchemaMismatchError(key, f"columns differ from the manifest: missing {missing}, "
                                       f"unexpected {extra} (order must match too)")
    for field in table.schema:
        if str(field.type) != COLUMN_TYPE:
            raise SchemaMismatchError(f"{key} column {field.name!r}",
                                      f"type {field.type}, manifest requires float32")
    X = np.empty((table.num_rows, len(expected) - 1), dtype=np.float32)
    for j, name in enumerate(expected[:-1]):
        X[:, j] = table.column(name).to_numpy()
    labels = table.column(LABEL_COLUMN).to_numpy()
    y = labels.astype(np.int32)
    if not np.array_equal(y, labels):
        raise SchemaMismatchError(f"{key} column 'label'", "labels must be integer class indices")
    return Partition(key, X, y)


class PartitionStore:
    """Manifests and partitions of datasets in S3, cached in memory and in /tmp."""

    def __init__(self, s3: Any, cache_dir: str | None = None, memory_mb: float | None = None):
        self.s3 = s3
        self.cache_dir = Path(cache_dir or os.environ.get("SGC_PARTITION_CACHE_DIR",
                                                          DEFAULT_CACHE_DIR))
        budget = memory_mb or float(os.environ.get("SGC_PARTITION_CACHE_MB", DEFAULT_MEMORY_MB))
        self.memory_budget = int(budget * 2**20)
        self._manifests: dict[tuple[str, str], dict[str, Any]] = {}
        self._partitions: OrderedDict[tuple[str, str], Partition] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self.downloads = 0  # S3 partition reads, for tests and logs

    def manifest(self, bucket: str, dataset: str,
                 expected_sha256: str | None = None) -> dict[str, Any]:
        """The dataset's checked manifest, cached with its digest and used only while the job's
        ``expected_sha256`` matches it: a prefix re-prepared since is read again, never served
        stale, and a manifest whose bytes do not hash to it is refused. The partitions it
        lists are cached by their own digests."""
        key = f"{dataset.rstrip('/')}/{MANIFEST}"
        with self._lock:
            cached = self._manifests.get((bucket, dataset))
        if cached is None or (expected_sha256 is not None and cached[1] != expected_sha256):
            # read afresh: the prefix was re-prepared since (or is about to be refused)
            data = self._get(bucket, key)
            if len(data) > MAX_MANIFEST_BYTES:
                raise SchemaMismatchError(key, f"{len(data)} bytes, more than a manifest can be")
            try:
                manifest = json.loads(data)
            except (ValueError, RecursionError):
                raise SchemaMismatchError(key, "not a JSON document") from None
            cached = (check_manifest(manifest, key), sha256_hex(data))
            with self._lock:
                self._manifests[(bucket, dataset)] = cached
        if expected_sha256 is not None and cached[1] != expected_sha256:
            raise SchemaMismatchError(f"{key} sha256", f"{cached[1]}, the job recorded "
                                                       f"{expected_sha256}")
        return cached[0]

    def load(self, bucket: str, dataset: str, index: int,
             expected_sha256: str | None = None) -> Partition:
        """Partition ``index`` of ``dataset``: memory, else /tmp, else S3 (checksum verified)."""
        manifest = self.manifest(bucket, dataset, expected_sha256)
        parts = manifest["partitions"]
        key = f"{dataset.rstrip('/')}/{partition_key(index)}"
        if not 0 <= index < len(parts):
            raise MissingObjectError(key, f"partition {index} is not in the manifest "
                                          f"(k={len(parts)}: partitions 0..{len(parts) - 1})")
        digest = parts[index]["sha256"]
        with self._key_lock(digest):  # concurrent callers of one partition: one download
            with self._lock:
                hit = self._partitions.get((digest, key))
                if hit is not None:
                    self._partitions.move_to_end((digest, key))
                    return hit
            partition = parse_partition(self._read_bytes(bucket, key, digest), manifest, key)
            if partition.X.shape[0] != parts[index]["rows"]:
                raise SchemaMismatchError(f"{key} rows", f"{partition.X.shape[0]} rows, "
                                                         f"manifest says {parts[index]['rows']}")
            self._remember((digest, key), partition)
        return partition

    def _key_lock(self, digest: str) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(digest, threading.Lock())

    def _read_bytes(self, bucket: str, key: str, digest: str) -> bytes:
        path = self.cache_dir / f"{digest}.parquet"
        if path.exists():
            return path.read_bytes()
        data = self._get(bucket, key)
        actual = sha256_hex(data)
        if actual != digest:
            raise SchemaMismatchError(f"{key} sha256", f"{actual}, manifest says {digest}")
        with self._lock:
            self.downloads += 1
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        scratch = path.with_name(f"{path.name}.{threading.get_ident()}.tmp")
        scratch.write_bytes(data)
        os.replace(scratch, path)  # atomic: concurrent readers see all of it or nothing
        return data

    def _remember(self, cache_key: tuple[str, str], partition: Partition) -> None:
        with self._lock:
            self._partitions[cache_key] = partition
            total = sum(p.nbytes for p in self._partitions.values())
            while total > self.memory_budget and len(self._partitions) > 1:
                _, evicted = self._partitions.popitem(last=False)
                total -= evicted.nbytes

    def _get(self, bucket: str, key: str) -> bytes:
        try:
            return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            raise MissingObjectError(key, f"no such object in bucket {bucket!r}") from None
        except self.s3.exceptions.NoSuchBucket:
            raise EventError("bucket", f"no such bucket {bucket!r}") from None
        except Exception as error:  # botocore ClientError / BotoCoreError: typed, key named
            raise storage_error(key, error) from None


def storage_error(key: str, error: Exception) -> StorageError:
    """A typed error for an S3/DynamoDB failure on ``key`` (code and message, no traceback)."""
    code = getattr(error, "response", {}).get("Error", {}).get("Code") if hasattr(
        error, "response") else None
    return StorageError(key, f"{code or type(error).__name__}: {str(error)[:300]}")
