"""An in-memory Store with the same methods and write semantics as ``storage.state.Store``.

For fast tests of the round steps (milliseconds, no moto) and for benchmarks that must not
measure moto: conditional writes fail the same way, objects are bytes (a read returns a fresh
copy, as a download would), and ``calls`` counts every store call by name.
"""

from __future__ import annotations

import copy
import io
import json
import threading
from collections import Counter
from typing import Any

import numpy as np

from coordinator.storage.state import ROUND_FIELDS, JobNotFound, late_pairs


class MemoryStore:
    def __init__(self, bucket: str = "memory-bucket"):
        self.bucket = bucket
        self.objects: dict[str, bytes] = {}
        self.jobs_: dict[str, dict[str, Any]] = {}
        self.round_log: dict[tuple[str, int], dict[str, Any]] = {}
        self.completion_records: dict[tuple[str, int], dict[int, dict]] = {}
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _count(self, name: str) -> None:
        with self._lock:
            self.calls[name] += 1

    # --- job record ----------------------------------------------------------------------------
    def create_job(self, run_id: str, fields: dict[str, Any]) -> bool:
        self._count("create_job")
        if run_id in self.jobs_:
            return False
        self.jobs_[run_id] = copy.deepcopy(fields)
        return True

    def job(self, run_id: str) -> dict[str, Any]:
        self._count("job")
        if run_id not in self.jobs_:
            raise JobNotFound(run_id)
        return {**copy.deepcopy(self.jobs_[run_id]), "job": run_id}

    def update_job(self, run_id: str, fields: dict[str, Any], *,
                   if_round: int | None = None) -> bool:
        self._count("update_job")
        record = self.jobs_.setdefault(run_id, {})
        if if_round is not None and record.get("round") != if_round:
            return False
        record.update(copy.deepcopy(fields))
        return True

    # --- round log -----------------------------------------------------------------------------
    def record_round(self, run_id: str, t: int, field: str, value: Any) -> tuple[bool, Any]:
        self._count("record_round")
        if field not in ROUND_FIELDS:
            raise ValueError(f"round field must be one of {ROUND_FIELDS}, got {field!r}")
        entry = self.round_log.setdefault((run_id, t), {})
        if field in entry:
            return False, copy.deepcopy(entry[field])
        entry[field] = copy.deepcopy(value)
        if field == "collect":
            entry["stragglers"] = list(value["stragglers"])
            entry["late"] = late_pairs(value)
        return True, value

    def commit_round(self, run_id: str, t: int, fields: dict[str, Any], job_fields: dict[str, Any],
                     next_dispatch: dict[str, Any] | None = None) -> bool:
        self._count("commit_round")
        entry = self.round_log.setdefault((run_id, t), {})
        following = self.round_log.get((run_id, t + 1), {})
        if (next(iter(fields)) in entry or self.jobs_.get(run_id, {}).get("round") != t - 1
                or (next_dispatch is not None and "dispatch" in following)):
            return False
        entry.update(copy.deepcopy(fields))
        if "collect" in fields:
            entry["stragglers"] = list(fields["collect"]["stragglers"])
            entry["late"] = late_pairs(fields["collect"])
        self.jobs_[run_id].update(copy.deepcopy(job_fields))
        if next_dispatch is not None:
            self.round_log.setdefault((run_id, t + 1), {})["dispatch"] = copy.deepcopy(
                next_dispatch)
        return True

    def round(self, run_id: str, t: int) -> dict[str, Any]:
        self._count("round")
        return copy.deepcopy(self.round_log.get((run_id, t), {}))

    def rounds(self, run_id: str, only: str | tuple[str, ...] | None = None
               ) -> list[dict[str, Any]]:
        self._count("rounds")
        wanted = (only,) if isinstance(only, str) else only
        out = []
        for (owner, t), entry in sorted(self.round_log.items(), key=lambda item: item[0][1]):
            if owner != run_id:
                continue
            fields = {f: entry[f] for f in wanted if f in entry} if wanted else entry
            out.append({"round": t, **copy.deepcopy(fields)})
        return out

    def stragglers(self, run_id: str) -> dict[int, list[int]]:
        return {r: s for r, (s, _) in self.observations(run_id).items()}

    def observations(self, run_id: str) -> dict[int, tuple[list[int], list[list[int]]]]:
        return {e["round"]: (e["stragglers"], e.get("late", []))
                for e in self.rounds(run_id, only=("stragglers", "late")) if "stragglers" in e}

    def completion_count(self, run_id: str, t: int) -> int:
        return len(self.completions(run_id, t))

    def completions(self, run_id: str, t: int) -> dict[int, dict[str, Any]]:
        self._count("completions")
        return copy.deepcopy(self.completion_records.get((run_id, t), {}))

    def complete(self, run_id: str, t: int, worker: int, status: str = "ok", **fields) -> None:
        """What a worker's completion write does (tests)."""
        self.completion_records.setdefault((run_id, t), {})[worker] = {"status": status, **fields}

    # --- objects -------------------------------------------------------------------------------
    def put_array(self, key: str, array: np.ndarray) -> None:
        self._count("put_array")
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        self.objects[key] = buffer.getvalue()

    def put_bytes(self, key: str, body: bytes) -> None:
        self._count("put_bytes")
        self.objects[key] = bytes(body)

    def list_keys(self, prefix: str) -> list[str]:
        self._count("list_keys")
        return sorted(k for k in self.objects if k.startswith(prefix))

    def get_bytes(self, key: str) -> bytes:
        self._count("get_bytes")
        if key not in self.objects:
            raise KeyError(f"NoSuchKey: {key}")
        return bytes(memoryview(self.objects[key]))  # a fresh copy, as a download is

    def get_versioned(self, key: str) -> tuple[bytes, str | None]:
        return self.get_bytes(key), None

    def get_array(self, key: str) -> np.ndarray:
        self._count("get_array")
        if key not in self.objects:
            raise KeyError(f"NoSuchKey: {key}")
        return np.load(io.BytesIO(self.objects[key]), allow_pickle=False)

    def exists(self, key: str) -> bool:
        self._count("exists")
        return key in self.objects

    def put_json(self, key: str, value: Any) -> None:
        self._count("put_json")
        self.objects[key] = json.dumps(value).encode()

    def get_json(self, key: str) -> Any:
        self._count("get_json")
        return json.loads(self.objects[key])
