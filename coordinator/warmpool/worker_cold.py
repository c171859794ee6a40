"""What a cold start costs one sgcflow worker: the time the round simulator charges a task that
lands in a fresh execution environment.

When a worker's previous invocation is still running (a straggler: Lambda runs every invocation
to its end), a new task for that worker runs in another execution environment: a cold start,
unless the warm pool provisioned a spare. Its cost has two parts:
- the platform's (sandbox, code download): LogNormal, the Huawei trace's fit (docs/coldstart.md:
  mu 0.2965, sigma 1.326 on seconds, median 1.345 s), scaled by the region's median scale;
- the worker's own init: importing numpy/numba/pyarrow and loading the shipped Numba cache,
  measured by ``sgc bench kernels`` ("worker cold init", cache shipped generic: 1.92 s).
"""

from __future__ import annotations

import numpy as np

from coordinator.warmpool.synthetic import LOGNORMAL_MU, LOGNORMAL_SIGMA, REGIONS

WORKER_INIT_S = 1.92  # sgc bench kernels: import + shipped generic cache (data/bench/kernels.md)


def worker_cold_start_s(rng: np.random.Generator, size: int,
                        region: str | None = None) -> np.ndarray:
    """``size`` cold-start times (seconds) of a worker in ``region`` (a key of
    ``synthetic.REGIONS``; None: the pooled fit, scale 1)."""
    if region is not None and region not in REGIONS:
        raise ValueError(f"region: {region!r} is not one of {sorted(REGIONS)}")
    scale = 1.0 if region is None else REGIONS[region].scale
    platform = scale * rng.lognormal(LOGNORMAL_MU, LOGNORMAL_SIGMA, size)
    return WORKER_INIT_S + platform
