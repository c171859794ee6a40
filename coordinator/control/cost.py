"""What a job costs (or would cost) on AWS: Lambda GB-seconds, requests, state transitions.

Prices (us-east-1, x86, on-demand, 2026): Lambda $0.0000166667 per GB-s and $0.20 per million
requests; Standard workflows $0.025 per 1,000 state transitions.
"""

from __future__ import annotations

import math

GB_SECOND_USD = 0.0000166667
REQUEST_USD = 0.20 / 1_000_000
TRANSITION_USD = 0.025 / 1000
# The workflow (coordinator/workflow/definition.py): each execution enters Plan, Route and, at
# its end, Finalize + Done or ContinueAsNew + Continued; each Round task enters Round + Route.
TRANSITIONS_PER_EXECUTION = 4
TRANSITIONS_PER_ROUND_TASK = 2


def round_tasks(rounds: int, rounds_per_task: int) -> int:
    """Round task invocations for ``rounds`` rounds: each runs up to ``rounds_per_task``
    (SGC_ROUNDS_PER_TASK; fewer only when a round outlasts the Lambda's time)."""
    return math.ceil(rounds / max(1, rounds_per_task)) if rounds else 0


def estimate(worker_seconds: float, worker_invocations: int, worker_memory_mb: int,
             step_seconds: float, step_memory_mb: int, rounds: int, rounds_per_task: int,
             executions: int = 1) -> dict[str, float]:
    """Cost breakdown in GB-s, requests, transitions and USD. Step requests: one Plan per
    execution, the Round tasks, one Finalize."""
    worker_gbs = worker_seconds * worker_memory_mb / 1024
    step_gbs = step_seconds * step_memory_mb / 1024
    tasks = round_tasks(rounds, rounds_per_task)
    transitions = TRANSITIONS_PER_EXECUTION * executions + TRANSITIONS_PER_ROUND_TASK * tasks
    requests = worker_invocations + executions + tasks + 1
    usd = ((worker_gbs + step_gbs) * GB_SECOND_USD + requests * REQUEST_USD
           + transitions * TRANSITION_USD)
    return {"worker_gb_s": round(worker_gbs, 3), "coordinator_gb_s": round(step_gbs, 3),
            "requests": requests, "transitions": transitions,
            "usd": round(usd, 6),
            "usd_per_round": round(usd / rounds, 8) if rounds else 0.0}
