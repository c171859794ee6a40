"""Every baseline as a curve: cold starts against idle memory over its whole setting range, and
whether sgcflow's point lies below each curve.

One setting of a baseline is one point; a policy that picks its own settings (sgcflow is tuned
on the warm-up) must be compared with the baseline's best setting for the same idle memory,
not with an arbitrary one. So each baseline is swept: the fixed keep-alive from 1 to 120
minutes; the hybrid histogram over its head/tail percentiles and its histogram window;
FaasCache from 5 % to 100 % of the memory every app would take warm. Each point is scored on the
same background streams and minutes as the table (``{"param", "cold_start_rate",
"idle_gb_s", ...}``).

sgcflow is below a curve when no point of it has at most sgcflow's cold-start rate at at most
its idle GB-s (not dominated), and its rate is below the curve's lower envelope at its idle
GB-s (linear between the envelope's points; beyond the curve's right end, its last point; a
curve that never idles as little as sgcflow cannot match it there).
"""

from __future__ import annotations

import numpy as np

from coordinator.warmpool.faascache import FaasCache
from coordinator.warmpool.packed import Packed
from coordinator.warmpool.policies import HybridHistogram, KeepAlive
from coordinator.warmpool.scoring import packed_metrics

KEEP_ALIVE_MINUTES = (1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120)
HYBRID_PERCENTILES = ((0.0, 0.90), (0.01, 0.95), (0.05, 0.99), (0.10, 0.99), (0.05, 0.999))
HYBRID_WINDOW_HOURS = (1, 2, 4, 8)
CACHE_SHARES = (0.05, 0.10, 0.25, 0.50, 0.75, 1.00)
FIELDS = ("cold_start_rate", "idle_gb_s", "cold_starts", "p75_app_cold_start_rate",
          "wasted_gb_s")


def baselines() -> dict[str, list[tuple[str, object]]]:
    """Each baseline family's settings as (param, policy); FaasCache's are cache shares."""
    return {
        "keep-alive": [(f"{m} min", KeepAlive(60.0 * m)) for m in KEEP_ALIVE_MINUTES],
        "hybrid-histogram": [
            (f"p{100 * head:g}-p{100 * tail:g}, {hours} h",
             HybridHistogram(range_s=3600.0 * hours, head=head, tail=tail))
            for head, tail in HYBRID_PERCENTILES for hours in HYBRID_WINDOW_HOURS],
        "faascache": [(f"{100 * share:g} %", share) for share in CACHE_SHARES],
    }


def sweep(background: Packed, horizon_s: float, scored_from_s: float) -> dict[str, list[dict]]:
    """Every baseline setting scored on ``background`` (unplanned streams) after the warm-up."""
    warm_gb = {region: float((background.weight * background.memory_gb)[
        background.region == code].sum()) for code, region in enumerate(background.regions)}
    curves = {}
    for family, settings in baselines().items():
        points = []
        for param, policy in settings:
            if family == "faascache":
                policy = FaasCache({r: policy * gb for r, gb in warm_gb.items()})
            outcome = policy.run_packed(background, horizon_s, scored_from_s)
            scored = packed_metrics(background, outcome, None, scored_from_s)
            points.append({"param": param, **{k: scored[k] for k in FIELDS}})
        curves[family] = points
    return curves


def envelope(points: list[dict]) -> list[dict]:
    """The curve's lower-left frontier: by rising idle GB-s, each point with fewer cold starts
    than every point that idles less."""
    frontier, best = [], np.inf
    for point in sorted(points, key=lambda p: (p["idle_gb_s"], p["cold_start_rate"])):
        if point["cold_start_rate"] < best:
            frontier.append(point)
            best = point["cold_start_rate"]
    return frontier


def judge(ours: dict, points: list[dict]) -> dict:
    """Whether ``ours`` ({cold_start_rate, idle_gb_s}) lies below the curve (module docstring)."""
    rate, idle = ours["cold_start_rate"], ours["idle_gb_s"]
    dominating = [p["param"] for p in points
                  if p["cold_start_rate"] <= rate and p["idle_gb_s"] <= idle]
    frontier = envelope(points)
    xs = np.array([p["idle_gb_s"] for p in frontier])
    ys = np.array([p["cold_start_rate"] for p in frontier])
    at_idle = None if idle < xs[0] else float(np.interp(idle, xs, ys))
    below = not dominating and (at_idle is None or rate < at_idle)
    return {"below": bool(below), "dominated_by": dominating,
            "curve_rate_at_our_idle": at_idle}


def judge_all(ours: dict, curves: dict[str, list[dict]]) -> dict[str, dict]:
    return {family: judge(ours, points) for family, points in curves.items()}
