"""When a job's warm pool is really there, as deployed: the simulator's model of ``tick``.

For one job in one region (its ``RegionPlan``) and when the plan was published:
- the manager sees the plan at its next tick; a provisioned plan is requested at the first tick
  at or after ``max(published, start - lead)`` and is READY after AWS's allocation delay
  (uniform 1-2 minutes, drawn per job from the seed and the job's id, so every caller draws the
  same) plus the ramp of 6,000 environments a minute; a pre-warm plan's pings go out at the
  first tick of the minute before its lead (or after publication) and are warm one p99 cold
  start later;
- a job with notice (``sgc submit --start-at``) starts at the first tick at or after its start
  at which that capacity is ready, or after ``MAX_HOLD_S`` anyway; a job without notice starts
  when submitted (its Plan step publishes the plan as it starts);
- the capacity is released at the first tick after the job ends.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from coordinator.warmpool.planner import (
    ALLOCATION_MAX_S,
    ALLOCATION_MIN_S,
    ENVIRONMENTS_PER_MINUTE,
    MANAGER_TICK_S,
    RegionPlan,
)
from coordinator.warmpool.tick import MAX_HOLD_S, next_tick


@dataclass(frozen=True)
class Deployed:
    """One job's warm pool in one region, on the deployed timeline (seconds)."""

    run_id: str
    region: str
    notice: bool
    workers: int
    environments: int  # workers + spares
    ready_s: float  # the warm environments are usable from here
    start_s: float  # when the job's first round is dispatched
    release_s: float  # when the manager lets the capacity go (set once the end is known)

    @property
    def waited_s(self) -> float:
        """Seconds the job ran before its capacity was ready (0 when it waited for it)."""
        return max(0.0, self.ready_s - self.start_s)


def allocation_delay_s(seed: int, run_id: str) -> float:
    """AWS's 1-2 minute allocation delay for this job, the same for every caller."""
    digest = hashlib.blake2b(f"{seed}:{run_id}".encode(), digest_size=8).digest()
    fraction = int.from_bytes(digest, "big") / 2 ** 64
    return ALLOCATION_MIN_S + fraction * (ALLOCATION_MAX_S - ALLOCATION_MIN_S)


def ready_at(plan: RegionPlan, published_s: float, seed: int) -> float:
    """When the plan's environments are warm (see the module docstring)."""
    if plan.mode == "provisioned":
        request = next_tick(max(published_s, plan.start_s - plan.lead_s))
        ramp = 60.0 * plan.environments / ENVIRONMENTS_PER_MINUTE
        return request + allocation_delay_s(seed, plan.run_id) + ramp
    pings = next_tick(max(plan.start_s - plan.lead_s - MANAGER_TICK_S, published_s))
    return pings + plan.cold_start_p99_s


def start_at(start_s: float, ready_s: float, notice: bool) -> float:
    """When a job really starts: at once without notice; with notice, held for its capacity
    at the manager's ticks (at most ``MAX_HOLD_S``)."""
    if not notice:
        return start_s
    due = next_tick(start_s)
    if ready_s <= due:
        return due
    return min(next_tick(ready_s), next_tick(start_s + MAX_HOLD_S))


def deploy(plan: RegionPlan, published_s: float, notice: bool, seed: int,
           end_s: float | None = None, started_s: float | None = None) -> Deployed:
    """The job's deployed timeline; ``end_s``: when its last round ends, if known;
    ``started_s``: when its first round was dispatched, if known (a workload given as is)."""
    ready = ready_at(plan, published_s, seed)
    start = start_at(plan.start_s, ready, notice) if started_s is None else started_s
    end = plan.release_s + (start - plan.start_s) if end_s is None else end_s
    return Deployed(plan.run_id, plan.region, notice, plan.amount, plan.environments, ready,
                    start, next_tick(end))
