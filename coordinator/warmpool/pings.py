"""Pre-warm pings: ``count`` concurrent invocations of the worker alias that each hold an
environment for ``hold_s`` seconds, so ``count`` environments are initialised and warm.

Keep-warm pings keep only as many environments warm as there are concurrent pings (AWS
starts a new environment for each invocation that finds the others busy), so every ping of a
batch must still be running when the last one arrives: each holds ``PING_HOLD_S`` seconds,
and they are sent asynchronously (``InvocationType=Event``) from a thread pool, a few seconds
for hundreds. The worker answers a ``warm`` event without touching any job
(``functions/prewarm.py``): it loads like a real invocation, sleeps ``hold_s`` and returns.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from coordinator.warmpool.planner import PING_HOLD_S

THREADS = 16
MAX_HOLD_S = 60.0  # the worker refuses a longer hold (a ping must not hold a worker long)
EVENT_KEY = "warm"


def event(run_id: str, hold_s: float = PING_HOLD_S) -> dict:
    """The ping's event: which job it warms for (for the logs) and how long it holds."""
    return {EVENT_KEY: {"job_id": run_id, "hold_s": float(hold_s)}}


def send(client, function: str, qualifier: str, count: int, run_id: str,
         hold_s: float = PING_HOLD_S) -> int:
    """Send ``count`` pings; returns how many Lambda accepted (raises if none could be sent)."""
    if count <= 0:
        return 0
    payload = json.dumps(event(run_id, hold_s)).encode()

    def one(_: int) -> bool:
        answer = client.invoke(FunctionName=function, Qualifier=qualifier,
                               InvocationType="Event", Payload=payload)
        return int(answer.get("StatusCode", 0)) == 202

    with ThreadPoolExecutor(max_workers=min(THREADS, count)) as pool:
        accepted = sum(pool.map(one, range(count)))
    if accepted < count:
        raise RuntimeError(f"pings for {run_id}: {count - accepted} of {count} not accepted")
    return accepted
