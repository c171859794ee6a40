"""Replay a workload against keep-alive policies and report cold starts, idle GB-s and dollars.

Metrics (per policy): ``cold_start_rate`` = cold environment starts / environment requests;
``p75_function_cold_start_rate`` = 75th percentile over functions of their own rate;
``cold_start_seconds`` = summed cold-start time; ``idle_gb_s`` = warm-but-unused environment
memory-time; ``dollars`` = idle GB-s at the provisioned rate + cold-start GB-s on demand;
``worker_cold_starts`` (planned sgcflow workers) and those after each job's lead time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from coordinator.warmpool.demand import JobPlan
from coordinator.warmpool.faascache import FaasCache
from coordinator.warmpool.planner import (
    ALLOCATION_MAX_S,
    ALLOCATION_MIN_S,
    ENVIRONMENTS_PER_MINUTE,
    ON_DEMAND_GB_S,
    PROVISIONED_GB_S,
    RegionPlan,
    plan_job,
)
from coordinator.warmpool.policies import (
    HybridHistogram,
    KeepAlive,
    Outcome,
    QuantileWindow,
    gaps,
)
from coordinator.warmpool.workload import FunctionSpec, Stream, Workload, streams

WORKER_DURATION_S = 4.0
WORKER_COLD_LOG_MEDIAN = np.log(3.0)  # numpy + numba import on a Python 3 worker


class SgcflowPolicy:
    """Ours: provision planned jobs from their plans, quantile windows for everything else."""

    name = "sgcflow"

    def __init__(self, plans: list[RegionPlan], job_ends: dict[str, float] | None = None,
                 seed: int = 0, fallback_keep_s: float = 60.0):
        self.plans, self.job_ends = plans, job_ends or {}
        self.seed, self.fallback_keep_s = seed, fallback_keep_s
        self.unplanned = QuantileWindow()

    def coverage(self) -> list[tuple[str, int, float, float]]:
        """(region, amount, ready, release) per plan; allocation delay drawn 1-2 minutes."""
        rng = np.random.default_rng(self.seed)
        result = []
        for plan in self.plans:
            if plan.mode == "provisioned":
                ramp = 60.0 * plan.amount / ENVIRONMENTS_PER_MINUTE
                ready = plan.request_s + rng.uniform(ALLOCATION_MIN_S, ALLOCATION_MAX_S) + ramp
            else:
                ready = plan.request_s + plan.lead_s * 0.5
            release = max(plan.release_s, self.job_ends.get(plan.run_id, plan.release_s))
            result.append((plan.region, plan.amount, ready, release))
        return result

    def run(self, all_streams: list[Stream], horizon_s: float,
            scored_from_s: float = 0.0) -> list[Outcome]:
        cover = self.coverage()
        unplanned = [s for s in all_streams if not s.planned]
        outcomes = iter(self.unplanned.run(unplanned, horizon_s, scored_from_s))
        result = []
        for stream in all_streams:
            if not stream.planned:
                result.append(next(outcomes))
                continue
            top = stream.layer + stream.weight - 1
            windows = sorted((ready, release) for region, amount, ready, release in cover
                             if region == stream.region and amount >= top and ready < release)
            result.append(self._planned(stream, np.array(windows).reshape(-1, 2),
                                        scored_from_s))
        return result

    def _planned(self, stream: Stream, windows: np.ndarray, scored_from_s: float = 0.0
                 ) -> Outcome:
        times = stream.times
        slot = np.searchsorted(windows[:, 0], times, side="right") - 1
        inside = (slot >= 0) & (times <= windows[np.maximum(slot, 0), 1])
        gap_before = np.r_[np.inf, gaps(times, stream.duration_s)]
        cold = ~inside & (gap_before > self.fallback_keep_s)
        scored = times >= scored_from_s
        busy = float(np.sum((stream.ends - np.maximum(times, scored_from_s))[inside & scored]))
        after = np.r_[gaps(times, stream.duration_s), self.fallback_keep_s]
        covered = np.maximum(0.0, windows[:, 1] - np.maximum(windows[:, 0], scored_from_s))
        idle = float(np.sum(covered)) - busy
        idle += float(np.minimum(after[~inside & scored], self.fallback_keep_s).sum())
        return Outcome(cold, max(0.0, idle))


@dataclass
class JobMix:
    workload: Workload
    plans: list[JobPlan]
    job_ends: dict[str, float]


def job_mix(seed: int = 0, regions: tuple[str, ...] = ("us-east-1", "eu-west-2"),
            jobs_per_region: int = 6, horizon_s: float = 2 * 86400.0, workers: int = 256,
            round_seconds: float = 5.0, memory_mb: int = 2048) -> JobMix:
    """sgcflow jobs one after another per region: 70 % planned ahead, 30 % start on submission."""
    rng = np.random.default_rng(seed)
    parts, plans, ends, functions = [], [], {}, []
    for region in regions:
        functions.append(FunctionSpec(region, 1, 0, 0, f"pool00-1769-{memory_mb}", "python3",
                                      "sgcflow", WORKER_DURATION_S, planned=True))
        clock = rng.uniform(0, 3600)
        for index in range(jobs_per_region):
            rounds = int(rng.choice([100, 300, 1000])) + int(rng.choice([0, 1, 2]))
            actual = np.cumsum(round_seconds * rng.uniform(0.9, 1.1, rounds))
            start = clock
            times = start + np.r_[0.0, actual[:-1]]
            if times[-1] + round_seconds > horizon_s:
                break
            run_id = f"{region}-job{index:02d}"
            submit = start if rng.random() < 0.3 else start - rng.uniform(300, 3600)
            plans.append(JobPlan(run_id, region, start, rounds, workers, round_seconds,
                                 memory_mb, submit))
            ends[run_id] = float(times[-1] + WORKER_DURATION_S)
            costs = np.exp(WORKER_COLD_LOG_MEDIAN + rng.normal(0, 0.5, rounds))
            parts.append((np.full(rounds, len(functions) - 1), times,
                          np.full(rounds, workers), costs))
            clock = ends[run_id] + rng.uniform(600, 4 * 3600)
    if not parts:
        raise ValueError(f"horizon_s: {horizon_s:g} s is too short for any job of the mix")
    func, time, concurrency, costs = (np.concatenate(c) for c in zip(*parts, strict=True))
    workload = Workload(functions, func.astype(np.int32), time, concurrency.astype(np.int32),
                        costs, horizon_s)
    return JobMix(workload, plans, ends)


def shifted(mix: JobMix, offset_s: float) -> JobMix:
    """The same job mix ``offset_s`` later (plans, worker invocations and job ends)."""
    w = mix.workload
    workload = Workload(w.functions, w.func, w.time + offset_s, w.concurrency, w.cold_cost,
                        w.horizon_s + offset_s, w.request_id)
    plans = [replace(p, start_s=p.start_s + offset_s,
                     submit_s=None if p.submit_s is None else p.submit_s + offset_s)
             for p in mix.plans]
    return JobMix(workload, plans, {job: end + offset_s for job, end in mix.job_ends.items()})


def default_policies(workload: Workload, plans: list[JobPlan], job_ends: dict[str, float],
                     seed: int = 0, cache_share: float = 0.25) -> list:
    """All policies side by side on a workload (see ``policies_for``)."""
    return policies_for(streams(workload), plans, job_ends, seed, cache_share)


def policies_for(all_streams: list[Stream], plans: list[JobPlan], job_ends: dict[str, float],
                 seed: int = 0, cache_share: float = 0.25, unplanned=None) -> list:
    """All policies side by side; ``unplanned`` is sgcflow's policy for the background streams.

    FaasCache's memory per region: room for every planned worker environment plus
    ``cache_share`` of the memory all unplanned environments would take if all were warm.
    """
    capacity: dict[str, float] = {}
    for stream in all_streams:
        share = 1.0 if stream.planned else cache_share
        capacity[stream.region] = (capacity.get(stream.region, 0.0)
                                   + share * stream.weight * stream.memory_gb)
    ours = SgcflowPolicy([plan_job(plan) for plan in plans], job_ends, seed)
    if unplanned is not None:
        ours.unplanned = unplanned
    return [
        KeepAlive(60.0, "keep-alive-60s"),
        KeepAlive(600.0, "keep-alive-10min"),
        HybridHistogram(),
        FaasCache(capacity),
        ours,
    ]


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


def simulate(workload: Workload, policies: list, plans: list[JobPlan] | None = None,
             breakdown: bool = False) -> dict[str, dict]:
    """Run every policy on the same streams; results keyed by policy name.

    With ``breakdown`` each result also has ``trace`` (unplanned functions) and ``jobs``
    (planned sgcflow workers) computed from the same run.
    """
    return simulate_streams(streams(workload), workload.horizon_s, policies, plans, breakdown)


def simulate_streams(all_streams: list[Stream], horizon_s: float, policies: list,
                     plans: list[JobPlan] | None = None, breakdown: bool = False,
                     scored_from_s: float = 0.0) -> dict[str, dict]:
    """``simulate`` on prepared streams, scoring only from ``scored_from_s`` (the warm-up end)."""
    region_plans = {p.run_id: plan_job(p) for p in plans or []}
    results: dict[str, dict] = {}
    for policy in policies:
        outcomes = policy.run(all_streams, horizon_s, scored_from_s)
        entry: dict = metrics(all_streams, outcomes, None, region_plans, scored_from_s)
        if breakdown:
            for label, planned in (("trace", False), ("jobs", True)):
                chosen = [i for i, s in enumerate(all_streams) if s.planned == planned]
                entry[label] = metrics([all_streams[i] for i in chosen],
                                       [outcomes[i] for i in chosen], None, region_plans,
                                       scored_from_s)
        results[policy.name] = entry
    return results


def experiment(seed: int = 0, days: float = 2.0, functions_per_region: int = 40,
               jobs_per_region: int = 6, job_regions: tuple[str, ...] = ("R1", "R2"),
               warmup_s: float = 0.0) -> dict[str, dict]:
    """The README run: synthetic trace + sgcflow job mix on one timeline, all policies.

    With ``warmup_s`` > 0 only calls after it are scored and sgcflow's background policy is the
    Azure one (``IdleForecast``) tuned on the warm-up alone, as on the real trace; without, it
    is the quantile window and everything is scored.
    """
    from coordinator.warmpool.synthetic import generate
    from coordinator.warmpool.tuning import tune

    horizon_s = days * 86400.0
    if not 0 <= warmup_s < horizon_s:
        raise ValueError(f"--warmup-minutes: {warmup_s / 60:g} must be >= 0 and shorter than "
                         f"the trace ({horizon_s / 60:g} minutes)")
    trace = generate(seed=seed, days=days, functions_per_region=functions_per_region)
    mix = shifted(job_mix(seed=seed, regions=job_regions, jobs_per_region=jobs_per_region,
                          horizon_s=horizon_s - warmup_s), warmup_s)  # jobs in scored minutes
    workload = trace.merge(mix.workload)
    all_streams = streams(workload)
    unplanned, evidence = None, {"tuned_on": "nothing: quantile windows, fixed"}
    if warmup_s > 0:
        unplanned, evidence = tune(all_streams, warmup_s)
    policies = policies_for(all_streams, mix.plans, mix.job_ends, seed, unplanned=unplanned)
    results = simulate_streams(all_streams, workload.horizon_s, policies, mix.plans,
                               breakdown=True, scored_from_s=warmup_s)
    region_plans = [plan_job(p) for p in mix.plans]
    days_billed = int(np.ceil(days))
    costs = {
        "plan_dollars": sum(p.dollars for p in region_plans),
        "all_day_warm_dollars": sum({p.region: p.all_day_dollars for p in region_plans}.values())
        * days_billed,
        "plans": len(region_plans),
        "prewarm_plans": sum(p.mode == "prewarm" for p in region_plans),
    }
    results["sgcflow"]["jobs"].update(costs)
    results["sgcflow"]["tuning"] = evidence
    return results
