"""A seeded synthetic workload in the Huawei cold-start trace's exact schema.

The real trace (EuroSys 2025, 5 regions, 31 days) cannot be downloaded here, so this generator
reproduces its published shape (docs/coldstart.md, "Headline statistics"): cold-start time LogNormal
(mu 0.2965, sigma 1.326, median 1.345 s) scaled per region to the study's per-region means
(~3 s in R1, < 0.3 s in R3; ``REGIONS`` says which are published, derived or assumed),
per-region component mixes (R1 dependency + scheduling, R2 pod allocation; scheduling first or
second everywhere), large pods 1-5x slower, custom/HTTP runtimes ~11 s median (R1, scaled by
region), timers (42% of functions) with periods just over the 60 s keep-alive, diurnal Poisson
traffic, requests that fan out to several environments, and correlated bursts whose cold starts
grow with the burst size. Cold-start rows are what the platform's 60 s keep-alive produces on
the generated invocations, so the table and the simulator agree.
"""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import numpy as np
import pyarrow as pa

from coordinator.warmpool.demand import per_minute_requests
from coordinator.warmpool.policies import keep_alive_cold
from coordinator.warmpool.regions import LOGNORMAL_MU, REGIONS
from coordinator.warmpool.schema import ARROW_SCHEMA, COLUMNS, COMPONENTS, TOTAL
from coordinator.warmpool.workload import FunctionSpec, Workload, streams

FUNCTION_SIGMA, EVENT_SIGMA = 0.60, 1.00  # split so that sqrt(sum of squares) ~ 1.17, plus pod size


POOLS = (("300", "128", 0.30), ("400", "256", 0.25), ("600", "512", 0.25),
         ("1000", "1024", 0.12), ("2000", "2048", 0.08))
RUNTIMES = (("python3", 0.50), ("nodejs", 0.22), ("java", 0.12), ("go", 0.09),
            ("custom", 0.04), ("http", 0.03))
TIMER_SHARE = 0.42
TIMER_PERIODS = (60.0, 90.0, 120.0, 120.0, 180.0, 300.0, 600.0, 3600.0)
BURSTS_PER_DAY = 24.0
FAN_OUT_SHARE = 0.3
MIX_CONCENTRATION = 40.0


def _choice(rng: np.random.Generator, options: tuple) -> tuple:
    weights = np.array([option[-1] for option in options], dtype=float)
    return options[rng.choice(len(options), p=weights / weights.sum())]


def _function(rng: np.random.Generator, region: str, index: int) -> tuple[FunctionSpec, float]:
    """One function and the log-median of its cold-start time."""
    cpu, memory, _ = _choice(rng, POOLS)
    runtime = _choice(rng, RUNTIMES)[0]
    trigger = "timer" if rng.random() < TIMER_SHARE else "http"
    spec = FunctionSpec(
        region=region, cluster=int(rng.integers(1, 5)), func_name=int(rng.integers(1, 10**6)),
        user_id=int(rng.integers(1, 10**4)),
        pool=f"pool{int(rng.integers(10, 31)):02d}-{cpu}-{memory}", runtime=runtime,
        trigger=trigger, duration_s=float(min(5.0, rng.lognormal(np.log(0.2), 0.8))),
    )
    if runtime in ("custom", "http"):
        log_median = np.log(11.0 * REGIONS[region].scale) + rng.normal(0, 0.3)
    else:
        log_median = LOGNORMAL_MU + np.log(REGIONS[region].scale) - 0.5
        if spec.cpu_millicores > 400 or spec.memory_mb > 256:
            log_median += rng.uniform(0, np.log(5.0))
        log_median += rng.normal(0, FUNCTION_SIGMA)
    return spec, float(log_median)


def _arrivals(rng: np.random.Generator, spec: FunctionSpec, horizon: float) -> np.ndarray:
    """Invocation times: jittered periodic timers, or diurnal Poisson traffic (by thinning)."""
    if spec.trigger == "timer":
        period = float(rng.choice(TIMER_PERIODS))
        times = np.arange(rng.uniform(0, period), horizon, period)
        return np.sort(np.clip(times + rng.normal(0, 0.2, len(times)), 0, horizon - 1e-3))
    mean_gap = 10 ** rng.uniform(1.7, 4.0)
    peak = 1.6 / mean_gap
    count = rng.poisson(peak * horizon)
    times = np.sort(rng.uniform(0, horizon, count))
    phase = rng.uniform(0, 1)
    rate = (1 + 0.6 * np.sin(2 * np.pi * (times / 86400 - phase))) / mean_gap
    return times[rng.random(count) < rate / peak]


def _merge_overlaps(times: np.ndarray, duration: float) -> tuple[np.ndarray, np.ndarray]:
    """Invocations closer than the function's duration run in parallel: one event, concurrency c."""
    if len(times) == 0:
        return times, np.zeros(0, dtype=np.int32)
    starts = np.flatnonzero(np.r_[True, np.diff(times) >= duration])
    concurrency = np.diff(np.r_[starts, len(times)]).astype(np.int32)
    return times[starts], concurrency


def generate(seed: int = 0, days: float = 2.0, functions_per_region: int = 40,
             regions: tuple[str, ...] = tuple(REGIONS)) -> Workload:
    """A seeded synthetic workload (same seed, same arguments: same invocations and costs)."""
    unknown = [region for region in regions if region not in REGIONS]
    if unknown:
        raise ValueError(f"regions: unknown {unknown}; allowed: {sorted(REGIONS)}")
    if days <= 0 or functions_per_region < 1:
        raise ValueError("days must be > 0 and functions_per_region >= 1")
    rng = np.random.default_rng(seed)
    horizon = days * 86400.0
    functions: list[FunctionSpec] = []
    parts: list[tuple[np.ndarray, ...]] = []
    for region in regions:
        first = len(functions)
        medians = []
        for index in range(functions_per_region):
            spec, log_median = _function(rng, region, index)
            functions.append(spec)
            medians.append(log_median)
            times, concurrency = _merge_overlaps(_arrivals(rng, spec, horizon), spec.duration_s)
            if spec.trigger == "http":  # one request can fan out to several environments
                fan_out = rng.random(len(times)) < FAN_OUT_SHARE
                concurrency = concurrency + fan_out * rng.geometric(0.2, len(times))
            costs = np.exp(log_median + rng.normal(0, EVENT_SIGMA, len(times)))
            parts.append((np.full(len(times), len(functions) - 1), times, concurrency, costs))
        parts.extend(_bursts(rng, functions, first, medians, horizon))
    func, time, concurrency, costs = (np.concatenate(column) for column in zip(*parts,
                                                                                strict=True))
    return Workload(functions, func.astype(np.int32), time, concurrency.astype(np.int32),
                    costs, horizon, rng.integers(1, 2**62, len(time), dtype=np.int64))


def _bursts(rng: np.random.Generator, functions: list[FunctionSpec], first: int,
            medians: list[float], horizon: float) -> list[tuple[np.ndarray, ...]]:
    """Correlated bursts: many HTTP functions of a region at once, slower the bigger the burst."""
    candidates = [i for i in range(first, len(functions)) if functions[i].trigger == "http"]
    parts = []
    for start in rng.uniform(0, horizon - 60, rng.poisson(BURSTS_PER_DAY * horizon / 86400)):
        chosen = [i for i in candidates if rng.random() < 0.3]
        if not chosen:
            continue
        concurrency = 1 + rng.geometric(0.2, len(chosen))
        slowdown = 1 + 0.3 * np.log1p(concurrency.sum())
        log_medians = np.array([medians[i - first] for i in chosen])
        costs = slowdown * np.exp(log_medians + rng.normal(0, EVENT_SIGMA, len(chosen)))
        times = start + rng.uniform(0, 5, len(chosen))
        parts.append((np.array(chosen), times, concurrency, costs))
    return parts


def cold_start_table(workload: Workload, seed: int = 0, keep_alive_s: float = 60.0
                     ) -> tuple[pa.Table, pa.Table]:
    """The platform's cold-start rows under a fixed keep-alive, in the loader's Arrow schema.

    Also returns the pods (podID, createTime = the cold start, deleteTime = the end of its last
    call plus the keep-alive), from which ``stats.pod_utility`` computes the utility ratio.
    """
    rng = np.random.default_rng(seed)
    columns: dict[str, list] = {name: [] for name in ARROW_SCHEMA.names}
    pods: dict[str, list] = {"region": [], "podID": [], "createTime": [], "deleteTime": []}
    pod_counter = 0
    request_of = {(int(f), float(t)): int(r) for f, t, r in
                  zip(workload.func, workload.time, workload.request_id, strict=True)}
    for stream in streams(workload):
        spec = workload.functions[stream.func]
        cold = keep_alive_cold(stream.times, stream.duration_s, keep_alive_s)
        first = np.flatnonzero(cold)
        last = np.r_[first[1:], len(stream.times)] - 1
        delete = stream.times[last] + stream.duration_s + keep_alive_s
        mix = np.array(REGIONS[spec.region].mix)
        for index, deleted in zip(first, delete, strict=True):
            time, cost = float(stream.times[index]), float(stream.costs[index])
            for _ in range(stream.weight):
                pod_counter += 1
                pod = f"{spec.pool}-{pod_counter:010d}"
                parts = [round(float(cost * np.exp(rng.normal(0, 0.15)) * share), 9)
                         for share in rng.dirichlet(mix * MIX_CONCENTRATION)]
                row = {
                    "region": spec.region, "day": int(time // 86400), "time": round(time, 6),
                    "clusterName": spec.cluster, "funcName": spec.func_name,
                    "userID": spec.user_id, "requestID": request_of[(stream.func, time)],
                    TOTAL: round(sum(parts), 9), "podID": pod, "pool": spec.pool,
                    "cpu_millicores": spec.cpu_millicores, "memory_mb": spec.memory_mb,
                }
                row.update(dict(zip(COMPONENTS, parts, strict=True)))
                for name, value in row.items():
                    columns[name].append(value)
                for name, value in zip(pods, (spec.region, pod, round(time, 6),
                                              round(float(deleted), 6)), strict=True):
                    pods[name].append(value)
    table = pa.table(columns, schema=ARROW_SCHEMA)
    order = np.lexsort((table.column("podID").to_numpy(zero_copy_only=False),
                        table.column("time").to_numpy()))
    return table.take(pa.array(order)), pa.table(pods)


def _open_text(path: Path, compress: bool):
    """A text handle; gzip without a timestamp so the same seed writes the same bytes."""
    if not compress:
        return open(path, "w", newline="")
    return io.TextIOWrapper(gzip.GzipFile(path, "wb", mtime=0), newline="")


def _write_rows(path: Path, fieldnames, rows, compress: bool) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with _open_text(path, compress) as handle:
        writer = csv.DictWriter(handle, fieldnames=list(fieldnames), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_csv(table: pa.Table, root: Path, compress: bool = True) -> list[Path]:
    """Write ``root/<region>/day_NN.csv[.gz]`` with exactly the published columns."""
    root, suffix = Path(root), ".csv.gz" if compress else ".csv"
    rows = table.to_pylist()
    written = []
    for region in sorted({row["region"] for row in rows}):
        for day in sorted({row["day"] for row in rows if row["region"] == region}):
            chosen = (r for r in rows if r["region"] == region and r["day"] == day)
            written.append(_write_rows(root / region / f"day_{day:02d}{suffix}", COLUMNS,
                                       chosen, compress))
    return written


def write_sample(workload: Workload, root: Path, seed: int = 0, compress: bool = True
                 ) -> list[Path]:
    """Cold-start day files, ``pods`` and the wide ``requests_per_minute`` table per region."""
    root, suffix = Path(root), ".csv.gz" if compress else ".csv"
    table, pods = cold_start_table(workload, seed)
    written = write_csv(table, root, compress)
    pod_rows = pods.to_pylist()
    per_minute = per_minute_requests(workload)
    steps = int(np.ceil(workload.horizon_s / 60.0))
    for region in sorted({spec.region for spec in workload.functions}):
        written.append(_write_rows(root / region / f"pods{suffix}",
                                   ("podID", "createTime", "deleteTime"),
                                   (r for r in pod_rows if r["region"] == region), compress))
        ids = [key for key in per_minute if key.startswith(f"{region}/")]
        names = [key.split("/", 1)[1] for key in ids]
        rows = ({"day": step // 1440, "time": step * 60,
                 **{name: int(per_minute[key][step]) for name, key in zip(names, ids,
                                                                         strict=True)}}
                for step in range(steps))
        written.append(_write_rows(root / region / f"requests_per_minute{suffix}",
                                   ("day", "time", *names), rows, compress))
    return written
