"""Each region's worker cold-start distribution: learned from the workers' own completion
records, or a published figure with its source named.

Why learn it: the planner pre-warms ``p99`` seconds ahead and prices a pre-warm ping by its
cold start, and regions differ by an order of magnitude (the Huawei study: mean ~3 s in its
region 1, under 0.3 s in region 3). A worker records ``cold_start`` and ``init_s`` (its module
import and cache load) in every completion record, and ``finished_at``; the round log records
when the round was dispatched. A cold invocation's start-up is what it took beyond its work
(download + compute + upload) compared with the warm invocations of the same round (their
extra is the fan-out and queueing delay every invocation pays), and never less than its own
``init_s``. With at least ``MIN_SAMPLES`` such times a region uses its own LogNormal fit;
otherwise the published fallback below.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from coordinator.warmpool.regions import LOGNORMAL_MU, LOGNORMAL_SIGMA, REGIONS

MIN_SAMPLES = 30  # fewer measured cold starts: the published fallback
EMPIRICAL_P99_FROM = 200  # from this many samples the p99 is read off the sample itself
Z99 = 2.3263  # standard normal 99th percentile
WORKER_INIT_S = 1.92  # sgc bench kernels: import + shipped generic cache (data/bench/kernels.md)
POOLED_SOURCE = ("Huawei EuroSys 2025 pooled LogNormal fit (median 1.345 s, sigma 1.326) + the "
                 "worker's measured init 1.92 s (sgc bench kernels)")


@dataclass(frozen=True)
class ColdStartFit:
    """A region's cold-start seconds: LogNormal(log median, sigma) plus a fixed ``offset_s``
    (the worker's init when the fit is the platform's alone), and its 99th percentile."""

    region: str
    samples: int
    median_s: float
    sigma: float
    offset_s: float
    p99_s: float
    source: str

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return self.offset_s + rng.lognormal(math.log(self.median_s), self.sigma, size)

    def to_dict(self) -> dict:
        return asdict(self)


def published(region: str) -> ColdStartFit:
    """The fallback: a synthetic Huawei region's calibrated figures, else the pooled fit plus
    the worker's init (no AWS region publishes its cold-start distribution)."""
    if region in REGIONS:
        profile = REGIONS[region]
        return ColdStartFit(region, 0, profile.median_s, profile.sigma, WORKER_INIT_S,
                            WORKER_INIT_S + profile.median_s * math.exp(Z99 * profile.sigma),
                            f"Huawei EuroSys 2025 per-region figures ({profile.source}) + "
                            "worker init 1.92 s")
    median = math.exp(LOGNORMAL_MU)
    return ColdStartFit(region, 0, median, LOGNORMAL_SIGMA, WORKER_INIT_S,
                        WORKER_INIT_S + median * math.exp(Z99 * LOGNORMAL_SIGMA), POOLED_SOURCE)


def fit(region: str, samples) -> ColdStartFit:
    """The region's own fit from measured cold-start seconds (the published one if too few)."""
    values = np.asarray([s for s in samples if s > 0 and math.isfinite(s)], dtype=float)
    if len(values) < MIN_SAMPLES:
        return published(region)
    logs = np.log(values)
    median, sigma = float(np.exp(logs.mean())), float(max(logs.std(ddof=1), 1e-3))
    p99 = (float(np.quantile(values, 0.99)) if len(values) >= EMPIRICAL_P99_FROM
           else median * math.exp(Z99 * sigma))
    return ColdStartFit(region, len(values), median, sigma, 0.0, p99,
                        f"learned from {len(values)} cold starts in the workers' completion "
                        "records")


def round_samples(dispatched_at: float, records: dict) -> list[float]:
    """Cold-start seconds of one round's cold invocations (see the module docstring).

    ``records`` maps worker -> completion record (``timings`` with ``cold_start``,
    ``init_s``, ``download_s``, ``compute_s``, ``upload_s``, ``finished_at``).
    """
    cold, warm = [], []
    for record in records.values():
        timings = record.get("timings") or {}
        try:
            extra = (float(timings["finished_at"]) - float(dispatched_at)
                     - sum(float(timings.get(k, 0.0)) for k in ("download_s", "compute_s",
                                                                 "upload_s")))
        except (KeyError, TypeError, ValueError):
            continue
        if timings.get("cold_start"):
            cold.append((extra, float(timings.get("init_s", 0.0) or 0.0)))
        else:
            warm.append(extra)
    baseline = float(np.median(warm)) if len(warm) >= 5 else 0.0
    return [max(init, extra - baseline) for extra, init in cold]


def learn(fetch_round, run_ids: list[str], region: str, rounds: tuple[int, ...] = (1, 2)
          ) -> ColdStartFit:
    """The region's fit from the first ``rounds`` of the given runs; ``fetch_round(run_id, t)``
    returns (dispatch time, {worker: completion record}) or None when there is none."""
    samples: list[float] = []
    for run_id in run_ids:
        for t in rounds:
            found = fetch_round(run_id, t)
            if found is not None and found[0] is not None:
                samples += round_samples(found[0], found[1])
    return fit(region, samples)
