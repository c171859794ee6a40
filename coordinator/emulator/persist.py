"""The `sgc local up` server's state on disk: a snapshot plus a journal of every change since.

moto keeps everything in memory and has no persistence of its own, so the server writes down
each change to the bucket and the table as it happens (``coordinator.emulator.journal``, before
the request is answered) and folds the journal into a snapshot now and then. This module is the
format and the way back:

- ``s3/<sha256 of key>``: the current body of each object (rewritten in place by every put);
- ``s3-index.json``, ``dynamodb.json``: the objects (key -> ETag) and items of the last snapshot;
- ``meta.json``: the snapshot's commit point (when, how many, which journal follows it);
- ``journal-<n>.jsonl``: one line per change after that snapshot, the *resulting* state of one
  object or item (present, or gone), so replaying it twice changes nothing. A line cut short by
  a crash is the one change that was never acknowledged; it is skipped;
- ``server.lock``: held by the one server using the directory (two would overwrite each other).

On start the server loads the snapshot, replays the journal and puts the result back through the
S3 and DynamoDB APIs (``restore``). What cannot be restored: Step Functions executions (moto
cannot re-create a running one) and old object versions (a restored object has a new version
id). Jobs that were submitted, running or cancelling lost their execution:
``mark_interrupted`` makes them ``failed`` with the error ``EmulatorRestarted`` (``sgc resume
JOB --local`` continues them from their stored state), or ``cancelled`` if a cancel was pending.
The worker invocations in flight died too: the round they served forgets its dispatch (unless
already collected), so that resume invokes it again with the same tasks and reaches the same
parameters as an uninterrupted run. A straggler's late result still due from an earlier round is
lost (the job goes on without it, as if it never came). Finished jobs keep their status and
result.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coordinator.storage.state import Store, now

INTERRUPTED = ("submitted", "running", "cancelling")
LOCK_FILE = "server.lock"


@dataclass
class Saved:
    """What the data directory holds: the objects (key -> ETag), the items, and when."""

    objects: dict[str, str] = field(default_factory=dict)
    items: dict[str, dict] = field(default_factory=dict)  # item_id(key) -> item
    saved_at: float | None = None  # the snapshot's time
    changed_at: float | None = None  # the last journaled change's time (or the snapshot's)
    journal: int = 0  # the journal that follows the snapshot


class DataDir:
    """The files of one server's state under ``directory`` (see the module docstring)."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.objects = self.directory / "s3"

    def object_path(self, key: str) -> Path:
        return self.objects / hashlib.sha256(key.encode()).hexdigest()

    def journal_path(self, number: int) -> Path:
        return self.directory / f"journal-{number}.jsonl"

    def exists(self) -> bool:
        return (self.directory / "meta.json").exists()

    def forget(self) -> None:
        """Delete the saved state (its lock file stays: the caller holds it)."""
        for path in self.directory.iterdir() if self.directory.exists() else ():
            if path.is_dir():
                shutil.rmtree(path)
            elif path.name != LOCK_FILE:
                path.unlink(missing_ok=True)

    def claim(self, blocking: bool) -> int | None:
        """Lock the directory for one server (released when its process ends, even by
        ``kill -9``): the file descriptor, or None if another server holds it."""
        import fcntl

        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    # --- read ----------------------------------------------------------------------------------
    def load(self) -> Saved | None:
        """The snapshot with the journal replayed on top; None when nothing was saved."""
        if not self.exists():
            return None
        meta = json.loads((self.directory / "meta.json").read_text())
        saved = Saved(objects=_read_json(self.directory / "s3-index.json", {}),
                      saved_at=meta["saved_at"], changed_at=meta["saved_at"],
                      journal=meta.get("journal", 0))
        for item in _read_json(self.directory / "dynamodb.json", []):
            saved.items[item_id({k: item[k] for k in meta.get("key", ["pk", "sk"])})] = item
        for change in self.changes(saved.journal):
            apply(saved, change)
        return saved

    def changes(self, number: int) -> list[dict]:
        """The journal's complete lines (a line cut short by a crash was never acknowledged)."""
        path = self.journal_path(number)
        if not path.exists():
            return []
        changes = []
        for line in path.read_bytes().split(b"\n"):
            try:
                changes.append(json.loads(line))
            except ValueError:
                continue
        return changes

    # --- write ---------------------------------------------------------------------------------
    def write_snapshot(self, objects: dict[str, str], items: list[dict],
                       key_names: list[str]) -> int:
        """Write a snapshot of this state and start an empty journal after it; returns the new
        journal's number. Durable before it returns; a crash midway keeps the old snapshot and
        journal, which replay to the same state."""
        self.objects.mkdir(parents=True, exist_ok=True)
        old = _read_json(self.directory / "meta.json", {}).get("journal", 0)
        write_durably(self.directory / "s3-index.json", json.dumps(objects).encode())
        write_durably(self.directory / "dynamodb.json", json.dumps(items).encode())
        number = old + 1
        self.journal_path(number).write_bytes(b"")
        meta = {"saved_at": now(), "objects": len(objects), "items": len(items),
                "journal": number, "key": key_names}
        write_durably(self.directory / "meta.json", json.dumps(meta).encode())
        sync_directory(self.directory)
        for stale in self.directory.glob("journal-*.jsonl"):
            if stale.name != self.journal_path(number).name:
                stale.unlink(missing_ok=True)
        return number

    def prune(self, keys: set[str]) -> None:
        """Remove object files no key names (deleted keys, writes cut short by a crash)."""
        wanted = {self.object_path(key).name for key in keys}
        for path in self.objects.iterdir() if self.objects.exists() else ():
            if path.name not in wanted:
                path.unlink(missing_ok=True)


def apply(saved: Saved, change: dict) -> None:
    """One journal line onto the state read so far."""
    if "s3" in change:
        if change.get("gone"):
            saved.objects.pop(change["s3"], None)
        else:
            saved.objects[change["s3"]] = change["etag"]
    elif "key" in change:
        if change.get("gone"):
            saved.items.pop(item_id(change["key"]), None)
        else:
            saved.items[item_id(change["key"])] = change["item"]
    saved.changed_at = change.get("at", saved.changed_at)


def item_id(key: dict) -> str:
    return json.dumps(key, sort_keys=True)


# --- the way back --------------------------------------------------------------------------------
def restore(data: DataDir, store: Store, *, in_process: tuple[str, str] | None = None
            ) -> dict[str, Any] | None:
    """Put the saved objects and items back into the (empty) server; None when none was saved.
    Call before the journal is attached: what comes back is already on disk.
    ``in_process``: the (account, region) of the moto backends of this very process (the server
    restoring itself), written directly: a request per object took 10-15 ms, 7.5 s for two small
    finished jobs, paid on every `sgc local up`."""
    saved = data.load()
    if saved is None:
        return None
    files = [(key, data.object_path(key)) for key in saved.objects]
    files = [(key, path) for key, path in files if path.exists()]  # read one at a time below
    items = list(saved.items.values())
    if in_process is not None:
        _put_into_moto(store, files, items, *in_process)
    else:
        _put_through_api(store, files, items)
    return {"saved_at": saved.changed_at, "objects": len(files), "items": len(items)}


def _put_through_api(store: Store, files: list[tuple[str, Path]], items: list[dict]) -> None:
    for key, path in files:
        store.s3.put_object(Bucket=store.bucket, Key=key, Body=path.read_bytes())
    for start in range(0, len(items), 25):
        pending = {store.table: [{"PutRequest": {"Item": item}}
                                 for item in items[start:start + 25]]}
        while pending:
            pending = store.ddb.batch_write_item(RequestItems=pending).get(
                "UnprocessedItems") or {}


def _put_into_moto(store: Store, files: list[tuple[str, Path]], items: list[dict], account: str,
                   region: str) -> None:
    """What the API path does, as the S3 PutObject and DynamoDB PutItem handlers call moto's
    backends (an object gets its ETag and a new version; an item is stored as given)."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.s3.models import s3_backends

    from coordinator.emulator import moto_lock

    with moto_lock.LOCK:
        s3 = s3_backends[account]["global"]
        for key, path in files:
            s3.put_object(store.bucket, key, path.read_bytes())
        ddb = dynamodb_backends[account][region]
        for item in items:
            ddb.put_item(store.table, item)


def mark_interrupted(store: Store) -> dict[str, str]:
    """Jobs whose execution died with the old server: what they are now."""
    marked = {}
    for run_id in store.jobs():
        record = store.job(run_id)
        status = record.get("status")
        if status not in INTERRUPTED:
            continue
        # the worker invocations of the round in flight died with the server too
        store.forget_dispatch(run_id, int(record.get("round", 0)) + 1)
        if status == "cancelling":
            store.update_job(run_id, {"status": "cancelled", "finished": now()})
            marked[run_id] = "cancelled"
            continue
        store.update_job(run_id, {"status": "failed", "error": {
            "type": "EmulatorRestarted",
            "message": "the local emulator was restarted while this job ran; its "
                       "execution is lost (the stored state is not): `sgc resume "
                       f"{run_id} --local` continues it"}})
        marked[run_id] = "failed"
    return marked


# --- files ---------------------------------------------------------------------------------------
def _read_json(path: Path, default: Any) -> Any:
    return json.loads(path.read_text()) if path.exists() else default


def write_durably(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically, its content on disk before the name points at it."""
    scratch = path.with_name(f".{path.name}.tmp")
    with open(scratch, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(scratch, path)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically (durable once the caller fsyncs it: see ``sync_file``)."""
    scratch = path.with_name(f".{path.name}.tmp")
    scratch.write_bytes(data)
    os.replace(scratch, path)


def sync_file(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:  # deleted since: nothing to keep
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_directory(path: Path) -> None:
    """Make renames and unlinks in ``path`` durable (a no-op where directories cannot be synced)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
