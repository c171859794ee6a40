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

from dataclasses import replace

import numpy as np

from coordinator.warmpool.azure2019 import PERCENTILES, AzureFunction, AzureTrace
from coordinator.warmpool.synthetic import LOGNORMAL_MU, LOGNORMAL_SIGMA
from coordinator.warmpool.workload import Stream

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
                first_func: int = 0, split_at: tuple[float, ...] = ()) -> list[Stream]:
    """One stream per app (function index ``first_func`` + the app's rank), seeded; busy
    periods are cut at ``split_at`` (see ``busy_periods``)."""
    rng = np.random.default_rng(seed)
    members: dict[str, list[AzureFunction]] = {}
    for function in trace.functions:
        members.setdefault(function.app, []).append(function)
    result = []
    for rank, app in enumerate(sorted(members)):
        times, durations = [], []
        for function in members[app]:
            arrivals = arrival_times(function.counts, rng, placement)
            times.append(arrivals)
            durations.append(execution_times(function, len(arrivals), rng))
        all_times = np.concatenate(times)
        if len(all_times) == 0:
            continue
        starts, lengths, calls = busy_periods(all_times, np.concatenate(durations), split_at)
        costs = rng.lognormal(LOGNORMAL_MU, LOGNORMAL_SIGMA, len(starts))
        memory_gb = max(f.memory_mb for f in members[app]) / 1024
        result.append(Stream(first_func + rank, 1, starts, costs, lengths, memory_gb, 1, REGION,
                             False, calls.astype(float)))
    return result


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
