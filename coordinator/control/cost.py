"""What a job costs (or would cost) on AWS: Lambda GB-seconds, requests, state transitions.

Prices (us-east-1, x86, on-demand, 2026): Lambda $0.0000166667 per GB-s and $0.20 per million
requests; Standard workflows $0.025 per 1,000 state transitions.
"""

from __future__ import annotations

GB_SECOND_USD = 0.0000166667
REQUEST_USD = 0.20 / 1_000_000
TRANSITION_USD = 0.025 / 1000
# Transitions of one round in the workflow: Route, Dispatch, Collect, Collected?, Update, plus
# one Collect + Collected? per extra Collect run.
TRANSITIONS_PER_ROUND = 5
TRANSITIONS_PER_EXTRA_COLLECT = 2
TRANSITIONS_FIXED = 4  # Plan, Route, Finalize, Done


def estimate(worker_seconds: float, worker_invocations: int, worker_memory_mb: int,
             step_seconds: float, step_invocations: int, step_memory_mb: int,
             rounds: int, extra_collects: int) -> dict[str, float]:
    """Cost breakdown in GB-s, requests, transitions and USD."""
    worker_gbs = worker_seconds * worker_memory_mb / 1024
    step_gbs = step_seconds * step_memory_mb / 1024
    transitions = (TRANSITIONS_FIXED + TRANSITIONS_PER_ROUND * rounds
                   + TRANSITIONS_PER_EXTRA_COLLECT * extra_collects)
    requests = worker_invocations + step_invocations
    usd = ((worker_gbs + step_gbs) * GB_SECOND_USD + requests * REQUEST_USD
           + transitions * TRANSITION_USD)
    return {"worker_gb_s": round(worker_gbs, 3), "coordinator_gb_s": round(step_gbs, 3),
            "requests": requests, "transitions": transitions,
            "usd": round(usd, 6),
            "usd_per_round": round(usd / rounds, 8) if rounds else 0.0}
