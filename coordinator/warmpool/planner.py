"""Per-region warm-pool plan from job plans: provisioned or pre-warmed, when, how much, when to
release, priced by the region's own rates and pre-warmed by its own cold starts.

AWS allocates provisioned concurrency 1-2 minutes after the request at up to 6,000 environments
a minute and none is usable until all are ready; the manager ticks every minute, so a job of n
workers (+ spares) starting at s is requested at the first tick after ``s - lead(n)``.
Provisioned concurrency costs (us-east-1) $0.0000041667 per GB-s (billed in 5-minute steps)
plus $0.0000097222 per GB-s of duration, against $0.0000166667 on demand: it pays off above
60 % use; below that, pre-warm pings just before the start are cheaper (``prices`` has each
region's rates; ``coldstats`` each region's cold-start p99, which sets the pings' lead).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from coordinator.warmpool import coldstats
from coordinator.warmpool.demand import JobPlan
from coordinator.warmpool.prices import US_EAST_1, RegionPrices, for_region

PROVISIONED_GB_S = US_EAST_1.provisioned_gb_s
PROVISIONED_DURATION_GB_S = US_EAST_1.provisioned_duration_gb_s
ON_DEMAND_GB_S = US_EAST_1.on_demand_gb_s
REQUEST_DOLLARS = US_EAST_1.request_dollars
BILLING_STEP_S = 300.0
ALLOCATION_MAX_S = 120.0
ALLOCATION_MIN_S = 60.0
ENVIRONMENTS_PER_MINUTE = 6000
SAFETY_S = 10.0
MANAGER_TICK_S = 60.0  # the manager's EventBridge schedule: every minute
PING_HOLD_S = 10.0  # a pre-warm ping keeps its environment busy this long (all overlap)
BREAK_EVEN_UTILIZATION = US_EAST_1.break_even_utilization


def lead_time_s(workers: int) -> float:
    """Request this long before the start: one manager tick (the request goes out at the
    first tick after it is due) + worst allocation delay + ramp + a safety margin."""
    ramp = 60.0 * workers / ENVIRONMENTS_PER_MINUTE
    return MANAGER_TICK_S + ALLOCATION_MAX_S + ramp + SAFETY_S


def prewarm_lead_s(cold_start_p99_s: float) -> float:
    """Pre-warm pings go out this long before the start: the slowest cold start plus margin
    (the manager sends them at the last tick before)."""
    return cold_start_p99_s + SAFETY_S


def provisioned_dollars(workers: int, memory_mb: int, window_s: float, busy_s: float,
                        prices: RegionPrices = US_EAST_1, spare: int = 0) -> float:
    """Provisioned cost: every environment (workers + spares) for the whole window in 5-minute
    steps, plus the workers' duration while busy."""
    gigabytes = memory_mb / 1024
    billed = math.ceil(window_s / BILLING_STEP_S) * BILLING_STEP_S
    return gigabytes * ((workers + spare) * billed * prices.provisioned_gb_s
                        + workers * busy_s * prices.provisioned_duration_gb_s)


def on_demand_dollars(workers: int, memory_mb: int, busy_s: float, invocations: int,
                      prices: RegionPrices = US_EAST_1) -> float:
    return (workers * memory_mb / 1024 * busy_s * prices.on_demand_gb_s
            + invocations * prices.request_dollars)


@dataclass(frozen=True)
class RegionPlan:
    """One job's warm-pool action in one region (times in the plan's clock, seconds)."""

    run_id: str
    region: str
    mode: str  # "provisioned" | "prewarm"
    request_s: float  # put_provisioned_concurrency_config, or send the pre-warm pings
    start_s: float
    release_s: float  # delete the config (or stop caring)
    amount: int  # the job's workers
    lead_s: float
    dollars: float  # of the chosen mode, duration included
    provisioned_dollars: float
    on_demand_dollars: float
    all_day_dollars: float  # the same workers provisioned for 24 h (the baseline to beat)
    uncovered_s: float  # seconds after the start before the pool is ready (late submission)
    spare: int = 0  # environments beyond the workers, for late tasks
    cold_start_p99_s: float = 0.0  # the region's, which sets the pre-warm lead
    price_source: str = ""
    cold_source: str = ""
    known_s: float = 0.0  # when the plan became known (published)

    @property
    def environments(self) -> int:
        """What the warm pool holds for this job: its workers and its spares."""
        return self.amount + self.spare

    def to_dict(self) -> dict:
        """The ``--json`` shape: the run id under its published name ``job_id``."""
        out = {"job_id": self.run_id, **asdict(self)}
        del out["run_id"]
        return out


def plan_job(plan: JobPlan, utilization: float = 0.8, cold_start_p99_s: float | None = None,
             prices: RegionPrices | None = None) -> RegionPlan:
    """Choose provisioned vs pre-warm for one job by cost, with its lead time and release.

    ``cold_start_p99_s`` and ``prices`` default to the region's published figures
    (``coldstats.published``, ``prices.for_region``)."""
    if not 0.0 < utilization <= 1.0:
        raise ValueError(f"utilization: expected 0 < u <= 1, got {utilization}")
    fit = coldstats.published(plan.region)
    p99 = fit.p99_s if cold_start_p99_s is None else cold_start_p99_s
    cold_source = fit.source if cold_start_p99_s is None else "given"
    rates = prices or for_region(plan.region)
    environments = plan.workers + plan.spare
    duration = plan.end_s - plan.start_s
    busy = utilization * duration
    lead = lead_time_s(environments)
    request = max(plan.known_at, plan.start_s - lead)
    window = plan.end_s - request
    provisioned = provisioned_dollars(plan.workers, plan.worker_memory_mb, window, busy, rates,
                                      plan.spare)
    pings = environments * (p99 + PING_HOLD_S)  # each ping pays its own cold start
    on_demand = on_demand_dollars(plan.workers, plan.worker_memory_mb, busy,
                                  plan.workers * plan.rounds, rates) + on_demand_dollars(
        1, plan.worker_memory_mb, pings, environments, rates)
    all_day = provisioned_dollars(plan.workers, plan.worker_memory_mb, 86400.0, 0.0, rates)
    if provisioned <= on_demand:
        mode, dollars = "provisioned", provisioned
        uncovered = max(0.0, request + lead - plan.start_s)
    else:
        mode, dollars = "prewarm", on_demand
        lead = prewarm_lead_s(p99)
        request = max(plan.known_at, plan.start_s - lead)
        uncovered = max(0.0, request + lead - plan.start_s)
    return RegionPlan(plan.run_id, plan.region, mode, request, plan.start_s, plan.end_s,
                      plan.workers, lead, dollars, provisioned, on_demand, all_day, uncovered,
                      plan.spare, p99, rates.source, cold_source, plan.known_at)


def targets_at(plans: list[RegionPlan], now_s: float) -> dict[str, int]:
    """Provisioned environments each region should have configured at ``now_s``.

    Windows of one region add up (concurrent jobs); a region with no active window maps to 0
    (release). Pre-warm plans need no configuration.
    """
    targets: dict[str, int] = {plan.region: 0 for plan in plans}
    for plan in plans:
        if plan.mode == "provisioned" and plan.request_s <= now_s < plan.release_s:
            targets[plan.region] += plan.environments
    return targets


def targets_from_jobs(jobs: list[dict], now_s: float, regions: list[str] | None = None,
                      utilization: float = 0.8) -> tuple[dict[str, int], list[RegionPlan]]:
    """Targets now from accepted jobs ``{"job_id", "spec", "start_s", "submit_s"?,
    "spare_environments"?}``.

    Every region in ``regions`` appears in the targets (0 = release), so a region whose jobs
    ended is cleaned up even when no plan mentions it any more.
    """
    plans = [plan_job(plan, utilization) for accepted in published(jobs)
             for plan in accepted]
    targets = {region: 0 for region in regions or []}
    targets.update(targets_at(plans, now_s))
    return targets, plans


def published(jobs: list[dict]) -> list[list[JobPlan]]:
    """Each published job's ``JobPlan`` per region; a malformed job names its index and
    field (docs/contracts.md, "Warm-pool job plans")."""
    from coordinator.warmpool.demand import plans_from_spec
    from coordinator.warmpool.spares import check

    result = []
    for index, accepted in enumerate(jobs):
        for key in ("job_id", "spec", "start_s"):
            if key not in accepted:
                raise ValueError(f"jobs[{index}].{key}: required")
        spec = accepted["spec"]
        workers = spec.get("workers", 256) if isinstance(spec, dict) else 0
        spare = check(accepted.get("spare_environments", 0),
                      workers if isinstance(workers, int) else 0,
                      f"jobs[{index}].spare_environments")
        try:
            result.append(plans_from_spec(spec, str(accepted["job_id"]),
                                          float(accepted["start_s"]), accepted.get("submit_s"),
                                          spare))
        except ValueError as error:
            raise ValueError(f"jobs[{index}].spec.{error}") from error
    return result
