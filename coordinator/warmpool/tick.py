"""One tick of the warm-pool manager, decided from what the stack says now (pure: no AWS).

Every minute (EventBridge) the manager lists the published job plans, reads each job's status
and each region's provisioned-concurrency config, and decides:

- targets: per region, the environments (workers + spares) of every provisioned plan whose
  request time has come and whose job has not ended. A job's capacity is released at the first
  tick after its record turns done, failed or cancelled; if the record never does, ``OVERRUN_S``
  (or the job's own estimated length, if longer) after its estimated end.
- pings: a pre-warm plan's ``workers + spares`` concurrent pings go out once, at the first tick
  in the minute before its pre-warm lead (or the first tick after the plan was published, if
  that was later); once the job runs, only the spares are pinged, every ``PING_PERIOD_S``
  (the workers' own rounds keep them warm).
- starts: a scheduled job (``sgc submit --start-at``) starts at the first tick at or after its
  start time at which its capacity is ready in every region it runs in here (provisioned: the
  config READY with at least the target; pre-warm: the pings out a lead before), or once
  ``MAX_HOLD_S`` has passed anyway (reported: it pays cold starts).

``timeline`` replays the same rules for the simulator, so what it scores is what this deploys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from coordinator.warmpool.planner import MANAGER_TICK_S, RegionPlan

MAX_HOLD_S = 600.0  # a scheduled job waits at most this long for READY
PING_PERIOD_S = 300.0  # keep-warm pings for spares while a job runs
OVERRUN_S = 3600.0  # capacity outlives an estimated end by at most this (or the job's length)
TERMINAL = ("done", "failed", "cancelled")
SCHEDULED = "scheduled"


def next_tick(t: float) -> float:
    """The first manager tick at or after ``t`` (ticks fall on whole minutes)."""
    return math.ceil(t / MANAGER_TICK_S - 1e-9) * MANAGER_TICK_S


@dataclass
class Decision:
    """What the manager does this tick (``to_dict`` is its JSON report)."""

    targets: dict[str, int]
    pings: list[tuple[str, str, int]] = field(default_factory=list)  # (region, run, count)
    start: list[tuple[str, str]] = field(default_factory=list)  # (run, why)
    holding: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"targets": self.targets,
                "pings": [{"region": r, "job_id": j, "count": c} for r, j, c in self.pings],
                "start": [{"job_id": j, "why": w} for j, w in self.start],
                "holding": self.holding, "released": self.released}


def ended(plan: RegionPlan, now_s: float, status: str | None) -> bool:
    """Whether the job is over for the warm pool: its record says so, or it outlived its
    estimated end (by ``OVERRUN_S`` or its own length while the record says it runs)."""
    if status in TERMINAL:
        return True
    limit = plan.release_s
    if status is not None:  # the record says it has not ended yet
        limit += max(OVERRUN_S, plan.release_s - plan.start_s)
    return now_s >= limit


def holds_capacity(plan: RegionPlan, now_s: float, status: str | None) -> bool:
    """Whether the job's environments are kept at ``now_s``: requested and not ended."""
    return now_s >= plan.request_s and not ended(plan, now_s, status)


def ping_count(plan: RegionPlan, now_s: float, status: str | None, known_s: float) -> int:
    """Pings a pre-warm plan needs at this tick (0: none)."""
    if plan.mode != "prewarm" or ended(plan, now_s, status):
        return 0
    first = next_tick(max(plan.start_s - plan.lead_s - MANAGER_TICK_S, known_s))
    if first <= now_s < first + MANAGER_TICK_S:
        started = status not in (None, SCHEDULED) and now_s >= plan.start_s
        return plan.spare if started else plan.environments
    running = now_s >= plan.start_s + PING_PERIOD_S and status != SCHEDULED
    if running and (now_s - plan.start_s) % PING_PERIOD_S < MANAGER_TICK_S:
        return plan.spare
    return 0


def decide(jobs: list[tuple[list[RegionPlan], float]], now_s: float,
           status: dict[str, str | None], capacity: dict[str, tuple[int, str | None]],
           regions: list[str] | None = None) -> Decision:
    """This tick's decision. ``jobs``: each job's region plans and when its plan became known;
    ``status``: run id -> job record status (None: not known); ``capacity``: region ->
    (requested, config status) as read before this tick; ``regions``: the regions this
    manager drives (None: every region the plans name)."""
    mine = [(plans if regions is None else [p for p in plans if p.region in regions], known)
            for plans, known in jobs]
    targets = {region: 0 for region in regions or []}
    decision = Decision(targets)
    for plans, known in mine:
        for plan in plans:
            targets.setdefault(plan.region, 0)
            state = status.get(plan.run_id)
            if plan.mode == "provisioned" and holds_capacity(plan, now_s, state):
                targets[plan.region] += plan.environments
            count = ping_count(plan, now_s, state, known)
            if count:
                decision.pings.append((plan.region, plan.run_id, count))
            if state in TERMINAL and plan.run_id not in decision.released:
                decision.released.append(plan.run_id)
    for plans, _ in mine:
        _start_or_hold(plans, now_s, status, capacity, targets, decision)
    return decision


def _start_or_hold(plans: list[RegionPlan], now_s: float, status: dict, capacity: dict,
                   targets: dict[str, int], decision: Decision) -> None:
    if not plans or status.get(plans[0].run_id) != SCHEDULED or now_s < plans[0].start_s:
        return
    run_id = plans[0].run_id
    waiting = [p.region for p in plans if p.mode == "provisioned" and not _ready(
        capacity.get(p.region, (0, None)), targets.get(p.region, 0))]
    if not waiting:
        decision.start.append((run_id, "capacity ready"))
    elif now_s >= plans[0].start_s + MAX_HOLD_S:
        decision.start.append((run_id, f"held {MAX_HOLD_S:g} s; not ready in "
                                       f"{', '.join(waiting)}"))
    else:
        decision.holding.append(run_id)


def _ready(config: tuple[int, str | None], target: int) -> bool:
    requested, state = config
    return state == "READY" and requested >= target
