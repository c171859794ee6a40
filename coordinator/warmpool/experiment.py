"""The warm-pool experiment: background streams + a planned sgcflow job mix, every policy scored.

One pipeline for both backgrounds, so the two reports mean the same thing:
- ``synthetic``: the generated multi-region trace (``synthetic.generate``), jobs in R1/R2;
- ``azure``: a real Azure Functions 2019 trace, one stream per app (``azure_streams``), jobs in
  its region, so worker cold starts are measured under real background load.
The job mix starts after the warm-up. Policies see the whole timeline, history included, but
only calls and idle time after the warm-up are scored; sgcflow's background policy is tuned on
the warm-up alone (``tuning``), or, with no warm-up, is its fixed quantile window.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from coordinator.warmpool import curves
from coordinator.warmpool.azure2019 import AzureTrace, TraceError
from coordinator.warmpool.azure_streams import REGION, app_streams
from coordinator.warmpool.jobmix import NOTICE_SHARE, JobMix, job_mix, shifted
from coordinator.warmpool.packed import Packed, packed
from coordinator.warmpool.planner import plan_job
from coordinator.warmpool.simulator import policies_for, simulate_streams
from coordinator.warmpool.tuning import tune
from coordinator.warmpool.workload import streams


def run(background, horizon_s: float, warmup_s: float, mix: JobMix | None,
        seed: int, unplanned=None, sweep: bool = False) -> dict[str, dict]:
    """Every policy on ``background`` (a list of streams or ``Packed``) + ``mix``'s worker
    streams, scored after ``warmup_s``; results keyed by policy, each split into ``trace``
    (background) and ``jobs`` (workers). With ``sweep``, ``curves``: every baseline over its
    settings on the background, and whether sgcflow lies below each (``curves``)."""
    background = packed(background)
    all_streams: Packed = background
    plans, ends, deployed = [], {}, []
    if mix is not None:
        plans, ends, deployed = mix.plans, mix.job_ends, mix.deployed
        first = int(background.func.max()) + 1 if background.streams else 0
        workers = [replace(s, func=s.func + first) for s in streams(mix.workload)]
        all_streams = background.concat(Packed.of(workers))
    evidence = {"tuned_on": "given by the caller"}
    if unplanned is None and warmup_s > 0:
        unplanned, evidence = tune(background, warmup_s)
    elif unplanned is None:
        evidence = {"tuned_on": "nothing (no warm-up): quantile windows, fixed"}
    policies = policies_for(all_streams, plans, ends, seed, unplanned=unplanned,
                            deployed=deployed)
    results = simulate_streams(all_streams, horizon_s, policies, deployed, breakdown=True,
                               scored_from_s=warmup_s)
    region_plans = [plan_job(p) for p in plans]
    days_billed = int(np.ceil(horizon_s / 86400.0))
    results["sgcflow"]["jobs"].update({
        "plan_dollars": float(sum(p.dollars for p in region_plans)),
        "all_day_warm_dollars": float(sum({p.region: p.all_day_dollars
                                           for p in region_plans}.values()) * days_billed),
        "plans": len(region_plans),
        "prewarm_plans": sum(p.mode == "prewarm" for p in region_plans),
        "notice_share": None if mix is None else mix.notice_share,
        "jobs_with_notice": sum(d.notice for d in deployed),
        "spare_environments": sorted({p.spare for p in region_plans}),
    })
    results["sgcflow"]["tuning"] = evidence
    if sweep:
        points = curves.sweep(background, horizon_s, warmup_s)
        results["curves"] = {family: {"points": family_points,
                                      **curves.judge(results["sgcflow"]["trace"],
                                                     family_points)}
                             for family, family_points in points.items()}
    return results


def synthetic(seed: int = 0, days: float = 2.0, functions_per_region: int = 40,
              jobs_per_region: int = 6, job_regions: tuple[str, ...] = ("R1", "R2"),
              warmup_s: float = 0.0, notice_share: float = NOTICE_SHARE,
              sweep: bool = False) -> dict[str, dict]:
    """The generated trace with the job mix after ``warmup_s`` (the docs/benchmarks.md run);
    ``notice_share`` of the jobs are submitted with notice."""
    from coordinator.warmpool.synthetic import generate

    horizon_s = days * 86400.0
    if not 0 <= warmup_s < horizon_s:
        raise ValueError(f"--warmup-minutes: {warmup_s / 60:g} must be >= 0 and shorter than "
                         f"the trace ({horizon_s / 60:g} minutes)")
    trace = generate(seed=seed, days=days, functions_per_region=functions_per_region)
    mix = shifted(job_mix(seed=seed, regions=job_regions, jobs_per_region=jobs_per_region,
                          horizon_s=horizon_s - warmup_s, notice_share=notice_share),
                  warmup_s)  # jobs in scored minutes
    return run(streams(trace), horizon_s, warmup_s, mix, seed, sweep=sweep)


def check_warmup(trace: AzureTrace, warmup_minutes: int) -> None:
    if not 0 <= warmup_minutes < len(trace.minutes):
        raise TraceError(f"--warmup-minutes: {warmup_minutes} must be >= 0 and shorter than the "
                         f"trace ({len(trace.minutes)} minutes)")


def azure(trace: AzureTrace, warmup_minutes: int = 240, seed: int = 0,
          placement: str = "poisson", jobs: int = 6, unplanned=None,
          notice_share: float = NOTICE_SHARE, sweep: bool = False) -> dict[str, dict]:
    """The Azure trace's apps as background, ``jobs`` sgcflow jobs in its region after the
    warm-up (``notice_share`` of them with notice); the ``jobs`` split also reports the scored
    minutes, apps and invocations."""
    check_warmup(trace, warmup_minutes)
    warmup_s = 60.0 * warmup_minutes
    background = app_streams(trace, seed, placement, split_at=(warmup_s / 2, warmup_s))
    mix = None
    if jobs > 0:
        try:
            mix = shifted(job_mix(seed, (REGION,), jobs, trace.horizon_s - warmup_s,
                                  notice_share=notice_share), warmup_s)
        except ValueError as error:
            raise TraceError(f"--warmup-minutes: leaves too little trace for the job mix "
                             f"({error})") from error
    results = run(background, trace.horizon_s, warmup_s, mix, seed, unplanned, sweep)
    results["sgcflow"]["jobs"].update({
        "scored_minutes": len(trace.minutes) - warmup_minutes,
        "apps": background.streams,
        "invocations": int(background.requests.sum()),
    })
    return results
