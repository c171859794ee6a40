"""A job's dataset is what its definition builds, whatever a prefix holds: the Plan step reuses a
stored copy only if its partitions' digests are the built ones, and the plan fixes every digest
(coordinator/control/run_dataset.py)."""

from __future__ import annotations

import json

from coordinator.control import run_dataset
from coordinator.storage import integrity

SPEC = {"name": "synthetic", "rows": 256, "features": 4, "classes": 2, "seed": 3}
SIZES = [0.25] * 4


def test_the_plan_fixes_the_manifest_and_every_partitions_digest(moto_store):
    info = run_dataset.prepare(moto_store, SPEC, SIZES)
    manifest = moto_store.get_json(f"{info.prefix}/manifest.json")
    assert info.manifest_sha256 == integrity.manifest_checksum(moto_store, info.prefix)
    assert info.partition_sha256 == tuple(p["sha256"] for p in manifest["partitions"])
    again = run_dataset.prepare(moto_store, SPEC, SIZES)  # an identical copy: reused as is
    assert again == info


def test_a_partition_swapped_with_its_manifest_is_rewritten_before_any_job_uses_it(moto_store):
    info = run_dataset.prepare(moto_store, SPEC, SIZES)
    key = f"{info.prefix}/part-00001.parquet"
    forged = moto_store.get_bytes(f"{info.prefix}/part-00002.parquet")  # valid, wrong rows
    manifest = moto_store.get_json(f"{info.prefix}/manifest.json")
    manifest["partitions"][1]["sha256"] = integrity.digest(forged)
    moto_store.put_bytes(key, forged)
    moto_store.put_bytes(f"{info.prefix}/manifest.json", json.dumps(manifest).encode())
    again = run_dataset.prepare(moto_store, SPEC, SIZES)
    assert again.partition_sha256 == info.partition_sha256  # the definition's content
    assert integrity.digest(moto_store.get_bytes(key)) == info.partition_sha256[1]
    assert again.manifest_sha256 == integrity.manifest_checksum(moto_store, info.prefix)
