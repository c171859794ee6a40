"""A job's dataset in S3, partitioned the way its scheme needs (storage.dataset_prep does the
work).

The prefix depends only on the dataset spec and the partition fractions, so jobs with the same
scheme and data share one copy, and a re-run Plan step finds it already there. What is there is
never trusted by its name: the Plan step builds the dataset from its definition (deterministic)
and reuses the stored copy only if its partitions' digests are the built ones; otherwise (a
partition swapped together with its manifest, a copy from another version) it writes the
built one over it. The plan then fixes the manifest's digest and every partition's; workers
refuse a manifest that does not hash to the plan's digest, and the partitions it lists are
checked against their digests (docs/security.md).

A ``dataset.path`` was read, cut for the scheme and uploaded at submit
(``coordinator/backends/dataset_upload.py``): the stored spec names its prefix and manifest
digest, which Plan checks and records. Only an ``s3://`` dataset that submit did not upload (in
another bucket, or cut into other partitions) is read here, checked part by part, and cut again
under its own content address.
"""

from __future__ import annotations

import hashlib
import json
import logging

import numpy as np

from coordinator.control.plan import DatasetInfo
from coordinator.storage import dataset_prep, integrity
from coordinator.storage.state import Store

log = logging.getLogger("sgcflow.coordinator")


def load_table(spec: dict) -> dataset_prep.Table:
    """The whole dataset in memory (what the full-batch reference trains on)."""
    options = {k: spec[k] for k in ("rows", "features", "classes", "seed") if k in spec}
    return dataset_prep.load(spec["name"], **options)


def prefix_for(spec: dict, sizes: list[float]) -> str:
    digest = hashlib.sha256(json.dumps([spec, [round(s, 15) for s in sizes]],
                                       sort_keys=True).encode()).hexdigest()[:10]
    name = "".join(c if c.isalnum() or c in "-_" else "-" for c in spec["name"])[-40:]
    return f"datasets/{name}-k{len(sizes)}-{digest}"


def prepare(store: Store, spec: dict, sizes: list[float]) -> DatasetInfo:
    """The dataset partitioned into ``sizes`` fractions, in the bucket exactly as its definition
    builds it (written unless an identical copy is there); its description with the digests
    the job will hold its workers to."""
    if "path" in spec:
        return _from_path(store, spec, sizes)
    prefix = prefix_for(spec, sizes)
    manifest_key = f"{prefix}/manifest.json"
    try:
        table = load_table(spec)
    except dataset_prep.DatasetError as error:
        from coordinator.spec.jobspec import JobSpecError

        raise JobSpecError([(f"dataset.{error.field}".replace("dataset.dataset", "dataset"),
                             str(error))]) from error
    manifest, parts = dataset_prep.build(table, sizes=list(sizes), seed=int(spec.get("seed", 0)))
    stored = store.get_json(manifest_key) if store.exists(manifest_key) else None
    if stored is None or _digests(stored) != _digests(manifest):
        if stored is not None:
            log.warning("dataset %s differs from its definition (%s): written again", prefix,
                        "partitions changed" if stored.get("partitions") else "manifest")
        dataset_prep.write(f"s3://{store.bucket}/{prefix}", parts, manifest, store.s3)
        stored = manifest
    return DatasetInfo(prefix=prefix, rows=int(stored["n_rows"]),
                       n_features=int(stored["n_features"]),
                       n_classes=int(stored["n_classes"]),
                       partition_rows=tuple(int(p["rows"]) for p in stored["partitions"]),
                       manifest_sha256=integrity.manifest_checksum(store, prefix),
                       partition_sha256=_digests(stored), image_shape=_image_shape(stored))


def _image_shape(manifest: dict) -> tuple[int, ...] | None:
    shape = manifest.get("image_shape")
    return tuple(int(v) for v in shape) if shape else None


def _digests(manifest: dict) -> tuple[str, ...]:
    parts = manifest.get("partitions")
    return tuple(str(p.get("sha256")) for p in parts) if isinstance(parts, list) else ()


def _from_path(store: Store, spec: dict, sizes: list[float]) -> DatasetInfo:
    """The dataset of a ``dataset.path`` spec, checked against the digest submit recorded."""
    from coordinator.spec.jobspec import JobSpecError
    from coordinator.storage import dataset_publish, dataset_sources

    url, expected = spec["path"], spec.get("manifest_sha256")
    if not url.startswith("s3://"):
        raise JobSpecError([("dataset.path", f"{url} is a local path: `sgc submit` uploads it "
                                             "into the stack's bucket (this job bypassed it)")])
    try:
        body = dataset_sources.read_manifest(url, s3=store.s3)
        digest = integrity.digest(body)
        if expected is not None and digest != expected:
            raise dataset_prep.DatasetError(
                "manifest_sha256", f"{url}/manifest.json hashes to {digest[:16]}..., submit "
                                   f"recorded {expected[:16]}... (changed since)")
        manifest = dataset_sources.parse_manifest(body, url)
        found = dataset_sources.shape(manifest)
        if spec.get("shape") and found != spec["shape"]:
            raise dataset_prep.DatasetError("shape", f"{url} holds {found}, submit recorded "
                                                     f"{spec['shape']}")
        bucket, prefix = dataset_sources.split_s3(url)
        if bucket != store.bucket or not dataset_sources.fits(manifest, sizes):
            table = dataset_sources.read_prepared(url, s3=store.s3, expected_sha256=digest)[0]
            manifest, parts = dataset_prep.build(table, sizes=list(sizes), shuffle=False,
                                                 stamp=False)
            prefix, digest = dataset_publish.publish(store, manifest, parts)
    except dataset_prep.DatasetError as error:
        raise JobSpecError([(f"dataset.{error.field}", str(error))]) from error
    return DatasetInfo(prefix=prefix, rows=int(manifest["n_rows"]),
                       n_features=int(manifest["n_features"]),
                       n_classes=int(manifest["n_classes"]),
                       partition_rows=tuple(int(p["rows"]) for p in manifest["partitions"]),
                       manifest_sha256=digest, partition_sha256=_digests(manifest),
                       image_shape=_image_shape(manifest))


def shuffled_table(spec: dict) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) of the whole dataset (row order does not matter for full-batch sums)."""
    table = load_table(spec)
    return table.features, table.labels
