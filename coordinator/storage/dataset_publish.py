"""Publish a prepared dataset into the stack's bucket under its content address.

The prefix is ``datasets/sha256-<manifest digest>`` (``contract.datasets.content_prefix``): the
parts are written first, the manifest last, so a reader that finds the manifest finds every
part it lists. Publishing what is already there writes nothing.
"""

from __future__ import annotations

from typing import Any

from coordinator.contract.datasets import MANIFEST, content_prefix
from coordinator.storage import dataset_prep, integrity


def publish(store: Any, manifest: dict[str, Any] | bytes, parts: dict[str, bytes]
            ) -> tuple[str, str]:
    """(prefix, manifest sha256) of the dataset in ``store``'s bucket, uploaded if needed;
    ``manifest`` as a dict, or as the exact bytes of a prepared folder's manifest."""
    body = manifest if isinstance(manifest, bytes) else dataset_prep.manifest_bytes(manifest)
    digest = integrity.digest(body)
    prefix = content_prefix(digest)
    if _complete(store, prefix, digest, parts):
        return prefix, digest
    for name, blob in parts.items():
        store.put_bytes(f"{prefix}/{name}", blob)
    store.put_bytes(f"{prefix}/{MANIFEST}", body)
    return prefix, digest


def _complete(store: Any, prefix: str, digest: str, parts: dict[str, bytes]) -> bool:
    """Whether the manifest is there with the right bytes and every part beside it."""
    key = f"{prefix}/{MANIFEST}"
    if not store.exists(key):
        return False
    if integrity.digest(store.get_bytes(key)) != digest:
        return False  # the content address was overwritten: write it again
    present = set(store.list_keys(f"{prefix}/"))
    return all(f"{prefix}/{name}" in present for name in parts)
