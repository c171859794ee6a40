"""Checksum helpers: a result or parameter object changed in S3 after it was written is caught."""

from __future__ import annotations

import io

import numpy as np
import pytest

from coordinator.storage import integrity
from coordinator.storage.state import Store


def test_changed_objects_are_caught_and_unchanged_ones_pass(emulator):
    store = Store()
    recorded = integrity.write_array(store, "runs/i/params/job-000001.npy", np.arange(4.0))
    assert np.array_equal(integrity.read_array(store, "runs/i/params/job-000001.npy", recorded),
                          np.arange(4.0))
    tampered = io.BytesIO()
    np.save(tampered, np.arange(4.0) + 1e-2)
    store.s3.put_object(Bucket=store.bucket, Key="runs/i/params/job-000001.npy",
                        Body=tampered.getvalue())
    with pytest.raises(integrity.IntegrityError, match="changed in the bucket") as caught:
        integrity.read_array(store, "runs/i/params/job-000001.npy", recorded)
    assert caught.value.expected == recorded
    store.put_json("datasets/i/manifest.json", {"format": "x"})
    first = integrity.manifest_checksum(store, "datasets/i")
    assert len(first) == 64 and first == integrity.manifest_checksum(store, "datasets/i/")
    store.put_json("datasets/i/manifest.json", {"format": "y"})
    assert integrity.manifest_checksum(store, "datasets/i") != first
