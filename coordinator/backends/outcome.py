"""A job's result as the user sees it, always consistent with what is in the bucket.

A job that ends normally has ``runs/{job}/result.json`` (written by Finalize). A job cancelled at
once (``sgc cancel --now``), or whose emulator was restarted, may have none: the result is then
summarized here from the round log, marked ``partial``. Either way, each model's
``final_params_key`` names the newest parameter object that exists (after a cancel, the planned
final key was never written), with ``final_iteration``: how many updates those parameters hold,
``final_params_sha256`` (as recorded when written, and checked: an object whose bytes no longer
hash to it is never offered; ``params_problem`` says why) and ``final_params_version`` (the S3
version id of what was checked).
"""

from __future__ import annotations

import json
import re
from typing import Any

from botocore.exceptions import ClientError

from coordinator.storage.state import Store, missing_object

_PARAMS = re.compile(r"/params/job-(\d{6})\.npy$")


class NoResult(ValueError):
    """The job has no result (yet): the message says why and what to run."""


def job_result(store: Store, run_id: str, record: dict[str, Any]) -> dict[str, Any]:
    status = record.get("status")
    if status not in ("done", "cancelled"):
        raise NoResult(f"job {run_id} is {status}: no result yet (`sgc status` / `sgc watch`)"
                       + (f"; error: {record['error']}" if record.get("error") else ""))
    result = _stored(store, run_id)
    if result is None:
        if not record.get("plan"):
            return {"job": run_id, "status": status, "partial": True, "summary": None,
                    "models": [], "note": "cancelled before planning: nothing was trained"}
        from coordinator.control.plan import JobPlan
        from coordinator.control.summary import summarize

        result = summarize(record, JobPlan.from_dict(record["plan"]), store.rounds(run_id))
        result["partial"] = True
    result["status"] = status
    M = len(result["models"])
    written = _params_written(store, run_id)
    recorded = _recorded_digests(store, run_id, record)
    for model in result["models"]:
        jobs = sorted(j for j in written if M and (j - 1) % M == model["model"])
        newest = jobs[-1] if jobs else None
        planned = _PARAMS.search(model.get("final_params_key") or "")
        if planned and int(planned.group(1)) in written:
            newest = int(planned.group(1))
        model["final_params_key"] = None if newest is None else \
            f"runs/{run_id}/params/job-{newest:06d}.npy"
        model["final_iteration"] = None if newest is None else (newest - 1) // M
        if newest is not None:
            _check_final(store, model, recorded.get(newest))
    return result


def _recorded_digests(store: Store, run_id: str, record: dict[str, Any]) -> dict[int, str]:
    """{job: sha256} of every parameter object as written (the plan's initial ones, then each
    round's update record)."""
    digests = _by_job(record.get("params_sha256"))
    for entry in store.rounds(run_id, only="update"):
        digests.update(_by_job((entry.get("update") or {}).get("params_sha256")))
    digests.update(_by_job((record.get("progress") or {}).get("params_sha256")))
    return digests


def _by_job(value: Any) -> dict[int, str]:
    if isinstance(value, str):  # stored as JSON text
        value = json.loads(value)
    return {int(job): str(digest) for job, digest in (value or {}).items()}


def _check_final(store: Store, model: dict[str, Any], expected: str | None) -> None:
    """Offer the final parameters only if they hash to what was recorded when written."""
    from coordinator.storage import integrity

    key = model["final_params_key"]
    try:
        body, version = store.get_versioned(key)
    except Exception as error:
        if not missing_object(error):
            raise
        body, version = None, None
    actual = None if body is None else integrity.digest(body)
    if expected is None or actual != expected:
        problem = ("missing from the bucket" if body is None else
                   "no digest was recorded for it" if expected is None else
                   f"sha256 {actual[:16]}... differs from the recorded {expected[:16]}... "
                   "(changed in the bucket since it was written)")
        model.update(final_params_key=None, final_params_sha256=None,
                     final_params_version=None, params_problem=f"{key}: {problem}")
        return
    model.update(final_params_sha256=expected, final_params_version=version)


def _stored(store: Store, run_id: str) -> dict[str, Any] | None:
    try:
        return store.get_json(f"runs/{run_id}/result.json")
    except (KeyError, ClientError) as error:  # KeyError: the in-memory store (tests)
        if missing_object(error):
            return None
        raise


def _params_written(store: Store, run_id: str) -> set[int]:
    found = set()
    for key in store.list_keys(f"runs/{run_id}/params/"):
        match = _PARAMS.search(key)
        if match:
            found.add(int(match.group(1)))
    return found


def job_status(run_id: str, record: dict[str, Any]) -> dict[str, Any]:
    """Where a job stands (`sgc status --json`, ``sgcflow.Run.status``): status, round of
    rounds, execution, progress, error, scheme, what it started from (``prior``: {from, rounds,
    sha256} for sgcflow with ``learn_from``, else null), workers, and each model's status."""
    from coordinator.control.divergence import model_statuses

    plan = record.get("plan") or {}
    rounds = int(record.get("rounds") or 0) or (plan.get("jobs", 0) + plan.get("T", 0)) or None
    progress = record.get("progress") or {}
    return {"job": run_id, "status": record.get("status"), "round": record.get("round", 0),
            "rounds": rounds, "execution": record.get("execution"),
            "execution_arn": record.get("execution_arn"), "progress": record.get("progress"),
            "error": record.get("error") or None, "scheme": record["spec"]["scheme"],
            "prior": record.get("prior") or None,
            "workers": record["spec"]["workers"],
            "models": model_statuses(len(plan.get("models") or record["spec"]["models"]),
                                     progress.get("stopped") or {}, record.get("status"))}
