"""Azure Functions 2019 trace -> per-app streams the policies replay, and the 500-function resample.

Arrivals: a minute with n invocations gets n arrival times inside it, either ``poisson`` (n
seeded uniform points, which is a Poisson process conditioned on its count) or ``even``
(spaced 60/n s apart from the middle of their slot). Execution times are drawn per invocation
from the function's percentile curve (inverse CDF, linear between the published percentiles
0, 1, 25, 50, 75, 99, 100). The app is the unit that is kept warm (Azure loads an app, and its
host runs concurrent invocations): invocations of an app that overlap a running one fold into
one busy period, and a busy period is one call that is cold at most once. Memory is the app's
AverageAllocatedMb (the largest of its functions'; the original trace reports it per app).
The trace has no cold-start times, so each busy period's cold-start time is drawn from the
LogNormal fitted to the Huawei trace (mu 0.2965, sigma 1.326).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np

from coordinator.warmpool import azure_loops
from coordinator.warmpool.azure2019 import PERCENTILES, AzureFunction, AzureTrace
from coordinator.warmpool.packed import Packed
from coordinator.warmpool.packed_runs import threads
from coordinator.warmpool.regions import LOGNORMAL_MU, LOGNORMAL_SIGMA

PLACEMENTS = ("poisson", "even")
REGION = "azure"


def arrival_times(counts: np.ndarray, rng: np.random.Generator, placement: str) -> np.ndarray:
    """Sorted arrival times (s) for per-minute ``counts`` (see the module docstring)."""
    if placement not in PLACEMENTS:
        raise ValueError(f"--arrivals: {placement!r} is not one of {PLACEMENTS}")
    total = int(counts.sum())
    minute_start = np.repeat(60.0 * np.arange(len(counts)), counts)
    if placement == "poisson":
        return np.sort(minute_start + rng.uniform(0.0, 60.0, total))
    first = np.repeat(np.cumsum(counts) - counts, counts)
    rank = np.arange(total) - first
    return minute_start + 60.0 * (rank + 0.5) / np.repeat(counts, counts)


def execution_times(function: AzureFunction, count: int, rng: np.random.Generator) -> np.ndarray:
    """Seconds, drawn from the function's execution-time percentile curve."""
    return np.interp(rng.random(count), PERCENTILES, function.duration_ms) / 1000.0


def busy_periods(times: np.ndarray, durations: np.ndarray, split_at: tuple[float, ...] = ()
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fold overlapping executions: (period starts, period lengths, invocations per period).

    A period is also cut at each time in ``split_at`` (the start of the scored minutes), so
    the invocations after it are scored; the cut-off part starts with no idle time (warm).
    """
    order = np.argsort(times, kind="stable")
    times, ends = times[order], times[order] + durations[order]
    running_end = np.maximum.accumulate(ends)
    cut = np.zeros(len(times) - 1, dtype=bool)
    for boundary in split_at:
        cut |= (times[:-1] < boundary) & (times[1:] >= boundary)
    first = np.flatnonzero(np.r_[True, (times[1:] > running_end[:-1]) | cut])
    last = np.r_[first[1:], len(times)] - 1
    return times[first], running_end[last] - times[first], np.diff(np.r_[first, len(times)])


def app_streams(trace: AzureTrace, seed: int = 0, placement: str = "poisson",
                first_func: int = 0, split_at: tuple[float, ...] = ()) -> Packed:
    """One stream per app with calls (function index ``first_func`` + the app's rank among all
    apps), seeded; busy periods are cut at ``split_at`` (see ``busy_periods``). The work per
    invocation runs compiled (``azure_loops``); cold-start costs are drawn per period here."""
    if placement not in PLACEMENTS:
        raise ValueError(f"--arrivals: {placement!r} is not one of {PLACEMENTS}")
    rng = np.random.default_rng(seed)
    apps = sorted({f.app for f in trace.functions})
    rank = {app: i for i, app in enumerate(apps)}
    functions = sorted(trace.functions, key=lambda f: rank[f.app])
    app_of_row = np.array([rank[f.app] for f in functions], dtype=np.int64)
    rows = np.searchsorted(app_of_row, np.arange(len(apps) + 1)).astype(np.int64)
    counts = np.stack([f.counts for f in functions]).astype(np.int64)
    table = np.stack([f.duration_ms for f in functions]) / 1000.0
    seed_bits = int(rng.integers(2**62))
    points, cuts = np.asarray(PERCENTILES, dtype=float), np.asarray(split_at, dtype=float)

    def chunk(bounds: tuple[int, int]):
        return azure_loops.busy_periods(counts, rows, table, points, placement == "even",
                                        cuts, seed_bits, *bounds)

    parts = _in_parallel(chunk, _app_chunks(counts.sum(axis=1), rows, 4 * threads()))
    starts, ends, calls, owner = (np.concatenate(column) for column in zip(*parts,
                                                                           strict=True))
    costs = rng.lognormal(LOGNORMAL_MU, LOGNORMAL_SIGMA, len(starts))
    per_app = np.bincount(owner, minlength=len(apps))
    used = np.flatnonzero(per_app)
    per_app = per_app[used]
    memory = np.zeros(len(apps))
    np.maximum.at(memory, app_of_row, [f.memory_mb for f in functions])
    streams = len(used)
    return Packed(np.r_[0, np.cumsum(per_app)].astype(np.int64), starts, ends, calls, costs,
                  memory[used] / 1024, np.ones(streams, dtype=np.int64), first_func + used,
                  np.zeros(streams, dtype=np.int64), (REGION,), np.zeros(streams, dtype=bool),
                  np.ones(streams, dtype=np.int64))


def _app_chunks(per_row: np.ndarray, rows: np.ndarray, pieces: int) -> list[tuple[int, int]]:
    """App ranges [lo, hi) of about equal invocations."""
    per_app = np.add.reduceat(per_row, rows[:-1]) if len(per_row) else np.zeros(0)
    per_app = np.where(np.diff(rows) > 0, per_app, 0)
    cumulative = np.r_[0, np.cumsum(per_app)]
    bounds = np.searchsorted(cumulative, np.linspace(0, cumulative[-1], pieces + 1)[1:-1])
    edges = np.unique(np.r_[0, np.minimum(bounds, len(per_app)), len(per_app)])
    return [(int(lo), int(hi)) for lo, hi in zip(edges[:-1], edges[1:], strict=True)]


def _in_parallel(work, items: list) -> list:
    """``work`` on each item, a thread per core (the compiled loops release the GIL)."""
    if threads() == 1 or len(items) <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(threads()) as pool:
        return list(pool.map(work, items))


def resample(trace: AzureTrace, functions: int, seed: int = 0) -> AzureTrace:
    """``functions`` functions drawn with replacement from the trace, for scale tests.

    Each copy keeps its source's percentiles, memory and trigger, becomes its own app, and has
    its per-minute counts rotated by a seeded random offset, so copies do not fire in lockstep.
    """
    if functions < 1:
        raise ValueError(f"functions: expected >= 1, got {functions}")
    rng = np.random.default_rng(seed)
    chosen = rng.integers(0, len(trace.functions), functions)
    copies = []
    for index, source in enumerate(chosen):
        original = trace.functions[int(source)]
        shift = int(rng.integers(0, len(trace.minutes)))
        copies.append(replace(original, function=f"{original.function}-{index}",
                              app=f"{original.app}-{index}",
                              counts=np.roll(original.counts, shift)))
    return AzureTrace(trace.minutes, copies, trace.report)
