"""The synthetic Huawei-schema regions R1-R5, calibrated to the study's per-region figures.

Kept apart from the generator (``synthetic``) because the warm-pool manager reads them too
(``coldstats``: a region's published fallback) and must not import the generator.
The study's pooled cold-start fit is LogNormal(mu 0.2965, sigma 1.326) on seconds (median
1.345 s, mean 3.24 s; docs/coldstart.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

LOGNORMAL_MU, LOGNORMAL_SIGMA = 0.2965, 1.3260  # fitted cold-start time (seconds)


@dataclass(frozen=True)
class RegionProfile:
    """One synthetic region: the generator's scale of cold-start times, the mean share of each
    component (pod, code, dep, sched), and the region's cold-start LogNormal (mean and sigma)
    that a single-runtime worker draws from, with where the mean comes from.

    ``scale`` is calibrated so the generated table's mean cold start is ``mean_s`` (the
    generator's mean is linear in it: 4.25 s per unit, measured over 3 seeds x 120 functions
    a region; ``sgc warmpool stats`` on the generated sample shows the result). ``sigma`` 1.05
    is the within-region spread left when the spread of the regions' medians is taken out of
    the pooled fit's sigma 1.326 (1.326^2 = 1.05^2 + 0.66 between regions).
    """

    scale: float
    mix: tuple[float, float, float, float]
    mean_s: float
    source: str
    sigma: float = 1.05

    @property
    def median_s(self) -> float:
        return self.mean_s / math.exp(self.sigma ** 2 / 2)


UNIT_MEAN_S = 4.25  # the generator's mean cold start at scale 1 (see RegionProfile)
REGIONS: dict[str, RegionProfile] = {
    "R1": RegionProfile(3.0 / UNIT_MEAN_S, (0.10, 0.08, 0.40, 0.42), 3.0,
                        "published: mean about 3 s"),
    "R2": RegionProfile(1.29 / UNIT_MEAN_S, (0.50, 0.08, 0.12, 0.30), 1.29,
                        "derived: hourly mean up to ~3 s, scaled by region 1's mean-to-peak "
                        "3/7"),
    "R3": RegionProfile(0.28 / UNIT_MEAN_S, (0.20, 0.15, 0.25, 0.40), 0.28,
                        "published: mean under 0.3 s"),
    "R4": RegionProfile(0.5 / UNIT_MEAN_S, (0.25, 0.10, 0.25, 0.40), 0.5,
                        "assumed: not published per region; inside the published range"),
    "R5": RegionProfile(0.8 / UNIT_MEAN_S, (0.15, 0.10, 0.35, 0.40), 0.8,
                        "assumed: not published per region; inside the published range"),
}
