"""Per-region provisioned-concurrency plan from job plans: when, how much, when to release.

AWS allocates provisioned concurrency 1-2 minutes after the request at up to 6,000 environments
a minute and none is usable until all are ready, so a job of n workers starting at s is requested
at ``s - lead(n)``. Provisioned concurrency costs $0.0000041667 per GB-s (billed in 5-minute
steps) plus $0.0000097222 per GB-s of duration, against $0.0000166667 on demand: it pays off
above 60 % use; below that, pre-warm invocations shortly before the start are cheaper.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from coordinator.warmpool.demand import JobPlan

PROVISIONED_GB_S = 0.0000041667
PROVISIONED_DURATION_GB_S = 0.0000097222
ON_DEMAND_GB_S = 0.0000166667
REQUEST_DOLLARS = 0.20 / 1e6
BILLING_STEP_S = 300.0
ALLOCATION_MAX_S = 120.0
ALLOCATION_MIN_S = 60.0
ENVIRONMENTS_PER_MINUTE = 6000
SAFETY_S = 10.0
BREAK_EVEN_UTILIZATION = PROVISIONED_GB_S / (ON_DEMAND_GB_S - PROVISIONED_DURATION_GB_S)


def lead_time_s(workers: int) -> float:
    """Request this long before the start: worst allocation delay + ramp + a safety margin."""
    ramp = 60.0 * workers / ENVIRONMENTS_PER_MINUTE
    return ALLOCATION_MAX_S + ramp + SAFETY_S


def prewarm_lead_s(cold_start_p99_s: float) -> float:
    """Pre-warm pings go out this long before the start: the slowest cold start plus margin."""
    return cold_start_p99_s + SAFETY_S


def provisioned_dollars(workers: int, memory_mb: int, window_s: float, busy_s: float) -> float:
    """Provisioned cost: the whole window in 5-minute steps, plus duration while busy."""
    gigabytes = workers * memory_mb / 1024
    billed = math.ceil(window_s / BILLING_STEP_S) * BILLING_STEP_S
    return gigabytes * (billed * PROVISIONED_GB_S + busy_s * PROVISIONED_DURATION_GB_S)


def on_demand_dollars(workers: int, memory_mb: int, busy_s: float, invocations: int) -> float:
    return workers * memory_mb / 1024 * busy_s * ON_DEMAND_GB_S + invocations * REQUEST_DOLLARS


@dataclass(frozen=True)
class RegionPlan:
    """One job's warm-pool action in one region (times in the plan's clock, seconds)."""

    run_id: str
    region: str
    mode: str  # "provisioned" | "prewarm"
    request_s: float  # put_provisioned_concurrency_config, or send the pre-warm pings
    start_s: float
    release_s: float  # delete the config (or stop caring)
    amount: int
    lead_s: float
    dollars: float  # of the chosen mode, duration included
    provisioned_dollars: float
    on_demand_dollars: float
    all_day_dollars: float  # the same workers provisioned for 24 h (the baseline to beat)
    uncovered_s: float  # seconds after the start before the pool is ready (late submission)

    def to_dict(self) -> dict:
        """The ``--json`` shape: the run id under its published name ``job_id``."""
        out = {"job_id": self.run_id, **asdict(self)}
        del out["run_id"]
        return out


def plan_job(plan: JobPlan, utilization: float = 0.8, cold_start_p99_s: float = 20.0
             ) -> RegionPlan:
    """Choose provisioned vs pre-warm for one job by cost, with its lead time and release."""
    if not 0.0 < utilization <= 1.0:
        raise ValueError(f"utilization: expected 0 < u <= 1, got {utilization}")
    duration = plan.end_s - plan.start_s
    busy = utilization * duration
    lead = lead_time_s(plan.workers)
    request = max(plan.known_at, plan.start_s - lead)
    window = plan.end_s - request
    provisioned = provisioned_dollars(plan.workers, plan.worker_memory_mb, window, busy)
    pings = plan.workers * (cold_start_p99_s + 1.0)  # each ping pays its own cold start
    on_demand = on_demand_dollars(plan.workers, plan.worker_memory_mb, busy,
                                  plan.workers * plan.rounds) + on_demand_dollars(
        1, plan.worker_memory_mb, pings, plan.workers)
    all_day = provisioned_dollars(plan.workers, plan.worker_memory_mb, 86400.0, 0.0)
    if provisioned <= on_demand:
        mode, dollars = "provisioned", provisioned
        uncovered = max(0.0, request + lead - plan.start_s)
    else:
        mode, dollars = "prewarm", on_demand
        lead = prewarm_lead_s(cold_start_p99_s)
        request = max(plan.known_at, plan.start_s - lead)
        uncovered = max(0.0, request + lead - plan.start_s)
    return RegionPlan(plan.run_id, plan.region, mode, request, plan.start_s, plan.end_s,
                      plan.workers, lead, dollars, provisioned, on_demand, all_day, uncovered)


def targets_at(plans: list[RegionPlan], now_s: float) -> dict[str, int]:
    """Provisioned environments each region should have configured at ``now_s``.

    Windows of one region add up (concurrent jobs); a region with no active window maps to 0
    (release). Pre-warm plans need no configuration.
    """
    targets: dict[str, int] = {plan.region: 0 for plan in plans}
    for plan in plans:
        if plan.mode == "provisioned" and plan.request_s <= now_s < plan.release_s:
            targets[plan.region] += plan.amount
    return targets


def targets_from_jobs(jobs: list[dict], now_s: float, regions: list[str] | None = None,
                      utilization: float = 0.8) -> tuple[dict[str, int], list[RegionPlan]]:
    """Targets now from accepted jobs ``{"job_id", "spec", "start_s", "submit_s"?}``.

    Every region in ``regions`` appears in the targets (0 = release), so a region whose jobs
    ended is cleaned up even when no plan mentions it any more.
    """
    from coordinator.warmpool.demand import plans_from_spec

    plans: list[RegionPlan] = []
    for index, accepted in enumerate(jobs):
        for key in ("job_id", "spec", "start_s"):
            if key not in accepted:
                raise ValueError(f"jobs[{index}].{key}: required")
        for plan in plans_from_spec(accepted["spec"], str(accepted["job_id"]),
                                    float(accepted["start_s"]), accepted.get("submit_s")):
            plans.append(plan_job(plan, utilization))
    targets = {region: 0 for region in regions or []}
    targets.update(targets_at(plans, now_s))
    return targets, plans
