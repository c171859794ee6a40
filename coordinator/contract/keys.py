"""Deterministic S3 keys and DynamoDB record keys of a run (``run_id``: the id of one run).

A re-delivered worker event or a retried coordinator step writes the same keys, which is what
makes every write idempotent.
"""

from __future__ import annotations

WARMPOOL_PLANS_PREFIX = "warmpool/plans/"


def run_prefix(run_id: str) -> str:
    return f"runs/{run_id}/"


def result_key(run_id: str, round_: int, job: int, worker: int) -> str:
    """Where ``worker`` stores its coded result for scheme job ``job`` in round ``round_``."""
    return f"runs/{run_id}/results/round-{round_:06d}/job-{job:06d}/worker-{worker:04d}.npy"


def params_key(run_id: str, job: int) -> str:
    """Parameters scheme job ``job`` computes its gradient at (job > J: a model's final ones)."""
    return f"runs/{run_id}/params/job-{job:06d}.npy"


def decoded_key(run_id: str, job: int) -> str:
    """The decoded [loss_sum, *grad_sum] of scheme job ``job`` (float64), kept for audit."""
    return f"runs/{run_id}/decoded/job-{job:06d}.npy"


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
    return {"pk": completions_partition(run_id, round_), "sk": f"worker#{worker:04d}"}


def completions_partition(run_id: str, round_: int) -> str:
    return f"{run_id}#round#{round_:06d}"


def worker_of_sort_key(sk: str) -> int:
    return int(sk.split("#")[1])
