"""The `sgc local up` server's state on disk, so a crash (``kill -9``) loses at most seconds.

moto keeps everything in memory and has no persistence in server mode, so the server snapshots
what a job needs, through the same API the CLI uses: every S3 object of the bucket (incremental:
only objects whose ETag changed are fetched again) and every DynamoDB item of the table. A
snapshot is written atomically (objects first, then the index that names them), at most every
``interval_s`` seconds and never using more than about a fifth of the time (a slow snapshot waits
longer). On start the last snapshot is loaded back.

What cannot be restored: Step Functions executions (moto cannot re-create a running one). Jobs
that were running, submitted or cancelling are marked on restore: ``failed`` with the error
``EmulatorRestarted`` (``sgc resume JOB --local`` continues them from their stored state), or
``cancelled`` if a cancel was pending. ``restore`` returns what it did, for the CLI to print.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from coordinator.storage.state import Store, now

log = logging.getLogger("sgcflow.emulator.persist")
INTERRUPTED = ("submitted", "running", "cancelling")


class Snapshots:
    """Snapshots of one bucket and one table under ``directory`` (see the module docstring)."""

    def __init__(self, directory: Path, store: Store):
        self.directory = Path(directory)
        self.objects = self.directory / "s3"
        self.store = store
        self._etags: dict[str, str] = {}

    # --- save ----------------------------------------------------------------------------------
    def save(self) -> dict[str, Any]:
        """Write one snapshot; returns its summary (also in ``meta.json``)."""
        self.objects.mkdir(parents=True, exist_ok=True)
        items = self._scan()  # records first: every object a record names was written before it
        index = self._read_index()
        listed = self._list_objects()
        for key, etag in listed.items():
            if index.get(key) == etag:
                continue
            try:
                body = self.store.s3.get_object(Bucket=self.store.bucket, Key=key)["Body"].read()
            except self.store.s3.exceptions.NoSuchKey:  # deleted since the listing
                continue
            _write_atomic(self.objects / _file_name(key), body)
            index[key] = etag
        for key in set(index) - set(listed):
            (self.objects / _file_name(key)).unlink(missing_ok=True)
            del index[key]
        _write_atomic(self.directory / "s3-index.json", json.dumps(index).encode())
        _write_atomic(self.directory / "dynamodb.json", json.dumps(items).encode())
        meta = {"saved_at": now(), "objects": len(index), "items": len(items)}
        _write_atomic(self.directory / "meta.json", json.dumps(meta).encode())
        return meta

    def run(self, stop: threading.Event, interval_s: float = 2.0) -> None:
        """Snapshot until ``stop`` is set (then once more); errors are logged, never fatal."""
        while True:
            started = time.monotonic()
            try:
                self.save()
            except Exception as error:  # a snapshot failing must not take the server down
                log.warning("snapshot failed: %s", error)
            spent = time.monotonic() - started
            if stop.wait(max(interval_s, 4 * spent)):
                break
        try:
            self.save()
        except Exception as error:
            log.warning("final snapshot failed: %s", error)

    # --- restore -------------------------------------------------------------------------------
    def restore(self) -> dict[str, Any] | None:
        """Load the last snapshot into the (empty) server; None when there is none."""
        meta_file = self.directory / "meta.json"
        if not meta_file.exists():
            return None
        meta = json.loads(meta_file.read_text())
        index = self._read_index()
        restored = 0
        for key in index:
            path = self.objects / _file_name(key)
            if path.exists():
                self.store.s3.put_object(Bucket=self.store.bucket, Key=key,
                                         Body=path.read_bytes())
                restored += 1
        items = json.loads((self.directory / "dynamodb.json").read_text())
        for start in range(0, len(items), 25):
            batch = [{"PutRequest": {"Item": item}} for item in items[start:start + 25]]
            pending = {self.store.table: batch}
            while pending:
                pending = self.store.ddb.batch_write_item(RequestItems=pending).get(
                    "UnprocessedItems") or {}
        return {"saved_at": meta["saved_at"], "objects": restored, "items": len(items),
                "interrupted": self._mark_interrupted()}

    def _mark_interrupted(self) -> dict[str, str]:
        """Jobs whose execution died with the old server: what they are now."""
        marked = {}
        for run_id in self.store.jobs():
            status = self.store.job(run_id).get("status")
            if status not in INTERRUPTED:
                continue
            if status == "cancelling":
                self.store.update_job(run_id, {"status": "cancelled", "finished": now()})
                marked[run_id] = "cancelled"
                continue
            self.store.update_job(run_id, {"status": "failed", "error": {
                "type": "EmulatorRestarted",
                "message": "the local emulator was restarted while this job ran; its "
                           "execution is lost (the stored state is not): `sgc resume "
                           f"{run_id} --local` continues it"}})
            marked[run_id] = "failed"
        return marked

    def forget(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    # --- helpers -------------------------------------------------------------------------------
    def _read_index(self) -> dict[str, str]:
        path = self.directory / "s3-index.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def _list_objects(self) -> dict[str, str]:
        pages = self.store.s3.get_paginator("list_objects_v2").paginate(Bucket=self.store.bucket)
        return {o["Key"]: o["ETag"] for page in pages for o in page.get("Contents", [])}

    def _scan(self) -> list[dict]:
        items, kwargs = [], {}
        while True:
            page = self.store.ddb.scan(TableName=self.store.table, ConsistentRead=True, **kwargs)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs = {"ExclusiveStartKey": page["LastEvaluatedKey"]}


def _file_name(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    scratch = path.with_name(f".{path.name}.tmp")
    scratch.write_bytes(data)
    os.replace(scratch, path)
