"""Replay a workload against keep-alive policies: every policy on the same streams, scored by
``scoring.metrics``; sgcflow's policy (planned jobs + a background policy) and the job mix.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from coordinator.warmpool.demand import JobPlan
from coordinator.warmpool.faascache import FaasCache
from coordinator.warmpool.packed import Outcome, Packed, PackedOutcome, packed
from coordinator.warmpool.planner import (
    ALLOCATION_MAX_S,
    ALLOCATION_MIN_S,
    ENVIRONMENTS_PER_MINUTE,
    RegionPlan,
    plan_job,
)
from coordinator.warmpool.policies import HybridHistogram, KeepAlive, QuantileWindow, gaps
from coordinator.warmpool.scoring import packed_metrics
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

    def run(self, all_streams, horizon_s: float, scored_from_s: float = 0.0) -> list[Outcome]:
        p = packed(all_streams)
        return self.run_packed(p, horizon_s, scored_from_s).split(p)

    def run_packed(self, p: Packed, horizon_s: float, scored_from_s: float = 0.0
                   ) -> PackedOutcome:
        """The background policy on every unplanned stream at once; each planned stream
        (a job's workers, few) against the plans' coverage windows."""
        out = PackedOutcome.empty(p)
        unplanned = ~p.planned
        if unplanned.any():
            background = self.unplanned.run_packed(p.select(unplanned), horizon_s,
                                                   scored_from_s)
            out.cold[np.repeat(unplanned, p.lengths())] = background.cold
            out.idle_s[unplanned] = background.idle_s
        cover = self.coverage()
        for s in np.flatnonzero(p.planned):
            region, top = p.regions[p.region[s]], p.layer[s] + p.weight[s] - 1
            windows = sorted((ready, release) for where, amount, ready, release in cover
                             if where == region and amount >= top and ready < release)
            a, b = p.offsets[s], p.offsets[s + 1]
            stream = Stream(int(p.func[s]), int(p.layer[s]), p.times[a:b], p.costs[a:b],
                            p.ends[a:b] - p.times[a:b], float(p.memory_gb[s]),
                            int(p.weight[s]), region, True)
            outcome = self._planned(stream, np.array(windows).reshape(-1, 2), scored_from_s)
            out.cold[a:b], out.idle_s[s] = outcome.cold, outcome.idle_s
        return out

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


def policies_for(all_streams, plans: list[JobPlan], job_ends: dict[str, float],
                 seed: int = 0, cache_share: float = 0.25, unplanned=None) -> list:
    """All policies side by side; ``unplanned`` is sgcflow's policy for the background streams.

    FaasCache's memory per region: room for every planned worker environment plus
    ``cache_share`` of the memory all unplanned environments would take if all were warm.
    """
    p = packed(all_streams)
    share = np.where(p.planned, 1.0, cache_share) * p.weight * p.memory_gb
    capacity = {region: float(share[p.region == code].sum())
                for code, region in enumerate(p.regions)}
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


def simulate(workload: Workload, policies: list, plans: list[JobPlan] | None = None,
             breakdown: bool = False) -> dict[str, dict]:
    """Run every policy on the same streams; results keyed by policy name.

    With ``breakdown`` each result also has ``trace`` (unplanned functions) and ``jobs``
    (planned sgcflow workers) computed from the same run.
    """
    return simulate_streams(streams(workload), workload.horizon_s, policies, plans, breakdown)


def simulate_streams(all_streams, horizon_s: float, policies: list,
                     plans: list[JobPlan] | None = None, breakdown: bool = False,
                     scored_from_s: float = 0.0) -> dict[str, dict]:
    """``simulate`` on prepared streams (a list or ``Packed``), scoring only from
    ``scored_from_s`` (the warm-up end)."""
    p = packed(all_streams)
    region_plans = {plan.run_id: plan_job(plan) for plan in plans or []}
    parts = {"trace": p.select(~p.planned), "jobs": p.select(p.planned)} if breakdown else {}
    results: dict[str, dict] = {}
    for policy in policies:
        outcome = policy.run_packed(p, horizon_s, scored_from_s)
        entry: dict = packed_metrics(p, outcome, region_plans, scored_from_s)
        for label, part in parts.items():
            keep = ~p.planned if label == "trace" else p.planned
            calls = np.repeat(keep, p.lengths())
            entry[label] = packed_metrics(part, PackedOutcome(outcome.cold[calls],
                                                              outcome.idle_s[keep]),
                                          region_plans, scored_from_s)
        results[policy.name] = entry
    return results
