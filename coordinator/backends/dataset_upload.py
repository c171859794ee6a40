"""At submit: a ``dataset.path`` read, checked, cut for the scheme and uploaded.

A local file or prepared folder is read here, on the machine that submits (the Plan step runs
in Lambda, where that path does not exist), cut into the scheme's partitions, and uploaded to
``datasets/sha256-<manifest digest>`` in the stack's bucket (``storage/dataset_publish.py``);
an ``s3://`` dataset is only checked (its manifest read and hashed). Either way the stored spec
records the digest, the real shape (rows, features, classes: the resource check runs again on
it before anything is uploaded) and what the user wrote. ``store=None`` does it all but the
upload (`sgc validate`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from coordinator.contract.datasets import content_prefix
from coordinator.spec.jobspec import JobSpec, JobSpecError, validate
from coordinator.storage import dataset_prep, dataset_publish, dataset_sources
from coordinator.storage.dataset_prep import DatasetError
from coordinator.storage.integrity import digest as sha256


def resolve(spec: JobSpec, store: Any = None, upload: bool = True) -> JobSpec:
    """``spec`` with its ``dataset.path`` prepared, uploaded and recorded (unchanged when the
    dataset is a built-in one). ``upload=False``: every check, nothing written."""
    dataset = spec.raw["dataset"]
    if "path" not in dataset:
        return spec
    try:
        if dataset["path"].startswith("s3://"):
            resolved, pending = _remote(dataset, store), None
        else:
            resolved, pending = _local(dataset, spec.session().partition_sizes, store)
    except DatasetError as error:
        field = "dataset.path" if error.field in ("path", "dataset") else \
            f"dataset.{error.field}"
        raise JobSpecError([(field, _without_field(error))]) from None
    checked = validate({**spec.raw, "dataset": resolved})  # the budget on the real shape
    if upload and pending is not None and store is not None:
        dataset_publish.publish(store, *pending)
    return checked


def _local(dataset: dict, sizes: list[float], store: Any) -> tuple[dict, tuple]:
    source = dataset["path"]
    standardize = dataset["standardize"]
    upload = None
    if dataset_sources.is_prepared(source):
        body = dataset_sources.read_manifest(source)
        manifest = dataset_sources.parse_manifest(body, source)
        if dataset_sources.fits(manifest, sizes) and (
                not standardize or "standardize" in manifest):
            table = dataset_sources.read_prepared(source)[0]  # every part checked
            upload = (body, _parts(source, manifest))
    if upload is None:
        table = dataset_sources.load_source(source, label_column=dataset["label_column"],
                                            standardize=standardize)
        _enough_classes(table, source)
        manifest, parts = dataset_prep.build(table, sizes=list(sizes), seed=dataset["seed"],
                                             shuffle=not dataset_sources.is_prepared(source),
                                             stamp=False)
        upload = (dataset_prep.manifest_bytes(manifest), parts)
    digest = sha256(upload[0])
    where = source if store is None else f"s3://{store.bucket}/{content_prefix(digest)}"
    resolved = {**dataset, "path": where,
                "manifest_sha256": digest, "shape": dataset_sources.shape(manifest),
                "source": dataset.get("source", source)}
    return resolved, upload


def _remote(dataset: dict, store: Any) -> dict:
    url = dataset["path"]
    if store is None:
        return dataset  # nothing to read it with (`sgc validate` without a stack)
    body = dataset_sources.read_manifest(url, s3=store.s3)
    digest = sha256(body)
    pinned = dataset.get("manifest_sha256")
    if pinned is not None and pinned != digest:
        raise DatasetError("manifest_sha256", f"{url}/manifest.json hashes to {digest}, the "
                                              f"spec pins {pinned}")
    manifest = dataset_sources.parse_manifest(body, url)
    return {**dataset, "manifest_sha256": digest, "shape": dataset_sources.shape(manifest),
            "source": dataset.get("source", url)}


def _parts(folder: str, manifest: dict) -> dict[str, bytes]:
    return {p["key"]: (Path(folder) / p["key"]).read_bytes() for p in manifest["partitions"]}


def _enough_classes(table: dataset_prep.Table, source: str) -> None:
    if table.n_classes < 2:
        raise DatasetError("path", f"{source}: every row has the same label; a classifier "
                                   "needs at least 2 classes")


def _without_field(error: DatasetError) -> str:
    return str(error).split(": ", 1)[1] if ": " in str(error) else str(error)
