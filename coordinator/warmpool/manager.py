"""One run of the warm-pool manager: read the stack, decide (``tick``), act, report, and fail
loudly if any part failed.

The scheduled handler (``functions/warmpool_handler.py``) builds a ``Stack`` from boto3
clients and the job store; tests build one from moto and fakes. Each part of a tick is done
even if another failed (a bad plan, a region that cannot be provisioned, a ping batch that was
refused, a job that would not start), because the next tick retries everything and every action
converges; what failed is collected, and the tick then raises ``TickFailed`` with the whole
report, so the function's CloudWatch ``Errors`` metric counts it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from coordinator.warmpool import coldstats, planner, tick
from coordinator.warmpool.driver import WarmPoolDriver
from coordinator.warmpool.prices import RegionPrices, for_region

RECENT_RUNS = 4  # runs whose first rounds teach each region's cold starts (per tick)
LEARN_FROM = ("done", "running", "failed", "cancelled", "cancelling")


class TickFailed(RuntimeError):
    """Some part of a tick failed; the message is the tick's JSON report."""


@dataclass
class Stack:
    """What a tick reads and does, injected. ``plans()``: the published job plans;
    ``status(run_id)``: the job record's status (None: unknown); ``start(run_id)``: start a
    scheduled job's first execution; ``ping(region, run_id, count)``; ``fetch_round(run_id,
    t)``: (dispatch time, {worker: completion record}) for learning cold starts (None: off)."""

    plans: Callable[[], list[dict]]
    driver: WarmPoolDriver
    ping: Callable[[str, str, int], object]
    status: Callable[[str], str | None] = lambda run_id: None
    start: Callable[[str], object] | None = None
    fetch_round: Callable[[str, int], tuple | None] | None = None
    regions: list[str] = field(default_factory=list)
    prices: dict[str, RegionPrices] = field(default_factory=dict)
    utilization: float = 0.8


def run_tick(stack: Stack, now_s: float) -> dict:
    """One tick (see the module docstring); returns the report or raises ``TickFailed``."""
    failures: list[str] = []
    jobs = _jobs(stack.plans(), failures)
    status = {run_id: _safe(lambda r=run_id: stack.status(r), failures, f"status {run_id}")
              for run_id in jobs}
    regions = sorted(stack.regions or {p.region for plans, _ in jobs.values() for p in plans})
    fits = {region: _fit(stack, region, status, failures) for region in regions}
    planned = [([_plan(p, fits, stack) for p in plans], known) for plans, known in
               jobs.values()]
    capacity = {region: _safe(lambda r=region: stack.driver.current(r), failures,
                              f"read {region}") or (0, None) for region in regions}
    decision = tick.decide(planned, now_s, status, capacity, stack.regions or None)
    applied = stack.driver.apply(decision.targets)
    failures += [applied.results[r].error or f"{r}: failed" for r in applied.failed]
    for region, run_id, count in decision.pings:
        _safe(lambda a=(region, run_id, count): stack.ping(*a), failures,
              f"ping {count} for {run_id} in {region}")
    for run_id, _ in decision.start:
        if stack.start is None:
            failures.append(f"start {run_id}: no state machine configured")
        else:
            _safe(lambda r=run_id: stack.start(r), failures, f"start {run_id}")
    report = {"now_s": now_s, **decision.to_dict(), **applied.to_dict(), "failures": failures,
              "plans": len(jobs),
              "cold_starts": {r: {"p99_s": f.p99_s, "samples": f.samples, "source": f.source}
                              for r, f in fits.items()}}
    if failures:
        raise TickFailed(json.dumps(report, default=str))
    return report


def _jobs(published: list[dict], failures: list[str]) -> dict[str, tuple[list, float]]:
    """Each valid published job's per-region plans and when it became known."""
    result = {}
    for index, job in enumerate(published):
        try:
            (plans,) = planner.published([job])
        except (ValueError, TypeError, KeyError) as error:
            failures.append(f"plan {job.get('job_id', index) if isinstance(job, dict) else index}"
                            f": {error}")
            continue
        if plans:
            result[plans[0].run_id] = (plans, plans[0].known_at)
    return result


def _fit(stack: Stack, region: str, status: dict, failures: list[str]
         ) -> coldstats.ColdStartFit:
    if stack.fetch_round is None:
        return coldstats.published(region)
    runs = [r for r, s in status.items() if s in LEARN_FROM][-RECENT_RUNS:]
    fit = _safe(lambda: coldstats.learn(stack.fetch_round, runs, region), failures,
                f"learn cold starts in {region}")
    return fit or coldstats.published(region)


def _plan(plan, fits: dict, stack: Stack) -> planner.RegionPlan:
    fit = fits.get(plan.region) or coldstats.published(plan.region)
    region_plan = planner.plan_job(plan, stack.utilization, fit.p99_s,
                                   for_region(plan.region, stack.prices))
    return replace(region_plan, cold_source=fit.source)


def _safe(action: Callable[[], object], failures: list[str], what: str):
    """``action()``, or None with ``what: error`` appended to ``failures``."""
    try:
        return action()
    except Exception as error:  # every AWS/botocore error: reported, then raised at the end
        failures.append(f"{what}: {type(error).__name__}: {error}")
        return None
