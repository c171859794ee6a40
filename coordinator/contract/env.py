"""Environment variable names the Lambda functions read (infra sets them; the emulator too)."""

from __future__ import annotations

BUCKET = "SGC_BUCKET"
TABLE = "SGC_TABLE"
WORKER_FUNCTION = "SGC_WORKER_FUNCTION"
WORKER_ALIAS = "SGC_WORKER_ALIAS"
WARMPOOL_PLANS_PREFIX = "SGC_WARMPOOL_PLANS_PREFIX"
WARMPOOL_REGIONS = "SGC_WARMPOOL_REGIONS"
ENDPOINT_URL = "AWS_ENDPOINT_URL"
# Coordinator tuning (optional): seconds between completion polls, rounds per Round task.
POLL_S = "SGC_POLL_S"
ROUNDS_PER_TASK = "SGC_ROUNDS_PER_TASK"
# Worker fan-out: auto (default: tree from 64 workers), flat, or tree (through relays).
FANOUT = "SGC_FANOUT"
FANOUT_MODES = ("auto", "flat", "tree")
