"""What a cold start costs one sgcflow worker: the time the round simulator charges a task that
lands in a fresh execution environment, and how the warm pool's spares take that charge away.

When a worker's previous invocation is still running (a straggler: Lambda runs every invocation
to its end), a new task for that worker runs in another execution environment: a cold start,
unless the warm pool holds a spare warm for it (``busy_cold_start_s``: the job plan's
``spare_environments``). Its cost has two parts:
- the platform's (sandbox, code download): LogNormal per region. A synthetic Huawei region
  (R1-R5) draws from its calibrated figures (``synthetic.REGIONS``: mean, sigma 1.05); any
  other region, from a fit learned from the workers' completion records when one is given
  (``learned``, see ``coldstats``), else the Huawei study's pooled fit (median 1.345 s, sigma
  1.326; docs/coldstart.md);
- the worker's own init: importing numpy/numba/pyarrow and loading the shipped Numba cache,
  measured by ``sgc bench kernels`` ("worker cold init", cache shipped generic: 1.92 s).
"""

from __future__ import annotations

import numpy as np

from coordinator.warmpool.coldstats import WORKER_INIT_S, ColdStartFit, published
from coordinator.warmpool.regions import LOGNORMAL_MU, LOGNORMAL_SIGMA, REGIONS

__all__ = ["WORKER_INIT_S", "busy_cold_start_s", "worker_cold_start_s"]


def worker_cold_start_s(rng: np.random.Generator, size: int, region: str | None = None,
                        learned: dict[str, ColdStartFit] | None = None) -> np.ndarray:
    """``size`` cold-start times (seconds) of a worker in ``region`` (None: the pooled fit).

    ``learned`` maps region -> a fit from completion records (``coldstats.fit``); a learned fit
    already includes the worker's init (it measures the whole start-up)."""
    if learned and region in learned and learned[region].samples:
        return learned[region].draw(rng, size)
    if region is None:
        return WORKER_INIT_S + rng.lognormal(LOGNORMAL_MU, LOGNORMAL_SIGMA, size)
    if region not in REGIONS and not learned:
        raise ValueError(f"region: {region!r} is not one of {sorted(REGIONS)} (or pass a "
                         "learned fit for it)")
    return published(region).draw(rng, size)


def busy_cold_start_s(rng: np.random.Generator, busy: int, spares: int,
                      region: str | None = None,
                      learned: dict[str, ColdStartFit] | None = None) -> np.ndarray:
    """Seconds charged to each of ``busy`` tasks sent, in one round, to workers still running
    an earlier task: the first ``spares`` find a warm spare (0 s), the rest cold-start."""
    if busy < 0 or spares < 0:
        raise ValueError(f"busy, spares: expected >= 0, got {busy}, {spares}")
    charge = np.zeros(busy)
    cold = max(0, busy - spares)
    if cold:
        charge[busy - cold:] = worker_cold_start_s(rng, cold, region, learned)
    return charge
