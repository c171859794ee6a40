"""Replay a workload against keep-alive policies: every policy on the same streams, scored by
``scoring``; sgcflow's policy is its job plans on the deployed timeline (``timeline``) plus a
background policy. The job mix it is judged on is ``jobmix``.
"""

from __future__ import annotations

import numpy as np

from coordinator.warmpool import timeline
from coordinator.warmpool.demand import JobPlan
from coordinator.warmpool.faascache import FaasCache
from coordinator.warmpool.jobmix import JobMix, job_mix, shifted
from coordinator.warmpool.packed import Outcome, Packed, PackedOutcome, packed
from coordinator.warmpool.planner import RegionPlan, plan_job
from coordinator.warmpool.policies import HybridHistogram, KeepAlive, QuantileWindow, gaps
from coordinator.warmpool.scoring import packed_metrics
from coordinator.warmpool.timeline import Deployed
from coordinator.warmpool.workload import Stream, Workload, streams

__all__ = ["JobMix", "SgcflowPolicy", "default_policies", "deployed_of", "job_mix",
           "policies_for", "shifted", "simulate", "simulate_streams"]


class SgcflowPolicy:
    """Ours: each job's workers and spares warm from when the deployed manager has them ready
    until it releases them (``timeline``); the background policy for everything else."""

    name = "sgcflow"

    def __init__(self, plans: list[RegionPlan], job_ends: dict[str, float] | None = None,
                 seed: int = 0, fallback_keep_s: float = 60.0,
                 deployed: list[Deployed] | None = None):
        self.plans, self.job_ends = plans, job_ends or {}
        self.seed, self.fallback_keep_s = seed, fallback_keep_s
        self.deployed = deployed
        self.unplanned = QuantileWindow()

    def windows(self) -> list[Deployed]:
        """Each job's deployed timeline (given, or derived from its plan and end)."""
        if self.deployed is not None:
            return self.deployed
        return [timeline.deploy(plan, plan.known_s, plan.known_s < plan.start_s, self.seed,
                                self.job_ends.get(plan.run_id), plan.start_s)
                for plan in self.plans]

    def coverage(self) -> list[tuple[str, int, float, float]]:
        """(region, environments, ready, release) per job."""
        return [(d.region, d.environments, d.ready_s, d.release_s) for d in self.windows()]

    def run(self, all_streams, horizon_s: float, scored_from_s: float = 0.0) -> list[Outcome]:
        p = packed(all_streams)
        return self.run_packed(p, horizon_s, scored_from_s).split(p)

    def run_packed(self, p: Packed, horizon_s: float, scored_from_s: float = 0.0
                   ) -> PackedOutcome:
        """The background policy on every unplanned stream at once, and on the late tasks
        above every job's spares (demand no plan covers: statistics, like any other app);
        each other planned stream (a job's workers and spares) against the coverage windows."""
        out = PackedOutcome.empty(p)
        cover = self.coverage()
        top = p.layer + p.weight - 1
        reached = np.array([any(where == p.regions[p.region[s]] and amount >= top[s]
                                for where, amount, _, _ in cover) for s in range(p.streams)],
                           dtype=bool) if p.streams else np.zeros(0, dtype=bool)
        statistics = ~p.planned | ~reached
        if statistics.any():
            background = self.unplanned.run_packed(p.select(statistics), horizon_s,
                                                   scored_from_s)
            out.cold[np.repeat(statistics, p.lengths())] = background.cold
            out.idle_s[statistics] = background.idle_s
        for s in np.flatnonzero(p.planned & reached):
            region = p.regions[p.region[s]]
            windows = sorted((ready, release) for where, amount, ready, release in cover
                             if where == region and amount >= top[s] and ready < release)
            a, b = p.offsets[s], p.offsets[s + 1]
            stream = Stream(int(p.func[s]), int(p.layer[s]), p.times[a:b], p.costs[a:b],
                            p.ends[a:b] - p.times[a:b], float(p.memory_gb[s]),
                            int(p.weight[s]), region, True)
            outcome = self._planned(stream, np.array(windows).reshape(-1, 2), scored_from_s)
            out.cold[a:b], out.idle_s[s] = outcome.cold, outcome.idle_s
        self._unused(p, cover, scored_from_s, out)
        return out

    @staticmethod
    def _unused(p: Packed, cover: list, scored_from_s: float, out: PackedOutcome) -> None:
        """Environments held but never used by any round (spares above every round's late
        tasks) idle their whole window: charged to the region's highest planned stream."""
        for code, region in enumerate(p.regions):
            planned = np.flatnonzero(p.planned & (p.region == code))
            if not len(planned):
                continue
            tops = p.layer[planned] + p.weight[planned] - 1
            highest = planned[np.argmax(tops)]
            idle = sum(max(0, amount - int(tops.max())) * max(0.0, release - max(ready,
                                                                                 scored_from_s))
                       for where, amount, ready, release in cover if where == region)
            out.idle_s[highest] += idle / p.weight[highest]

    def _planned(self, stream: Stream, windows: np.ndarray, scored_from_s: float = 0.0
                 ) -> Outcome:
        times = stream.times
        slot = np.searchsorted(windows[:, 0], times, side="right") - 1
        inside = np.zeros(len(times), dtype=bool)
        if len(windows):
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


def default_policies(workload: Workload, plans: list[JobPlan], job_ends: dict[str, float],
                     seed: int = 0, cache_share: float = 0.25) -> list:
    """All policies side by side on a workload (see ``policies_for``)."""
    return policies_for(streams(workload), plans, job_ends, seed, cache_share)


def deployed_of(plans: list[JobPlan], job_ends: dict[str, float] | None = None,
                seed: int = 0) -> list[Deployed]:
    """The deployed timeline of jobs given as they ran (not placed by ``job_mix``): each
    started at its plan's start; notice means its plan was known before."""
    ends = job_ends or {}
    return [timeline.deploy(plan_job(plan), plan.known_at, plan.known_at < plan.start_s, seed,
                            ends.get(plan.run_id), plan.start_s) for plan in plans]


def policies_for(all_streams, plans: list[JobPlan], job_ends: dict[str, float],
                 seed: int = 0, cache_share: float = 0.25, unplanned=None,
                 deployed: list[Deployed] | None = None) -> list:
    """All policies side by side; ``unplanned`` is sgcflow's policy for the background streams,
    ``deployed`` its jobs' timeline (default: derived from the plans).

    FaasCache's memory per region: room for every planned worker environment plus
    ``cache_share`` of the memory all unplanned environments would take if all were warm.
    """
    p = packed(all_streams)
    share = np.where(p.planned, 1.0, cache_share) * p.weight * p.memory_gb
    capacity = {region: float(share[p.region == code].sum())
                for code, region in enumerate(p.regions)}
    ours = SgcflowPolicy([plan_job(plan) for plan in plans], job_ends, seed,
                         deployed=deployed if deployed is not None else deployed_of(
                             plans, job_ends, seed))
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
             breakdown: bool = False, job_ends: dict[str, float] | None = None
             ) -> dict[str, dict]:
    """Run every policy on the same streams; results keyed by policy name.

    With ``breakdown`` each result also has ``trace`` (unplanned functions) and ``jobs``
    (planned sgcflow workers) computed from the same run.
    """
    jobs = deployed_of(plans or [], job_ends)
    return simulate_streams(streams(workload), workload.horizon_s, policies, jobs, breakdown)


def simulate_streams(all_streams, horizon_s: float, policies: list,
                     jobs: list[Deployed] | None = None, breakdown: bool = False,
                     scored_from_s: float = 0.0) -> dict[str, dict]:
    """``simulate`` on prepared streams (a list or ``Packed``), scoring only from
    ``scored_from_s`` (the warm-up end); ``jobs``: the planned jobs' deployed timelines, for
    the worker metrics."""
    p = packed(all_streams)
    parts = {"trace": ~p.planned, "jobs": p.planned} if breakdown else {}
    results: dict[str, dict] = {}
    for policy in policies:
        outcome = policy.run_packed(p, horizon_s, scored_from_s)
        entry: dict = packed_metrics(p, outcome, jobs, scored_from_s)
        for label, keep in parts.items():
            calls = np.repeat(keep, p.lengths())
            entry[label] = packed_metrics(p.select(keep), PackedOutcome(
                outcome.cold[calls], outcome.idle_s[keep]), jobs, scored_from_s)
        results[policy.name] = entry
    return results
