"""The sgcflow job mix the warm pool is judged on, placed on the deployed timeline.

Jobs run one after another per region (100, 300 or 1,000 rounds of ``workers``, a few seconds
apart, 10 minutes to 4 hours between jobs). A share ``notice_share`` of them is submitted with
notice (``sgc submit --start-at``, 5 to 60 minutes ahead); the others start when submitted. Each
job's first round is dispatched when the deployed manager would start it (``timeline``: a job
with notice waits at the manager's ticks for its capacity), and every round also sends tasks to
workers still busy with an earlier round (late tasks): their count per round is drawn from the
shipped Lambda trace's share of workers still running at twice their round's median
(``spares.LATE_SHARES``), so rounds use ``workers + late`` environments.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from coordinator.warmpool import coldstats, spares, timeline
from coordinator.warmpool.demand import JobPlan
from coordinator.warmpool.planner import plan_job
from coordinator.warmpool.timeline import Deployed
from coordinator.warmpool.workload import FunctionSpec, Workload

WORKER_DURATION_S = 4.0
NOTICE_SHARE = 0.7  # the default share of jobs submitted with notice
NOTICE_S = (300.0, 3600.0)  # how far ahead a job with notice is submitted


@dataclass
class JobMix:
    workload: Workload
    plans: list[JobPlan]
    job_ends: dict[str, float]
    deployed: list[Deployed]
    notice_share: float = NOTICE_SHARE


def job_mix(seed: int = 0, regions: tuple[str, ...] = ("us-east-1", "eu-west-2"),
            jobs_per_region: int = 6, horizon_s: float = 2 * 86400.0, workers: int = 256,
            round_seconds: float = 5.0, memory_mb: int = 2048,
            notice_share: float = NOTICE_SHARE) -> JobMix:
    """Seeded jobs per region (see the module docstring)."""
    if not 0.0 <= notice_share <= 1.0:
        raise ValueError(f"--notice-share: expected 0..1, got {notice_share}")
    rng = np.random.default_rng(seed)
    parts, plans, ends, functions, deployed = [], [], {}, [], []
    for region in regions:
        functions.append(FunctionSpec(region, 1, 0, 0, f"pool00-1769-{memory_mb}", "python3",
                                      "sgcflow", WORKER_DURATION_S, planned=True))
        clock = rng.uniform(0, 3600)
        for index in range(jobs_per_region):
            job = _one_job(rng, seed, f"{region}-job{index:02d}", region, clock, workers,
                           round_seconds, memory_mb, notice_share)
            plan, times, late, costs, placed = job
            if times[-1] + round_seconds > horizon_s:
                break
            plans.append(plan)
            ends[plan.run_id] = float(times[-1] + WORKER_DURATION_S)
            deployed.append(replace(placed, release_s=timeline.next_tick(ends[plan.run_id])))
            parts.append((np.full(len(times), len(functions) - 1), times, workers + late,
                          costs))
            clock = ends[plan.run_id] + rng.uniform(600, 4 * 3600)
    if not parts:
        raise ValueError(f"horizon_s: {horizon_s:g} s is too short for any job of the mix")
    func, time, concurrency, costs = (np.concatenate(c) for c in zip(*parts, strict=True))
    workload = Workload(functions, func.astype(np.int32), time, concurrency.astype(np.int32),
                        costs, horizon_s)
    return JobMix(workload, plans, ends, deployed, notice_share)


def _one_job(rng, seed, run_id, region, start, workers, round_seconds, memory_mb,
             notice_share):
    """One job: its plan, round times on the deployed timeline, late tasks and cold costs."""
    rounds = int(rng.choice([100, 300, 1000])) + int(rng.choice([0, 1, 2]))
    notice = bool(rng.random() < notice_share)
    submit = start - rng.uniform(*NOTICE_S) if notice else start
    plan = JobPlan(run_id, region, start, rounds, workers, round_seconds, memory_mb, submit,
                   spares.spare_environments(workers))
    placed = timeline.deploy(plan_job(plan), submit, notice, seed)
    offsets = np.cumsum(round_seconds * rng.uniform(0.9, 1.1, rounds))
    times = placed.start_s + np.r_[0.0, offsets[:-1]]
    share = np.interp(rng.random(rounds), spares.LATE_QUANTILES, spares.LATE_SHARES)
    late = np.rint(share * workers).astype(np.int32)
    costs = coldstats.published(region).draw(rng, rounds)
    return plan, times, late, costs, placed


def shifted(mix: JobMix, offset_s: float) -> JobMix:
    """The same job mix ``offset_s`` later (plans, worker invocations, job ends, timeline)."""
    w = mix.workload
    workload = Workload(w.functions, w.func, w.time + offset_s, w.concurrency, w.cold_cost,
                        w.horizon_s + offset_s, w.request_id)
    plans = [replace(p, start_s=p.start_s + offset_s,
                     submit_s=None if p.submit_s is None else p.submit_s + offset_s)
             for p in mix.plans]
    deployed = [replace(d, ready_s=d.ready_s + offset_s, start_s=d.start_s + offset_s,
                        release_s=d.release_s + offset_s) for d in mix.deployed]
    return JobMix(workload, plans, {job: end + offset_s for job, end in mix.job_ends.items()},
                  deployed, mix.notice_share)
