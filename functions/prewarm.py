"""A pre-warm ping inside the worker: hold this execution environment for a few seconds.

The warm-pool manager sends ``{"warm": {"job_id", "hold_s"}}`` to the worker alias, many at once
(``coordinator/warmpool/pings.py``): each invocation that finds the others busy gets its own
environment, which imports the worker and loads the kernels (the cold start the ping exists to
pay) and stays warm for the job's rounds. Nothing is read or written; ``hold_s`` is bounded so a
ping cannot hold a worker long.
"""

from __future__ import annotations

import math
import time
from typing import Any

from coordinator.contract.errors import EventError

MAX_HOLD_S = 60.0


def handle(event: dict, cold: bool, init_s: float) -> dict[str, Any]:
    """Sleep ``hold_s`` and say whether this environment was cold (``init_s``: its init)."""
    warm = event.get("warm")
    if not isinstance(warm, dict):
        raise EventError("warm", "must be an object {job_id, hold_s}")
    hold = warm.get("hold_s", 10.0)
    if isinstance(hold, bool) or not isinstance(hold, int | float) or not math.isfinite(hold) \
            or not 0 <= hold <= MAX_HOLD_S:
        raise EventError("warm.hold_s", f"must be seconds in [0, {MAX_HOLD_S:g}], got {hold!r}")
    time.sleep(float(hold))
    return {"warm": True, "job_id": str(warm.get("job_id", ""))[:128], "cold_start": cold,
            "init_s": init_s if cold else 0.0}
