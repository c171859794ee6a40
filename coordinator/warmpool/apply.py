"""Apply one job's warm-pool plan to a stack now (``sgc warmpool plan --apply``).

For a job started by hand, or to check a stack's quota before a big job: a provisioned plan
sets the worker alias's provisioned concurrency to the plan's environments in its region and
waits until AWS reports it READY (nothing is usable before); a pre-warm plan sends its pings.
Every failure is an ``ApplyError`` that says what to do: over the concurrency quota, FAILED or
not READY in time, an alias that does not exist. (The scheduled manager does the same from the
published plans, every minute.)
"""

from __future__ import annotations

from collections.abc import Callable

from coordinator.warmpool import pings
from coordinator.warmpool.driver import NotReady, WarmPoolDriver, default_client
from coordinator.warmpool.planner import RegionPlan


class ApplyError(RuntimeError):
    """The plan could not be applied; the message says why and what to do."""


def apply_plans(plans: list[RegionPlan], function: str, alias: str,
                client_factory: Callable[[str], object] | None = None,
                wait_s: float = 600.0, poll_s: float = 10.0,
                sleep: Callable[[float], None] | None = None) -> list[dict]:
    """Apply every region's plan; one result per plan (region, mode, what was done)."""
    factory = client_factory or default_client
    extra = {} if sleep is None else {"sleep": sleep}
    driver = WarmPoolDriver(function, alias, client_factory=factory, **extra)
    targets = {p.region: p.environments for p in plans if p.mode == "provisioned"}
    results = []
    if targets:
        report = driver.apply(targets)
        if report.failed:
            raise ApplyError("; ".join(report.results[r].error or r for r in report.failed))
        try:
            statuses = driver.wait_ready(targets, wait_s, poll_s)
        except NotReady as error:
            raise ApplyError(f"{error} (the allocation may still finish: check with "
                             "aws lambda get-provisioned-concurrency-config)") from error
        results += [{"region": r, "mode": "provisioned", "environments": t,
                     "status": statuses[r]} for r, t in sorted(targets.items())]
    for plan in plans:
        if plan.mode == "prewarm":
            sent = pings.send(factory(plan.region), function, alias, plan.environments,
                              plan.run_id)
            results.append({"region": plan.region, "mode": "prewarm", "environments": sent,
                            "status": f"{sent} pings sent"})
    return results
