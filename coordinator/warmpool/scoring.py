"""How a warm-pool policy is scored: one policy's outcomes on the streams, aggregated.

Metrics (per policy): ``cold_start_rate`` = cold environment starts / environment requests;
``p75_app_cold_start_rate`` = 75th percentile over apps (Azure) or functions (synthetic) with a
scored request of their own cold-start rate (SPES's per-application metric);
``cold_start_seconds`` = summed cold-start time; ``idle_gb_s`` = warm-but-unused environment
memory-time; ``wasted_gb_s`` = the wasted memory time of Shahrad et al. and SPES (memory kept
loaded while not executing): in this model the same quantity as ``idle_gb_s``, under the name
those papers use; ``dollars`` = idle GB-s at the provisioned rate + cold-start GB-s on demand;
``worker_cold_starts`` (planned sgcflow workers) and those after each job's lead time.

Below the simulator and the tuning (both score with it), above the policies' outcomes. All
sums are whole-array operations over packed streams (no per-stream Python loop).
"""

from __future__ import annotations

import numpy as np

from coordinator.warmpool.packed import Outcome, Packed, PackedOutcome, packed
from coordinator.warmpool.planner import ON_DEMAND_GB_S, PROVISIONED_GB_S, RegionPlan


def metrics(streams, outcomes, workload=None, plans: dict[str, RegionPlan] | None = None,
            scored_from_s: float = 0.0) -> dict[str, float]:
    """Aggregate one policy's outcomes (see the module docstring); only calls at or after
    ``scored_from_s`` count (their idle time was clipped by the policy). ``streams`` and
    ``outcomes`` are lists, or ``Packed`` and ``PackedOutcome``."""
    p = packed(streams)
    return packed_metrics(p, as_packed(outcomes, p), plans, scored_from_s)


def as_packed(outcomes, p: Packed) -> PackedOutcome:
    if isinstance(outcomes, PackedOutcome):
        return outcomes
    outcomes = list(outcomes)
    cold = (np.concatenate([o.cold for o in outcomes]) if outcomes
            else np.zeros(0, dtype=bool))
    return PackedOutcome(cold.astype(bool), np.array([o.idle_s for o in outcomes], float))


def packed_metrics(p: Packed, o: PackedOutcome, plans: dict[str, RegionPlan] | None = None,
                   scored_from_s: float = 0.0) -> dict[str, float]:
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
        "worker_cold_starts": float(cold[p.planned].sum()),
        "worker_cold_starts_after_lead": _late(p, o, plans or {}, scored),
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


def _late(p: Packed, o: PackedOutcome, plans: dict[str, RegionPlan], scored: np.ndarray
          ) -> float:
    """Worker cold starts inside a (start + uncovered, next job's start) window of their
    region: after that job's lead time."""
    deadlines = _lead_deadlines(plans)
    late = 0.0
    for s in np.flatnonzero(p.planned):
        windows = deadlines.get(p.regions[p.region[s]])
        if windows is None:
            continue
        a, b = p.offsets[s], p.offsets[s + 1]
        times = p.times[a:b][o.cold[a:b] & scored[a:b]]
        late += float(p.weight[s]) * float(np.sum(_after_lead(times, windows)))
    return late


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


__all__ = ["Outcome", "as_packed", "metrics", "packed_metrics"]
