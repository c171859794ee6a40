"""Deterministic S3 keys and DynamoDB record keys of a run (``run_id``: the id of one run).

A re-delivered worker event or a retried coordinator step writes the same keys, which is what
makes every write idempotent.
"""

from __future__ import annotations

import operator

WARMPOOL_PLANS_PREFIX = "warmpool/plans/"
# Fixed widths of the numbers in keys (zero-padded, so keys sort and parse by position): a
# number that does not fit is refused here rather than written as a key of another shape.
ROUND_DIGITS, JOB_DIGITS, WORKER_DIGITS = 6, 6, 4
MAX_ROUND = 10**ROUND_DIGITS - 1  # 999,999
MAX_JOB = 10**JOB_DIGITS - 1
MAX_WORKER = 10**WORKER_DIGITS - 1  # 9,999: worker indexes 0..9,999


def _digits(name: str, value: int, digits: int, low: int) -> str:
    """``value`` (any integer type, numpy's too) zero-padded to ``digits`` digits; a value that
    does not fit is a ValueError naming ``name``."""
    try:
        number = None if isinstance(value, bool) else operator.index(value)
    except TypeError:
        number = None
    if number is None or not low <= number < 10**digits:
        raise ValueError(f"{name}: must be an integer in [{low}, {10**digits - 1}] (a "
                         f"{digits}-digit key field), got {str(value)[:40]}")
    return f"{number:0{digits}d}"


def _round(t: int) -> str:
    return _digits("round", t, ROUND_DIGITS, 1)


def _job(job: int) -> str:
    return _digits("job", job, JOB_DIGITS, 1)


def _worker(worker: int) -> str:
    return _digits("worker", worker, WORKER_DIGITS, 0)


def run_prefix(run_id: str) -> str:
    return f"runs/{run_id}/"


def result_key(run_id: str, round_: int, job: int, worker: int) -> str:
    """Where ``worker`` stores its coded result for scheme job ``job`` in round ``round_``."""
    return (f"runs/{run_id}/results/round-{_round(round_)}/job-{_job(job)}/"
            f"worker-{_worker(worker)}.npy")


def params_key(run_id: str, job: int) -> str:
    """Parameters scheme job ``job`` computes its gradient at (job > J: a model's final ones)."""
    return f"runs/{run_id}/params/job-{_job(job)}.npy"


def decoded_key(run_id: str, job: int) -> str:
    """The decoded [loss_sum, *grad_sum] of scheme job ``job`` (float64), kept for audit."""
    return f"runs/{run_id}/decoded/job-{_job(job)}.npy"


def result_summary_key(run_id: str) -> str:
    return f"runs/{run_id}/result.json"


def inject_delays_key(run_id: str) -> str:
    """Emulation: seconds the emulator holds each (round, worker) invocation back (wall clock)."""
    return f"runs/{run_id}/inject/delays.npy"


def virtual_times_key(run_id: str) -> str:
    """Emulation on the virtual clock: each (round, worker)'s time, read by Collect, never slept."""
    return f"runs/{run_id}/inject/virtual-times.npy"


def faults_key(run_id: str) -> str:
    return f"runs/{run_id}/inject/faults.json"


def warmpool_plan_key(run_id: str, prefix: str = WARMPOOL_PLANS_PREFIX) -> str:
    """The accepted job, published for the warm-pool manager."""
    return f"{prefix}{run_id}.json"


def record_keys(run_id: str, round_: int, worker: int) -> dict[str, str]:
    """Partition and sort key of a worker's completion record for one round."""
    return {"pk": completions_partition(run_id, round_),
            "sk": f"worker#{_worker(worker)}"}


def completions_partition(run_id: str, round_: int) -> str:
    return f"{run_id}#round#{_round(round_)}"


def worker_of_sort_key(sk: str) -> int:
    return int(sk.split("#")[1])


def prior_key(run_id: str) -> str:
    """The state an sgcflow job starts from (``scheme.learn_from``: what an earlier job's chooser
    knew, ``adaptive.online.Learned.to_array``: a flat float64 array, a header then the window
    and the load fit), written once by the Plan step with its sha256 in the job record."""
    return f"runs/{run_id}/prior.npy"
