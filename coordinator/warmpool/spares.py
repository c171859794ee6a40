"""Spare environments: how many, beyond the n workers, a job's warm pool holds for late tasks.

A round ends without its stragglers, and Lambda runs their invocations to the end, so the next
round's task for such a worker runs in another environment. With n workers and rounds that
end early, more than n invocations of the job are in flight at once; every one beyond the
warm ones pays a cold start. The round simulator reports a scheme's ``peak_concurrency`` (the
most in flight at once); ``from_peak`` turns it into spares. Until a job has that number, the
Plan step uses ``spare_environments``: ``SPARE_SHARE`` of n, the 99th percentile over the
shipped Lambda trace's 610 rounds (data/lambda_delays.parquet, 256-512 workers a round) of the
share of workers still running at twice their round's median time (mean 1.0 %, p90 2.3 %,
p99 12.4 %): a round that ends by then leaves about that many tasks running into the next.
"""

from __future__ import annotations

import math

from coordinator.warmpool.demand import MAX_WORKERS

SPARE_SHARE = 0.125
MAX_PER_REGION = MAX_WORKERS  # the default account quota, 1,000, minus 100 always unreserved
# The shipped trace's share of late workers per round (above) at these quantiles: what the
# simulator's job mix draws each round's late tasks from (linear between them).
LATE_QUANTILES = (0.0, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99, 1.0)
LATE_SHARES = (0.0, 0.0078, 0.0117, 0.0234, 0.0664, 0.093, 0.1243, 0.4023)


def spare_environments(workers: int) -> int:
    """The default spares for a job of ``workers`` (see the module docstring)."""
    return bounded(math.ceil(SPARE_SHARE * workers), workers)


def from_peak(peak_concurrency: int, workers: int) -> int:
    """Spares from a measured peak of in-flight invocations (the round simulator's)."""
    return bounded(peak_concurrency - workers, workers)


def bounded(spares: int, workers: int) -> int:
    """Spares within [0, workers] and with the workers inside one region's quota."""
    return max(0, min(int(spares), int(workers), MAX_PER_REGION - int(workers)))


def check(value, workers: int, where: str = "spare_environments") -> int:
    """A published plan's spares: an integer in [0, min(workers, 900 - workers)]."""
    limit = max(0, min(int(workers), MAX_PER_REGION - int(workers)))
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        raise ValueError(f"{where}: expected an integer in [0, {limit}] (at most the workers, "
                         f"and workers + spares within the region's {MAX_PER_REGION}), "
                         f"got {value!r}")
    return value
