"""Checksums for what the coordinator reads back from S3: nothing changed in the bucket is used.

Helpers for Collect/Update (the wiring lives in the round steps):

- a worker's completion record holds ``sha256: {job: hex}`` of each result object as written
  (``functions/worker.py``); ``read_array(store, key, expected)`` re-hashes what it reads and
  raises ``IntegrityError`` on a mismatch (that worker is then a straggler, with the reason);
- ``write_array`` returns the digest of the parameters it stores, for the round log, and
  ``read_array`` checks them before use;
- ``manifest_checksum`` is the dataset manifest's digest for the job record (workers given it as
  a task's ``manifest_sha256`` refuse a swapped manifest).
"""

from __future__ import annotations

import hashlib
import io

import numpy as np

from coordinator.state import Store


class IntegrityError(ValueError):
    """An object's bytes do not hash to the digest recorded when it was written."""

    def __init__(self, key: str, expected: str, actual: str):
        super().__init__(f"{key}: sha256 {actual[:16]}..., recorded {expected[:16]}... "
                         "(changed in the bucket since it was written)")
        self.key, self.expected, self.actual = key, expected, actual


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_array(store: Store, key: str, array: np.ndarray) -> str:
    """Store ``array`` as .npy at ``key``; the sha256 of the bytes written."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    body = buffer.getvalue()
    store.s3.put_object(Bucket=store.bucket, Key=key, Body=body)
    return digest(body)


def read_bytes(store: Store, key: str, expected: str | None) -> bytes:
    """The object's bytes; IntegrityError when ``expected`` is given and they differ."""
    body = store.s3.get_object(Bucket=store.bucket, Key=key)["Body"].read()
    if expected is not None:
        actual = digest(body)
        if actual != expected:
            raise IntegrityError(key, expected, actual)
    return body


def read_array(store: Store, key: str, expected: str | None) -> np.ndarray:
    """The .npy array at ``key``, checked against ``expected`` first."""
    return np.load(io.BytesIO(read_bytes(store, key, expected)), allow_pickle=False)


def manifest_checksum(store: Store, prefix: str) -> str:
    """sha256 of ``{prefix}/manifest.json`` as stored (for the job record)."""
    return digest(read_bytes(store, f"{prefix.rstrip('/')}/manifest.json", None))
