"""Checksums for what the coordinator reads back from S3: nothing changed in the bucket is used.

Used by the round loop (``coordinator.control.runner``):

- a worker's completion record holds ``sha256: {job: hex}`` of each result object as written
  (``functions/worker.py``); Collect accepts only results the record vouches for with a digest,
  and Update re-hashes every result it sums (``read_bytes``): on a mismatch that worker is a
  straggler of its round, with the reason;
- ``write_array`` returns the digest of the parameters it stores (the round log keeps it), and
  ``read_array`` checks them before use; workers get it as a task's ``params_sha256``;
- ``manifest_checksum`` is the dataset manifest's digest for the job record (workers given it as
  a task's ``manifest_sha256`` refuse a swapped manifest).

``store``: ``coordinator.storage.state.Store`` or the in-memory ``MemoryStore`` (``put_bytes``,
``get_bytes``).
"""

from __future__ import annotations

import hashlib
import io

import numpy as np

from coordinator.storage.state import Store, missing_object


class IntegrityError(ValueError):
    """An object's bytes do not hash to the digest recorded when it was written."""

    def __init__(self, key: str, expected: str, actual: str):
        super().__init__(f"{key}: sha256 {actual[:16]}..., recorded {expected[:16]}... "
                         "(changed in the bucket since it was written)")
        self.key, self.expected, self.actual = key, expected, actual


class MissingObject(IntegrityError):
    """An object the coordinator wrote (and recorded) is gone from the bucket."""

    def __init__(self, key: str):
        ValueError.__init__(self, f"{key}: missing from the bucket (deleted since it was "
                                  "written)")
        self.key, self.expected, self.actual = key, None, None


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def write_array(store: Store, key: str, array: np.ndarray) -> str:
    """Store ``array`` as .npy at ``key``; the sha256 of the bytes written."""
    body = npy_bytes(array)
    store.put_bytes(key, body)
    return digest(body)


def verify(key: str, body: bytes, expected: str | None) -> bytes:
    """``body``, or IntegrityError when ``expected`` is given and the bytes hash otherwise."""
    if expected is not None:
        actual = digest(body)
        if actual != expected:
            raise IntegrityError(key, expected, actual)
    return body


def read_bytes(store: Store, key: str, expected: str | None) -> bytes:
    """The object's bytes; IntegrityError when ``expected`` is given and they differ,
    MissingObject (naming the key) when the object is gone."""
    try:
        body = store.get_bytes(key)
    except Exception as error:
        if missing_object(error):
            raise MissingObject(key) from None
        raise
    return verify(key, body, expected)


def read_array(store: Store, key: str, expected: str | None) -> np.ndarray:
    """The .npy array at ``key``, checked against ``expected`` first."""
    return np.load(io.BytesIO(read_bytes(store, key, expected)), allow_pickle=False)


def manifest_checksum(store: Store, prefix: str) -> str:
    """sha256 of ``{prefix}/manifest.json`` as stored (for the job record)."""
    return digest(read_bytes(store, f"{prefix.rstrip('/')}/manifest.json", None))
