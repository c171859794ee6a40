"""The Lambda worker: one invocation = one worker in one round (docs/contracts.md, "Worker").

For each task (a job, its model, parameters and {partition: coefficient}), the worker downloads
what it needs, computes the coded result sum_p coefficient * [loss_p, grad_p] with the Numba
kernels, and writes it under a deterministic key (a re-delivered event overwrites the same
objects and the same completion record). Phases run download -> compute -> upload over all tasks,
so every input is validated before anything is written, and the timings separate cleanly.

Init (module import) configures Numba and loads every kernel from the cache (or compiles it),
so no invocation pays JIT time; ``init_s`` is reported on the cold invocation.

Trust: the bucket and table come from the worker's own environment (``SGC_BUCKET``,
``SGC_TABLE``), never from the event (an event ``bucket`` must equal ``SGC_BUCKET``); every
S3/DynamoDB failure is a typed ``StorageError``; a task's optional ``manifest_sha256`` (the job
record's checksum of the dataset manifest) must match the manifest read, and its optional
``params_sha256`` (the digest the coordinator recorded when it wrote the parameters) the parameter
object read (else ``ChecksumError``); a non-finite coded result is a ``ResultError``, never
stored.

Completion record (DynamoDB, keys ``contract.keys.record_keys``): ``status`` "ok" | "error",
``results`` {job: S3 key of the coded result}, ``sha256`` {job: sha256 hex digest of that
object's bytes exactly as written} (Collect/Update re-hash what they read and treat a mismatch
as a straggler), ``timings``, and on error ``error_type``, ``error_message``, ``error_field``.
The handler returns the same ``results`` and ``sha256`` maps.
"""

from __future__ import annotations

import time

_INIT_START = time.perf_counter()

from functions import numba_setup  # noqa: E402

numba_setup.configure()  # before numpy loads: Numba and OpenBLAS settings (see numba_setup)

import io  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import threading  # noqa: E402
from typing import Any  # noqa: E402

import boto3  # noqa: E402
import numpy as np  # noqa: E402
from aws_lambda_powertools import Logger  # noqa: E402

from coordinator.contract.errors import (  # noqa: E402
    ChecksumError,
    ConfigError,
    EventError,
    MissingObjectError,
    ResultError,
    WorkerError,
)
from coordinator.contract.keys import (  # noqa: E402
    MAX_JOB,
    MAX_ROUND,
    MAX_WORKER,
    record_keys,
    result_key,
)
from coordinator.contract.models import ModelSpec  # noqa: E402
from coordinator.contract.records import result_checks  # noqa: E402
from functions import kernels  # noqa: E402  (configures Numba first)
from functions.partitions import (  # noqa: E402
    HEX_SHA256,
    MAX_PARTITIONS,
    PartitionStore,
    sha256_hex,
    storage_error,
)

kernels.warm_up()
INIT_S = time.perf_counter() - _INIT_START

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "sgcflow-worker"))
# Matched with fullmatch, never match + "$" (which also matches before a trailing newline).
_RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_S3_KEY = re.compile(r"(?!/)(?!.*(?:^|/)\.\.(?:/|$))[^\x00-\x1f]{1,512}", re.DOTALL)
# A partition index: ASCII digits only ("٣".isdigit() is true, and int("٣") == 3), canonical
# (no leading zero: "1" and "01" would name one partition twice), below MAX_PARTITIONS (the
# 5-digit part-NNNNN key).
_PARTITION = re.compile(r"0|[1-9][0-9]{0,4}")


class _Runtime:
    """Clients and caches that live as long as the execution environment (warm invocations)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cold = True
        self.s3 = boto3.client("s3")
        self.dynamodb = boto3.client("dynamodb")
        self.store = PartitionStore(self.s3)

    def take_cold_flag(self) -> bool:
        with self.lock:
            cold, self.cold = self.cold, False
        return cold


_runtime: _Runtime | None = None
_runtime_lock = threading.Lock()


def runtime() -> _Runtime:
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = _Runtime()
        return _runtime


def reset_runtime() -> None:
    """Forget clients and caches (tests switching moto backends; next invocation counts as cold)."""
    global _runtime
    with _runtime_lock:
        _runtime = None


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Compute and store this worker's coded results for one round; see the module docstring.
    An event with ``relay`` only invokes the listed worker events (``functions.relay``); one
    with ``warm`` is a warm-pool ping that only holds the environment (``functions.prewarm``)."""
    if isinstance(event, dict) and "relay" in event:
        from functions import relay

        return relay.handle(event, context)
    if isinstance(event, dict) and "warm" in event:  # a warm-pool ping (functions/prewarm.py)
        from functions import prewarm

        return prewarm.handle(event, runtime().take_cold_flag(), INIT_S)
    rt = runtime()
    cold = rt.take_cold_flag()
    run_id, round_, worker = _identity(event)
    logger.thread_safe_append_keys(run=run_id, round=round_, worker=worker,
                                   request_id=getattr(context, "aws_request_id", None))
    timings: dict[str, Any] = {"cold_start": cold, "init_s": INIT_S if cold else 0.0,
                               "download_s": 0.0, "compute_s": 0.0, "upload_s": 0.0}
    token = _token(event)
    try:
        results, digests = _run(rt, event, run_id, round_, worker, _bucket(event), timings)
    except Exception as error:
        status = "error"
        _record(rt, run_id, round_, worker, status, {}, {}, timings, error, token=token)
        logger.warning("worker failed", extra={"error_type": type(error).__name__,
                                               "error_message": str(error), **timings})
        logger.thread_safe_clear_keys()
        raise
    # Epoch seconds: a straggler's record lands after its round ended; the coordinator learns
    # its time from this (sgcflow's online choice, coordinator/adaptive/live.py).
    timings["finished_at"] = time.time()
    _record(rt, run_id, round_, worker, "ok", results, digests, timings,
            checks=timings.pop("checks"), token=token)
    logger.info("worker done", extra={"jobs": sorted(results), **timings})
    logger.thread_safe_clear_keys()
    return {"run": run_id, "round": round_, "worker": worker, "status": "ok",
            "results": results, "sha256": digests, "timings": timings}


def _run(rt: _Runtime, event: dict, run_id: str, round_: int, worker: int, bucket: str,
         timings: dict) -> tuple[dict[str, str], dict[str, str]]:
    tasks = _tasks(event)
    start = time.perf_counter()
    loaded = [_download(rt, bucket, i, task) for i, task in enumerate(tasks)]
    compute_start = time.perf_counter()
    coded = [_compute(*item) for item in loaded]
    for task, vector in zip(tasks, coded, strict=True):
        bad = int((~np.isfinite(vector)).sum())
        if bad:
            raise ResultError(f"tasks[job={task['job']}].result",
                              f"{bad} of {vector.size} entries are not finite (overflow: "
                              "coefficients, parameters or data too large)")
    upload_start = time.perf_counter()
    results, digests = {}, {}
    for task, vector in zip(tasks, coded, strict=True):
        key = result_key(run_id, round_, task["job"], worker)
        buffer = io.BytesIO()
        np.save(buffer, vector, allow_pickle=False)
        body = buffer.getvalue()
        try:
            rt.s3.put_object(Bucket=bucket, Key=key, Body=body)
        except Exception as error:
            raise storage_error(key, error) from None
        results[str(task["job"])] = key
        digests[str(task["job"])] = sha256_hex(body)
    end = time.perf_counter()
    timings.update(download_s=compute_start - start, compute_s=upload_start - compute_start,
                   upload_s=end - upload_start,
                   checks=result_checks({t["job"]: v for t, v in zip(tasks, coded,
                                                                     strict=True)}))
    return results, digests


def _download(rt: _Runtime, bucket: str, index: int, task: dict) -> tuple:
    """Fetch and validate one task's parameters and partitions."""
    spec = task["model"]
    params = spec.check_params(_load_npy(rt, bucket, task["params_key"], task["params_sha256"]),
                               task["params_key"])
    manifest = rt.store.manifest(bucket, task["dataset"], task["manifest_sha256"])
    if manifest["n_features"] != spec.n_features:
        raise EventError(f"tasks[{index}].model.n_features",
                         f"{spec.n_features}, but dataset {task['dataset']!r} has "
                         f"{manifest['n_features']} feature columns")
    image = manifest.get("image_shape")
    if spec.kind == "cnn" and image is not None and list(spec.input) != image:
        raise EventError(f"tasks[{index}].model.input",
                         f"{list(spec.input)}, but dataset {task['dataset']!r} holds images of "
                         f"shape {image}")
    parts = []
    for partition, coefficient in task["coefficients"]:
        data = rt.store.load(bucket, task["dataset"], partition, task["manifest_sha256"])
        spec.check_labels(data.y, data.key)
        parts.append((data, coefficient))
    return spec, params, parts


def _compute(spec: ModelSpec, params: np.ndarray, parts: list) -> np.ndarray:
    """sum_p coefficient_p * [loss_p, grad_p] (float64)."""
    coded = np.zeros(spec.n_params + 1)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked, then refused
        for data, coefficient in parts:
            coded += coefficient * kernels.loss_grad(spec, data.X, data.y, params)
    return coded


def _load_npy(rt: _Runtime, bucket: str, key: str, expected_sha256: str | None = None
              ) -> np.ndarray:
    try:
        body = rt.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except rt.s3.exceptions.NoSuchKey:
        raise MissingObjectError(key, f"no such object in bucket {bucket!r}") from None
    except Exception as error:
        raise storage_error(key, error) from None
    actual = None if expected_sha256 is None else sha256_hex(body)
    if actual != expected_sha256:
        raise ChecksumError(f"{key} sha256", f"{actual}, the job recorded {expected_sha256} "
                                             "(changed in the bucket since the coordinator "
                                             "wrote it)")
    try:
        return np.load(io.BytesIO(body), allow_pickle=False)
    except ValueError as error:
        raise EventError(key, f"not a .npy array: {error}") from None


def _identity(event: Any) -> tuple[str, int, int]:
    if not isinstance(event, dict):
        raise EventError("event", f"must be an object, got {type(event).__name__}")
    run_id = event.get("run")
    if not isinstance(run_id, str) or not _RUN_NAME.fullmatch(run_id):
        raise EventError("run", f"must be 1-128 characters from A-Z a-z 0-9 . _ - starting "
                                f"with a letter or digit, got {run_id!r}")
    rounds = _integer(event, "rounds", "rounds", 1, MAX_ROUND, optional=True) or MAX_ROUND
    workers = _integer(event, "workers", "workers", 1, MAX_WORKER + 1,
                       optional=True) or MAX_WORKER + 1
    round_ = _integer(event, "round", "round", 1, rounds)
    worker = _integer(event, "worker", "worker", 0, workers - 1)
    return run_id, round_, worker


def _token(event: dict) -> str | None:
    """The invocation's token, echoed in the completion record (never logged): the coordinator
    accepts a record only with the token it sent this invocation (docs/security.md)."""
    token = event.get("token")
    if token is not None and (not isinstance(token, str) or not HEX_SHA256.fullmatch(token)):
        raise EventError("token", "must be 64 lower-case hex characters")
    return token


def _bucket(event: dict) -> str:
    """The worker's own bucket (SGC_BUCKET); an event naming another one is refused."""
    bucket = os.environ.get("SGC_BUCKET")
    if not bucket:
        raise ConfigError("SGC_BUCKET", "not set: the worker's bucket comes from its own "
                                        "environment, never from the event")
    if "bucket" in event and event["bucket"] != bucket:
        raise EventError("bucket", f"the event names {str(event['bucket'])[:80]!r}, but this "
                                   f"worker serves {bucket!r} (SGC_BUCKET)")
    return bucket


def _tasks(event: dict) -> list[dict]:
    tasks = event.get("tasks")
    if not isinstance(tasks, list) or not tasks:
        raise EventError("tasks", "must be a non-empty list")
    parsed, jobs = [], set()
    for i, task in enumerate(tasks):
        where = f"tasks[{i}]"
        if not isinstance(task, dict):
            raise EventError(where, "must be an object")
        job = _integer(task, "job", f"{where}.job", 1, MAX_JOB)
        if job in jobs:
            raise EventError(f"{where}.job", f"job {job} appears twice in one invocation")
        jobs.add(job)
        for key in ("params_key", "dataset"):
            if not isinstance(task.get(key), str) or not _S3_KEY.fullmatch(task[key]):
                raise EventError(f"{where}.{key}", "must be an S3 key (1-512 characters, no "
                                                   "'..' segment, not starting with '/')")
        digests = {}
        for name in ("manifest_sha256", "params_sha256"):
            digest = digests[name] = task.get(name)
            if digest is not None and (not isinstance(digest, str)
                                       or not HEX_SHA256.fullmatch(digest)):
                raise EventError(f"{where}.{name}", "must be 64 lower-case hex characters")
        try:
            spec = ModelSpec.from_dict(task.get("model"))
        except EventError as error:
            raise EventError(f"{where}.{error.field}", str(error).split(": ", 1)[1]) from None
        parsed.append({"job": job, "model": spec, "params_key": task["params_key"],
                       "dataset": task["dataset"], **digests,
                       "coefficients": _coefficients(task.get("coefficients"), where)})
    return parsed


def _coefficients(raw: Any, where: str) -> list[tuple[int, float]]:
    if not isinstance(raw, dict) or not raw:
        raise EventError(f"{where}.coefficients", "must be a non-empty {partition: coefficient}")
    out = []
    for partition, coefficient in raw.items():
        field = f"{where}.coefficients[{partition!r}]"
        if not isinstance(partition, str) or not _PARTITION.fullmatch(partition):
            raise EventError(field, "partition must be a non-negative integer below "
                                    f"{MAX_PARTITIONS} in ASCII digits, without leading zeros")
        if isinstance(coefficient, bool) or not isinstance(coefficient, int | float) \
                or not math.isfinite(coefficient):
            raise EventError(field, f"coefficient must be a finite number, got {coefficient!r}")
        if coefficient != 0:
            out.append((int(partition), float(coefficient)))
    return sorted(out)


def _integer(source: dict, key: str, field: str, low: int, high: int,
             optional: bool = False) -> int | None:
    """``source[key]`` if an integer in [low, high]; None when absent and ``optional``."""
    value = source.get(key)
    if optional and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise EventError(field, f"must be an integer in [{low}, {high}], got {value!r}")
    return value


def _record(rt: _Runtime, run_id: str, round_: int, worker: int, status: str,
            results: dict[str, str], digests: dict[str, str], timings: dict,
            error: BaseException | None = None, checks: dict | None = None,
            token: str | None = None) -> None:
    """Completion record in DynamoDB (table from env SGC_TABLE; skipped when unset)."""
    table = os.environ.get("SGC_TABLE")
    if not table:
        return
    item = {name: {"S": value} for name, value in record_keys(run_id, round_, worker).items()}
    item.update({
        "run": {"S": run_id}, "round": {"N": str(round_)}, "worker": {"N": str(worker)},
        "status": {"S": status},
        "results": {"M": {job: {"S": key} for job, key in results.items()}},
        "sha256": {"M": {job: {"S": digest} for job, digest in digests.items()}},
        "timings": {"M": {name: ({"BOOL": value} if isinstance(value, bool)
                                 else {"N": repr(float(value))})
                          for name, value in timings.items() if name != "checks"}},
        "checks": {"M": {job: {"M": {"n": {"N": str(c["n"])}, "finite": {"BOOL": c["finite"]}}}
                         for job, c in (checks or {}).items()}},
    })
    if token is not None:
        item["token"] = {"S": token}
    if error is not None:
        item["error_type"] = {"S": type(error).__name__}
        item["error_message"] = {"S": str(error)[:1000]}
        if isinstance(error, WorkerError):
            item["error_field"] = {"S": error.field}
    try:
        rt.dynamodb.put_item(TableName=table, Item=item)
    except Exception as put_error:
        if error is not None:  # keep the first error; the record is best effort then
            logger.warning("completion record failed", extra={"error": str(put_error)[:300]})
            return
        raise storage_error(f"table {table}", put_error) from None
