"""Cold-start statistics per region: quantiles of total and component times, rates, pod utility.

Pod utility ratio (EuroSys 2025): (pod lifetime - keep-alive) / cold-start time, i.e. how many
seconds of useful life a pod got per second spent starting it; below 1 the cold start cost more
than the pod was worth.
"""

from __future__ import annotations

import csv
import gzip
import math
from pathlib import Path

import numpy as np
import pyarrow as pa

from coordinator.warmpool.schema import COMPONENTS, TOTAL, column

QUANTILES = (0.5, 0.75, 0.9, 0.99)


def _summary(values: np.ndarray) -> dict[str, float]:
    if len(values) == 0:
        return {"mean": float("nan"), **{f"p{int(q * 100)}": float("nan") for q in QUANTILES}}
    result = {"mean": float(values.mean())}
    result.update({f"p{int(q * 100)}": float(np.quantile(values, q)) for q in QUANTILES})
    return result


def _read_csv(path: Path) -> list[dict[str, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as handle:
        return list(csv.DictReader(handle))


def side_tables(root: Path) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Per-region request totals and pod lifetimes (seconds) from the optional side tables."""
    requests: dict[str, float] = {}
    lifetimes: dict[str, dict[str, float]] = {}
    root = Path(root)
    if not root.is_dir():
        return requests, lifetimes
    for path in sorted(root.rglob("requests_per_minute.csv*")):
        total = 0.0
        for row in _read_csv(path):
            total += sum(float(v) for k, v in row.items() if k not in ("day", "time") and v)
        requests[path.parent.name] = total
    for path in sorted(root.rglob("pods.csv*")):
        lifetimes[path.parent.name] = {row["podID"]: float(row["deleteTime"])
                                       - float(row["createTime"]) for row in _read_csv(path)}
    return requests, lifetimes


def pod_utility(table: pa.Table, lifetimes: dict[str, float], keep_alive_s: float = 60.0
                ) -> np.ndarray:
    """Utility ratio of every pod with a known lifetime."""
    pods = table.column("podID").to_pylist()
    totals = column(table, TOTAL)
    ratios = [(lifetimes[pod] - keep_alive_s) / total for pod, total in zip(pods, totals,
                                                                          strict=True)
              if pod in lifetimes and total > 0]
    return np.array(ratios)


def weibull_shape(mean: float, sd: float) -> float:
    """Weibull shape k with this coefficient of variation (method of moments, bisection).

    The published fit of cold-start inter-arrivals is mean 1.25 s, sd 3.66 s: k ~ 0.418.
    """
    target = (sd / mean) ** 2 + 1.0

    def ratio(k: float) -> float:  # Gamma(1 + 2/k) / Gamma(1 + 1/k)^2, decreasing in k
        return math.exp(math.lgamma(1 + 2 / k) - 2 * math.lgamma(1 + 1 / k))

    low, high = 0.05, 50.0
    for _ in range(100):
        middle = math.sqrt(low * high)
        low, high = (middle, high) if ratio(middle) > target else (low, middle)
    return math.sqrt(low * high)


def interarrival(times: np.ndarray) -> dict[str, float]:
    """Mean, sd and Weibull shape of the gaps between consecutive cold starts."""
    gaps = np.diff(np.sort(times))
    if len(gaps) < 2 or gaps.mean() <= 0:
        return {"mean": float("nan"), "sd": float("nan"), "weibull_shape": float("nan")}
    mean, sd = float(gaps.mean()), float(gaps.std())
    return {"mean": mean, "sd": sd, "weibull_shape": weibull_shape(mean, sd)}


def region_stats(table: pa.Table, requests: dict[str, float] | None = None,
                 lifetimes: dict[str, dict[str, float]] | None = None,
                 keep_alive_s: float = 60.0) -> dict[str, dict]:
    """Per-region quantiles (total + components), component shares, rate and pod utility."""
    regions = np.array(table.column("region").to_pylist())
    result: dict[str, dict] = {}
    for region in sorted(set(regions.tolist())):
        rows = table.filter(pa.array(regions == region))
        total = column(rows, TOTAL)
        entry: dict = {"cold_starts": int(rows.num_rows), "total": _summary(total),
                       "interarrival": interarrival(column(rows, "time"))}
        sums = {}
        for name in COMPONENTS:
            values = column(rows, name)
            entry[name] = _summary(values)
            sums[name] = float(values.sum())
        grand = sum(sums.values()) or 1.0
        entry["component_share"] = {name: sums[name] / grand for name in COMPONENTS}
        if requests and region in requests and requests[region] > 0:
            entry["cold_start_rate"] = rows.num_rows / requests[region]
        if lifetimes and region in lifetimes:
            ratios = pod_utility(rows, lifetimes[region], keep_alive_s)
            if len(ratios):
                entry["pod_utility"] = {"median": float(np.median(ratios)),
                                        "share_below_1": float(np.mean(ratios < 1))}
        result[region] = entry
    return result


def plot(table: pa.Table, stats: dict[str, dict], path: Path) -> Path:
    """CDF of total cold-start time per region and mean component shares, as one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    regions = np.array(table.column("region").to_pylist())
    totals = column(table, TOTAL)
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for region in stats:
        values = np.sort(totals[regions == region])
        left.plot(np.maximum(values, 1e-3), np.linspace(0, 1, len(values)), label=region)
    left.set(xscale="log", xlabel="cold-start time (s)", ylabel="CDF",
             title="Total cold-start time")
    left.legend()
    bottom = np.zeros(len(stats))
    for name in COMPONENTS:
        share = np.array([stats[region]["component_share"][name] for region in stats])
        right.bar(list(stats), share, bottom=bottom, label=name)
        bottom += share
    right.set(ylabel="share of cold-start time", title="Components")
    right.legend(fontsize=7)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
