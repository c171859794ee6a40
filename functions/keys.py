"""Deterministic S3 keys and DynamoDB record keys (docs/contracts.md, "Worker").

Pure: the coordinator imports these too, without pulling in Numba. A re-delivered event writes
the same keys (idempotent)."""

from __future__ import annotations


def result_key(run: str, round_: int, job: int, worker: int) -> str:
    """Where worker ``worker`` stores its coded result for ``job`` in round ``round_``."""
    return f"runs/{run}/results/round-{round_:06d}/job-{job:06d}/worker-{worker:04d}.npy"


def record_keys(run: str, round_: int, worker: int) -> dict[str, str]:
    """Partition and sort key of a worker's completion record for one round."""
    return {"pk": f"{run}#round#{round_:06d}", "sk": f"worker#{worker:04d}"}
