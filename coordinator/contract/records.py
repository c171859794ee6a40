"""The worker invocation event and the completion record, as both sides build and read them.

Event (one worker, one round; travels in the asynchronous invoke, well under 256 KiB)::

    {"run", "round", "worker", "bucket", "rounds", "workers",
     "tasks": [{"job", "model", "params_key", "dataset", "coefficients": {partition: c},
                "manifest_sha256", "params_sha256"}]}   # the last two when the job recorded them

``rounds`` / ``workers`` (the job's rounds J + T and its n): the bounds the worker holds ``round``
(1..rounds) and ``worker`` (0..n - 1) to, besides the key widths (``keys.MAX_ROUND``,
``keys.MAX_WORKER``); events built before they existed lack them.
``manifest_sha256`` / ``params_sha256``: the digests the coordinator recorded when it planned the
dataset / wrote the parameters; the worker refuses an object whose bytes hash otherwise.

Completion record (DynamoDB, keys from ``keys.record_keys``; written once per delivery, the
same item again on a re-delivery)::

    {"status": "ok" | "error", "results": {job: key}, "timings": {name_s: seconds},
     "checks": {job: {"n": length, "finite": bool}},  # what the worker uploaded, per job
     "sha256": {job: hex},                            # digest of each result object's bytes
     "error_type", "error_message", "error_field"}   # the last three on "error" only

``checks`` and ``sha256`` let Collect accept a result without downloading it (no S3 read on the
round's critical path); Update re-hashes every result it sums against ``sha256``: a result
changed in the bucket makes its worker a straggler of its round (``coordinator.storage.integrity``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from typing import Any

from . import keys

_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")  # with fullmatch: no trailing newline slips through
# The completion-record attributes Collect reads (a projection keeps its query small).
COMPLETION_FIELDS = ("status", "error_type", "error_message", "timings", "checks", "sha256")


def worker_event(run_id: str, round_: int, worker: int, bucket: str, tasks: list[dict],
                 token: str | None = None, *, rounds: int | None = None,
                 workers: int | None = None) -> dict:
    """The invocation event; ``tasks`` already in the shape above; ``token``: what binds the
    worker's completion record to this invocation (``invocation_token``); ``rounds`` and
    ``workers`` (the job's J + T and n) when known."""
    event = {"run": run_id, "round": round_, "worker": worker, "bucket": bucket}
    event.update({k: v for k, v in (("rounds", rounds), ("workers", workers)) if v is not None})
    if token is not None:
        event["token"] = token
    return {**event, "tasks": tasks}


def invocation_token(secret: str, run_id: str, round_: int, worker: int) -> str:
    """HMAC-SHA256 of (run, round, worker) under the job's secret: only the coordinator, which
    holds the secret, and the invocation it sent the token to, know it (docs/security.md)."""
    message = f"{run_id}:{round_}:{worker}".encode()
    return hmac.new(bytes.fromhex(secret), message, hashlib.sha256).hexdigest()


def relay_event(events: list[dict]) -> dict:
    """A two-level fan-out: the worker function, given this event, invokes each of ``events``
    asynchronously and computes nothing itself (``functions/relay.py``)."""
    return {"relay": list(events)}


def task_entry(run_id: str, job: int, model: dict, dataset: str,
               coefficients: dict[int, float], *, manifest_sha256: str | None = None,
               params_sha256: str | None = None) -> dict:
    entry = {"job": job, "model": model, "params_key": keys.params_key(run_id, job),
             "dataset": dataset,
             "coefficients": {str(p): float(c) for p, c in sorted(coefficients.items())}}
    if manifest_sha256 is not None:
        entry["manifest_sha256"] = manifest_sha256
    if params_sha256 is not None:
        entry["params_sha256"] = params_sha256
    return entry


@dataclass(frozen=True)
class Completion:
    """A worker's completion record as the coordinator sees it."""

    worker: int
    ok: bool
    error: str = ""
    timings: dict[str, Any] = field(default_factory=dict)
    checks: dict[str, Any] = field(default_factory=dict)
    sha256: dict[str, str] = field(default_factory=dict)
    token: str | None = None  # the invocation's token the worker echoed

    def problem(self, job: int, n_values: int, key: str) -> str | None:
        """Why the record does not vouch for a usable result of ``job`` (None: it does)."""
        check = self.checks.get(str(job))
        if check is None:
            return f"garbage: {key}: the completion record does not describe this result"
        if int(check.get("n", -1)) != n_values:
            return f"garbage: {key}: length {check.get('n')}, expected {n_values}"
        if not check.get("finite", False):
            return f"garbage: {key}: non-finite entries"
        if not _HEX_SHA256.fullmatch(str(self.sha256.get(str(job), ""))):
            return f"integrity: {key}: the completion record holds no sha256 of this result"
        return None

    @property
    def seconds(self) -> float:
        """Worker time it reported (download + compute + upload + init)."""
        return float(sum(v for k, v in self.timings.items()
                         if k.endswith("_s") and isinstance(v, int | float)
                         and not isinstance(v, bool)))


def completion_from_item(worker: int, item: dict[str, Any]) -> Completion:
    """From a decoded record (plain dict) to a Completion."""
    if item.get("status") == "ok":
        return Completion(worker, True, "", dict(item.get("timings") or {}),
                          dict(item.get("checks") or {}), dict(item.get("sha256") or {}),
                          item.get("token"))
    return Completion(worker, False, f"error: {item.get('error_type', 'unknown')}: "
                                     f"{item.get('error_message', 'no message')}",
                      dict(item.get("timings") or {}), token=item.get("token"))


def result_checks(vectors: dict[int, Any]) -> dict[str, dict]:
    """The ``checks`` a worker records for its uploaded vectors {job: numpy vector}."""
    import numpy as np

    return {str(job): {"n": int(v.size), "finite": bool(np.isfinite(v).all())}
            for job, v in vectors.items()}
