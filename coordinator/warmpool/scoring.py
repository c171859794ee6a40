"""How a warm-pool policy is scored: one policy's outcomes on the streams, aggregated.

Metrics (per policy): ``cold_start_rate`` = cold environment starts / environment requests;
``p75_function_cold_start_rate`` = 75th percentile over functions of their own rate;
``cold_start_seconds`` = summed cold-start time; ``idle_gb_s`` = warm-but-unused environment
memory-time; ``dollars`` = idle GB-s at the provisioned rate + cold-start GB-s on demand;
``worker_cold_starts`` (planned sgcflow workers) and those after each job's lead time.

Below the simulator and the tuning (both score with it), above the policies' ``Outcome``.
"""

from __future__ import annotations

import numpy as np

from coordinator.warmpool.planner import ON_DEMAND_GB_S, PROVISIONED_GB_S, RegionPlan
from coordinator.warmpool.policies import Outcome
from coordinator.warmpool.workload import Stream, Workload


def metrics(all_streams: list[Stream], outcomes: list[Outcome], workload: Workload | None = None,
            plans: dict[str, RegionPlan] | None = None, scored_from_s: float = 0.0
            ) -> dict[str, float]:
    """Aggregate one policy's outcomes (see the module docstring for the definitions); only
    calls at or after ``scored_from_s`` count (their idle time was clipped by the policy)."""
    requests = cold = cold_s = idle_gb_s = cold_gb_s = 0.0
    worker_cold = worker_cold_late = 0.0
    per_function: dict[int, list[float]] = {}
    late_after = _lead_deadlines(plans or {})
    for stream, outcome in zip(all_streams, outcomes, strict=True):
        scored = stream.times >= scored_from_s
        cold_mask = outcome.cold & scored
        n_cold = float(cold_mask.sum()) * stream.weight
        n_requests = float(stream.requests[scored].sum()) * stream.weight
        requests += n_requests
        cold += n_cold
        seconds = float(stream.costs[cold_mask].sum()) * stream.weight
        cold_s += seconds
        cold_gb_s += seconds * stream.memory_gb
        idle_gb_s += outcome.idle_s * stream.weight * stream.memory_gb
        totals = per_function.setdefault(stream.func, [0.0, 0.0])
        totals[0] += n_cold
        totals[1] += n_requests
        if stream.planned:
            worker_cold += n_cold
            deadline = late_after.get(stream.region)
            if deadline is not None:
                cold_times = stream.times[cold_mask]
                worker_cold_late += stream.weight * float(np.sum(_after_lead(cold_times,
                                                                             deadline)))
    rates = [c / r for c, r in per_function.values() if r > 0]
    return {
        "requests": requests,
        "cold_starts": cold,
        "cold_start_rate": cold / requests if requests else 0.0,
        "p75_function_cold_start_rate": float(np.percentile(rates, 75)) if rates else 0.0,
        "cold_start_seconds": cold_s,
        "idle_gb_s": idle_gb_s,
        "dollars": idle_gb_s * PROVISIONED_GB_S + cold_gb_s * ON_DEMAND_GB_S,
        "worker_cold_starts": worker_cold,
        "worker_cold_starts_after_lead": worker_cold_late,
    }


def _lead_deadlines(plans: dict[str, RegionPlan]) -> dict[str, np.ndarray]:
    """Per region, one (start + uncovered, next job's start) window per job: a worker cold
    start inside it happened after that job's lead time ("late")."""
    starts: dict[str, list] = {}
    for plan in plans.values():
        starts.setdefault(plan.region, []).append((plan.start_s, plan.uncovered_s))
    result = {}
    for region, items in starts.items():
        items.sort()
        ends = [start for start, _ in items[1:]] + [np.inf]
        result[region] = np.array([(start + uncovered, end) for (start, uncovered), end
                                   in zip(items, ends, strict=True)])
    return result


def _after_lead(times: np.ndarray, windows: np.ndarray) -> np.ndarray:
    slot = np.searchsorted(windows[:, 0], times, side="right") - 1
    return (slot >= 0) & (times < windows[np.maximum(slot, 0), 1])
