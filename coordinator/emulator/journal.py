"""Every change to the local server's bucket and table, on disk before the request is answered.

A periodic snapshot left a window (seconds, then more than a minute at 2,300 objects) in which
a ``kill -9`` lost submitted jobs and rolled finished ones back. So the server writes each change
down as part of the request that makes it (format: ``coordinator.emulator.persist``):

- moto's mutating backend methods note what they touch, per thread: ``S3Backend.put_object`` and
  ``delete_object`` (every put, copy, multipart completion and delete ends in one of them) and
  ``DynamoDBBackend.put_item``, ``update_item`` and ``delete_item`` (so do BatchWriteItem and
  TransactWriteItems);
- at the end of the request, still under moto's lock (``moto_lock.set_after_request``), the
  journal reads the resulting state of each (an object's body goes to its file) and appends one
  line each: the journal's order is the order in which moto changed its state;
- after the lock is released and before the response goes back, it syncs the files to disk (one
  fsync covers every request waiting at that moment).

A failed request or a rolled-back transaction writes the state as it is: unchanged, harmlessly.
Every ``compact_after`` changes (or ``compact_bytes``), and when the server stops, the journal is
folded into a snapshot, so restoring never replays more than that.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from coordinator.emulator import moto_lock
from coordinator.emulator.persist import DataDir, item_id, sync_directory, sync_file, write_atomic
from coordinator.storage.state import now

COMPACT_AFTER = 20_000  # journal lines between snapshots
COMPACT_BYTES = 64 << 20  # or journal bytes (a job record carries its spec and plan)
_touched = threading.local()  # what this thread's request changed: [(kind, backend, name, key)]
_active: Journal | None = None
_hooks_guard = threading.Lock()


class Journal:
    """Journal one bucket and one table of moto's backends into ``data`` (module docstring)."""

    def __init__(self, data: DataDir, bucket: str, table: str, *, account: str, region: str,
                 compact_after: int = COMPACT_AFTER, compact_bytes: int = COMPACT_BYTES):
        self.data = data
        self.bucket, self.table = bucket, table
        self.account, self.region = account, region
        self.compact_after, self.compact_bytes = compact_after, compact_bytes
        self._fd: int | None = None
        self._written = 0  # commits appended
        self._synced = 0  # commits known to be on disk
        self._lines = self._bytes = 0  # journaled since the last snapshot
        self._renamed = False  # object files renamed since the folder was last synced
        self._sync_lock = threading.Lock()

    # --- lifecycle -----------------------------------------------------------------------------
    def attach(self) -> Journal:
        """Snapshot what moto holds now, then journal every change (one journal at a time)."""
        global _active
        install_hooks()
        with moto_lock.LOCK:
            if _active is not None:
                raise RuntimeError("a journal is already attached")
            self._snapshot(prune=True)
            _active = self
            moto_lock.set_after_request(_commit)
        return self

    def detach(self) -> None:
        """Fold the journal into a snapshot and stop journaling (idempotent)."""
        global _active
        with moto_lock.LOCK:
            if _active is not self:
                return
            _active = None
            moto_lock.set_after_request(None)
            try:
                self._snapshot()
            finally:
                with self._sync_lock:
                    self._close()

    # --- one request ---------------------------------------------------------------------------
    def commit(self, touched: list[tuple]) -> moto_lock.Settle | None:
        """Append the resulting state of what a request touched (under moto's lock); returns
        what makes it durable, to run once the lock is released."""
        at = now()
        lines, files = [], []
        for kind, backend, name, key in dict.fromkeys(touched):
            line, path = (self._object(backend, name, key) if kind == "s3"
                          else self._item(backend, name, json.loads(key)))
            lines.append(json.dumps({**line, "at": at}, separators=(",", ":")).encode() + b"\n")
            if path is not None:
                files.append(path)
        block = b"".join(lines)
        os.write(self._fd, block)  # one write: a crash cuts at most its last line
        self._renamed = self._renamed or bool(files)  # before it counts: see _settle
        self._written += 1
        self._lines += len(lines)
        self._bytes += len(block)
        if self._lines >= self.compact_after or self._bytes >= self.compact_bytes:
            self._snapshot()  # durable before it returns
            return None
        written = self._written
        return lambda: self._settle(written, files)

    def _object(self, backend, bucket: str, key: str) -> tuple[dict, Path | None]:
        from moto.s3.models import FakeKey

        current = backend.get_bucket(bucket).keys.get(key)
        path = self.data.object_path(key)
        if isinstance(current, FakeKey):
            write_atomic(path, current.value)
            return {"s3": key, "etag": current.etag}, path
        path.unlink(missing_ok=True)
        return {"s3": key, "gone": True}, None

    def _item(self, backend, table: str, key: dict) -> tuple[dict, None]:
        item = backend.get_item(table, key)
        if item is None:
            return {"key": key, "gone": True}, None
        return {"key": key, "item": item.to_json()["Attributes"]}, None

    def _settle(self, written: int, files: list[Path]) -> None:
        """Sync the objects' files, then their folder and the journal up to commit ``written``
        (unless a sync that started later already covered it: one covers all who wait)."""
        for path in files:
            sync_file(path)
        with self._sync_lock:
            if self._synced >= written or self._fd is None:
                return
            target = self._written  # appended (and renamed) before it was counted
            if self._renamed:
                self._renamed = False
                sync_directory(self.data.objects)
            os.fsync(self._fd)
            self._synced = max(self._synced, target)

    # --- snapshots -----------------------------------------------------------------------------
    def _snapshot(self, prune: bool = False) -> None:
        """Write what moto holds as a snapshot and start a new journal (under moto's lock)."""
        from moto.dynamodb.models import dynamodb_backends
        from moto.s3.models import FakeKey, s3_backends

        with self._sync_lock:
            keys = s3_backends[self.account]["aws"].get_bucket(self.bucket).keys
            objects = {}
            for key in list(keys):
                current = keys.get(key)
                if isinstance(current, FakeKey):
                    objects[key] = current.etag
                    path = self.data.object_path(key)
                    if not path.exists():  # put before the journal was attached
                        self.data.objects.mkdir(parents=True, exist_ok=True)
                        write_atomic(path, current.value)
                        sync_file(path)
            table = dynamodb_backends[self.account][self.region].get_table(self.table)
            items = [item.to_json()["Attributes"] for item in table.all_items()]
            names = [n for n in (table.hash_key_attr, table.range_key_attr) if n]
            number = self.data.write_snapshot(objects, items, names)
            if prune:
                self.data.prune(set(objects))
            self._close()
            self._fd = os.open(self.data.journal_path(number), os.O_WRONLY | os.O_APPEND)
            self._synced = self._written
            self._lines = self._bytes = 0

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


# --- moto's side ---------------------------------------------------------------------------------
def _commit() -> moto_lock.Settle | None:
    """moto_lock's after-request hook: journal what this thread's request touched."""
    touched = getattr(_touched, "changes", None)
    if not touched:
        return None
    _touched.changes = []
    journal = _active
    return journal.commit(touched) if journal is not None else None


def _note(kind: str, backend, name: str, key: Any) -> None:
    changes = getattr(_touched, "changes", None)
    if changes is None:
        changes = _touched.changes = []
    changes.append((kind, backend, name, key))


def _s3_target(backend, args: tuple, kwargs: dict) -> tuple | None:
    bucket = kwargs.get("bucket_name", args[0] if args else None)
    key = kwargs.get("key_name", args[1] if len(args) > 1 else None)
    journal = _active
    if journal is None or bucket != journal.bucket or not isinstance(key, str):
        return None
    return ("s3", backend, bucket, key)


def _item_target(backend, args: tuple, kwargs: dict, given: str) -> tuple | None:
    """The key of the item a put (``given="item_attrs"``) or update/delete (``"key"``) names."""
    table = kwargs.get("table_name", args[0] if args else None)
    value = kwargs.get(given, args[1] if len(args) > 1 else None)
    journal = _active
    if journal is None or table != journal.table or not isinstance(value, dict):
        return None
    try:
        schema = backend.get_table(table)
        key = {name: value[name] for name in (schema.hash_key_attr, schema.range_key_attr)
               if name}
    except Exception:  # moto refuses the request itself, in its own words
        return None
    return ("ddb", backend, table, item_id(key))


def _noting(method, target, *extra):
    """``method`` that first notes what it is about to change."""
    def noted(backend, *args, **kwargs):
        if _active is not None:
            touched = target(backend, args, kwargs, *extra)
            if touched is not None:
                _note(*touched)
        return method(backend, *args, **kwargs)

    noted.sgc_journaled = True
    return noted


def install_hooks() -> None:
    """Wrap moto's mutating backend methods (idempotent; they note only while attached)."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.s3.models import S3Backend

    with _hooks_guard:
        if getattr(S3Backend.put_object, "sgc_journaled", False):
            return
        S3Backend.put_object = _noting(S3Backend.put_object, _s3_target)
        S3Backend.delete_object = _noting(S3Backend.delete_object, _s3_target)
        DynamoDBBackend.put_item = _noting(DynamoDBBackend.put_item, _item_target, "item_attrs")
        DynamoDBBackend.update_item = _noting(DynamoDBBackend.update_item, _item_target, "key")
        DynamoDBBackend.delete_item = _noting(DynamoDBBackend.delete_item, _item_target, "key")
