"""How a warm-pool policy is scored: one policy's outcomes on the streams, aggregated.

Metrics (per policy): ``cold_start_rate`` = cold environment starts / environment requests;
``p75_app_cold_start_rate`` = 75th percentile over apps (Azure) or functions (synthetic) with a
scored request of their own cold-start rate (SPES's per-application metric);
``cold_start_seconds`` = summed cold-start time; ``idle_gb_s`` = warm-but-unused environment
memory-time; ``wasted_gb_s`` = the wasted memory time of Shahrad et al. and SPES (memory kept
loaded while not executing): in this model the same quantity as ``idle_gb_s``, under the name
those papers use; ``dollars`` = idle GB-s at the provisioned rate + cold-start GB-s on demand;
``worker_cold_starts`` (planned sgcflow workers: the environments of a job's n workers) and
``worker_cold_starts_after_lead`` (those after the job's capacity was due ready: for a job with
notice its whole run, as it waited for READY; without, from when its capacity arrived), and
``late_task_cold_starts`` (tasks sent to workers still busy with an earlier round, beyond the
warm spares). ``jobs_without_notice`` gives the worst such job: its worker cold starts and how
long it ran before its capacity was ready.

Below the simulator and the tuning (both score with it), above the policies' outcomes. All
sums are whole-array operations over packed streams (no per-stream Python loop).
"""

from __future__ import annotations

import numpy as np

from coordinator.warmpool.packed import Outcome, Packed, PackedOutcome, packed
from coordinator.warmpool.planner import ON_DEMAND_GB_S, PROVISIONED_GB_S
from coordinator.warmpool.timeline import Deployed


def metrics(streams, outcomes, workload=None, jobs: list[Deployed] | None = None,
            scored_from_s: float = 0.0) -> dict[str, float]:
    """Aggregate one policy's outcomes (see the module docstring); only calls at or after
    ``scored_from_s`` count (their idle time was clipped by the policy). ``streams`` and
    ``outcomes`` are lists, or ``Packed`` and ``PackedOutcome``."""
    p = packed(streams)
    return packed_metrics(p, as_packed(outcomes, p), jobs, scored_from_s)


def as_packed(outcomes, p: Packed) -> PackedOutcome:
    if isinstance(outcomes, PackedOutcome):
        return outcomes
    outcomes = list(outcomes)
    cold = (np.concatenate([o.cold for o in outcomes]) if outcomes
            else np.zeros(0, dtype=bool))
    return PackedOutcome(cold.astype(bool), np.array([o.idle_s for o in outcomes], float))


def packed_metrics(p: Packed, o: PackedOutcome, jobs: list[Deployed] | None = None,
                   scored_from_s: float = 0.0) -> dict:
    scored = p.times >= scored_from_s
    cold_call = o.cold & scored
    asked = _per_stream(p, p.requests * scored) * p.weight
    cold = _per_stream(p, cold_call.astype(float)) * p.weight
    cold_s = _per_stream(p, p.costs * cold_call) * p.weight
    idle_gb_s = float(np.sum(o.idle_s * p.weight * p.memory_gb))
    cold_gb_s = float(np.sum(cold_s * p.memory_gb))
    total_requests, total_cold = float(asked.sum()), float(cold.sum())
    return {
        "requests": total_requests,
        "cold_starts": total_cold,
        "cold_start_rate": total_cold / total_requests if total_requests else 0.0,
        "p75_app_cold_start_rate": _p75_per_app(p, cold, asked),
        "cold_start_seconds": float(cold_s.sum()),
        "idle_gb_s": idle_gb_s,
        "wasted_gb_s": idle_gb_s,
        "dollars": idle_gb_s * PROVISIONED_GB_S + cold_gb_s * ON_DEMAND_GB_S,
        **_workers(p, o, cold, jobs or [], scored),
    }


def _per_stream(p: Packed, values: np.ndarray) -> np.ndarray:
    """Sum of a per-call array over each stream's calls (0 for an empty stream)."""
    if p.calls == 0:
        return np.zeros(p.streams)
    sums = np.add.reduceat(values, np.minimum(p.offsets[:-1], p.calls - 1))
    return np.where(p.lengths() > 0, sums, 0.0)


def _p75_per_app(p: Packed, cold: np.ndarray, asked: np.ndarray) -> float:
    apps, app_of_stream = np.unique(p.func, return_inverse=True)
    asked = np.bincount(app_of_stream, weights=asked, minlength=len(apps))
    missed = np.bincount(app_of_stream, weights=cold, minlength=len(apps))
    rates = missed[asked > 0] / asked[asked > 0]
    return float(np.percentile(rates, 75)) if len(rates) else 0.0


def _workers(p: Packed, o: PackedOutcome, cold: np.ndarray, jobs: list[Deployed],
             scored: np.ndarray) -> dict:
    """The planned jobs' worker metrics (see the module docstring)."""
    workers = {job.region: job.workers for job in jobs}
    top = p.layer + p.weight - 1
    per_region = np.array([workers.get(r, np.iinfo(np.int64).max) for r in p.regions],
                          dtype=np.int64)
    limit = per_region[p.region] if p.streams else np.zeros(0, np.int64)
    worker = p.planned & (top <= limit)
    late_tasks = p.planned & ~worker
    after, by_job = 0.0, {}
    for s in np.flatnonzero(worker):
        a, b = p.offsets[s], p.offsets[s + 1]
        times = p.times[a:b][o.cold[a:b] & scored[a:b]]
        for job in jobs:
            if job.region != p.regions[p.region[s]]:
                continue
            inside = (times >= job.start_s) & (times < job.release_s)
            count = float(p.weight[s]) * float(inside.sum())
            by_job[job.run_id] = by_job.get(job.run_id, 0.0) + count
            due = job.start_s if job.notice else job.ready_s  # a job with notice waited
            after += float(p.weight[s]) * float((inside & (times >= due)).sum())
    without = [job for job in jobs if not job.notice]
    return {
        "worker_cold_starts": float(cold[worker].sum()),
        "worker_cold_starts_after_lead": after,
        "late_task_cold_starts": float(cold[late_tasks].sum()),
        "jobs_without_notice": {
            "jobs": len(without),
            "worst_worker_cold_starts": max((by_job.get(j.run_id, 0.0) for j in without),
                                            default=0.0),
            "worst_waited_s": max((j.waited_s for j in without), default=0.0)},
    }


__all__ = ["Outcome", "as_packed", "metrics", "packed_metrics"]
