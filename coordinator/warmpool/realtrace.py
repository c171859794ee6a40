"""Every policy on a real Azure Functions 2019 trace with planned sgcflow jobs laid over it.

The trace's apps are the background load (one stream per app, ``azure_streams``); the sgcflow
job mix (256 workers per job, as in the synthetic experiment) starts after the warm-up, in the same
region, so worker cold starts are measured under real background load. Policies see the whole
trace, history included, but only calls and idle time after the warm-up are scored; sgcflow's
background policy is tuned on the warm-up alone (``tuning``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from coordinator.warmpool.azure2019 import AzureTrace, TraceError
from coordinator.warmpool.azure_streams import REGION, app_streams
from coordinator.warmpool.planner import plan_job
from coordinator.warmpool.simulator import job_mix, policies_for, shifted, simulate_streams
from coordinator.warmpool.tuning import tune
from coordinator.warmpool.workload import streams


def check_warmup(trace: AzureTrace, warmup_minutes: int) -> None:
    if not 0 <= warmup_minutes < len(trace.minutes):
        raise TraceError(f"--warmup-minutes: {warmup_minutes} must be >= 0 and shorter than the "
                         f"trace ({len(trace.minutes)} minutes)")


def experiment(trace: AzureTrace, warmup_minutes: int = 240, seed: int = 0,
               placement: str = "poisson", jobs: int = 6, unplanned=None) -> dict[str, dict]:
    """All policies on the trace + job mix, keyed by policy; ``trace``/``jobs`` split."""
    check_warmup(trace, warmup_minutes)
    warmup_s = 60.0 * warmup_minutes
    background = app_streams(trace, seed, placement, split_at=(warmup_s / 2, warmup_s))
    all_streams = list(background)
    plans, ends = [], {}
    if jobs > 0:
        try:
            mix = shifted(job_mix(seed, (REGION,), jobs, trace.horizon_s - warmup_s), warmup_s)
        except ValueError as error:
            raise TraceError(f"--warmup-minutes: leaves too little trace for the job mix "
                             f"({error})") from error
        plans, ends = mix.plans, mix.job_ends
        first = max(s.func for s in background) + 1 if background else 0
        all_streams += [replace(s, func=s.func + first) for s in streams(mix.workload)]
    evidence = {"tuned_on": "given by the caller"}
    if unplanned is None:
        unplanned, evidence = tune(background, warmup_s)
    policies = policies_for(all_streams, plans, ends, seed, unplanned=unplanned)
    results = simulate_streams(all_streams, trace.horizon_s, policies, plans, breakdown=True,
                               scored_from_s=warmup_s)
    region_plans = [plan_job(p) for p in plans]
    results["sgcflow"]["jobs"].update({
        "plan_dollars": float(sum(p.dollars for p in region_plans)),
        "plans": len(region_plans),
        "prewarm_plans": sum(p.mode == "prewarm" for p in region_plans),
        "scored_minutes": len(trace.minutes) - warmup_minutes,
        "apps": len(background),
        "invocations": int(np.sum([s.requests.sum() for s in background])),
    })
    results["sgcflow"]["tuning"] = evidence
    return results
