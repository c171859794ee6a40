"""Demand: exact from accepted job plans, and per-minute invocation series for forecasting.

A sgcflow job with J iterations under a scheme of delay T runs J + T rounds of n concurrent
workers from its start (job j is due by round j + T), so its worker demand is known exactly:
n environments from ``start_s`` for ``rounds * round_seconds``, per region.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from coordinator.warmpool.workload import Workload

SCHEMES = ("uncoded", "gc", "sr-sgc", "m-sgc", "sgcflow")
MAX_WORKERS = 900  # default account quota 1,000 minus the 100 always unreserved


@dataclass(frozen=True)
class JobPlan:
    """What the warm pool needs to know about one accepted job in one region."""

    run_id: str
    region: str
    start_s: float
    rounds: int  # iterations + T
    workers: int = 256
    round_seconds: float = 5.0
    worker_memory_mb: int = 2048
    submit_s: float | None = None  # when the plan became known (default: start)
    spare: int = 0  # environments beyond the workers for late tasks (``spares``)

    @property
    def end_s(self) -> float:
        return self.start_s + self.rounds * self.round_seconds

    @property
    def known_at(self) -> float:
        return self.start_s if self.submit_s is None else self.submit_s


def scheme_delay(scheme: dict, workers: int, models: int = 1) -> int:
    """T of a scheme spec ``{name, ...params}``: coordinator.schemes if present, else a table;
    ``sgcflow`` (the default scheme) has T = 1 when two or more models overlap, else 0."""
    if not isinstance(scheme, dict) or "name" not in scheme:
        raise ValueError(f"scheme: expected a mapping with 'name' (one of {SCHEMES}), "
                         f"got {scheme!r}")
    name = scheme["name"]
    if name not in SCHEMES:
        raise ValueError(f"scheme.name: {name!r} is not one of {SCHEMES}")
    if name == "sgcflow":
        return 1 if models >= 2 else 0
    params = {key: value for key, value in scheme.items() if key != "name"}
    try:
        from coordinator.schemes import make_scheme
    except ImportError:
        make_scheme = None
    if make_scheme is not None:
        try:
            return int(make_scheme(name, n=workers, **params).T)
        except (TypeError, ValueError) as error:
            raise ValueError(f"scheme: {error}") from error
    needed = {"uncoded": (), "gc": (), "sr-sgc": ("B",), "m-sgc": ("B", "W")}[name]
    for key in needed:
        if not isinstance(params.get(key), int) or params[key] < 0:
            raise ValueError(f"scheme.{key}: {name} needs a non-negative integer {key}")
    if name == "sr-sgc":
        return params["B"]
    if name == "m-sgc":
        return params["W"] - 2 + params["B"]
    return 0


def _positive(spec: dict, key: str, default, kind=int):
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"{key}: expected a positive number, got {value!r}")
    if kind is int and int(value) != value:
        raise ValueError(f"{key}: expected an integer, got {value!r}")
    return kind(value)


def plans_from_spec(spec: dict, run_id: str, start_s: float, submit_s: float | None = None,
                    spare: int = 0) -> list[JobPlan]:
    """One ``JobPlan`` per region from a job spec (only the keys the warm pool needs).

    Rounds = J + T where J = iterations, times the number of ``models`` when the spec trains
    several at once (the coordinator's spec: iterations are per model), divided by the
    gradients a batched round carries (``batch``, the default: floor(M / (T + 1)), see
    coordinator.schemes.batching); ``region`` (one name) is accepted when ``regions`` is
    absent.
    """
    if not isinstance(spec, dict):
        raise ValueError(f"job spec: expected a mapping, got {type(spec).__name__}")
    workers = _positive(spec, "workers", 256)
    if workers > MAX_WORKERS:
        raise ValueError(f"workers: {workers} exceeds the per-region quota {MAX_WORKERS}")
    if "iterations" not in spec:
        raise ValueError("iterations: required (number of jobs J to train)")
    iterations = _positive(spec, "iterations", None)
    models = spec.get("models")
    count = len(models) if isinstance(models, list) and models else 1
    jobs = iterations * count
    delay = scheme_delay(spec.get("scheme", {"name": "uncoded"}), workers, count)
    if spec.get("batch", True):  # several models' gradients per round (schemes.batching)
        jobs = math.ceil(jobs / max(1, count // (delay + 1)))
    regions = spec.get("regions", [spec["region"]] if "region" in spec else ["us-east-1"])
    if (not isinstance(regions, list) or not regions
            or not all(isinstance(r, str) and r for r in regions)):
        raise ValueError(f"regions: expected a non-empty list of region names, got {regions!r}")
    memory = _positive(spec, "worker_memory_mb", 2048)
    if not 128 <= memory <= 10240:
        raise ValueError(f"worker_memory_mb: {memory} outside Lambda's 128..10240")
    round_seconds = _positive(spec, "round_seconds", 5, float)
    return [JobPlan(run_id, region, float(start_s), jobs + delay, workers, round_seconds,
                    memory, submit_s, spare) for region in regions]


def load_job_spec(path: Path, start_s: float = 0.0) -> list[JobPlan]:
    """Read a YAML or JSON job spec file (the job id is the file's stem)."""
    path = Path(path)
    text = path.read_text()
    spec = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    return plans_from_spec(spec, path.stem, start_s)


def planned_concurrency(plans: list[JobPlan], horizon_s: float, step_s: float = 60.0
                        ) -> dict[str, np.ndarray]:
    """Exact worker demand per region and step (max concurrent environments in the step)."""
    steps = int(np.ceil(horizon_s / step_s))
    demand: dict[str, np.ndarray] = {}
    for plan in plans:
        series = demand.setdefault(plan.region, np.zeros(steps, dtype=np.int64))
        first = int(plan.start_s // step_s)
        last = min(steps, int(np.ceil(plan.end_s / step_s)))
        series[first:last] += plan.workers
    return demand


def per_minute_requests(workload: Workload, step_s: float = 60.0) -> dict[str, np.ndarray]:
    """Per-function request counts per minute, keyed ``<region>/funcName---userID---pool``."""
    steps = int(np.ceil(workload.horizon_s / step_s))
    counts = np.zeros((len(workload.functions), steps), dtype=np.int64)
    bins = np.minimum((workload.time // step_s).astype(np.int64), steps - 1)
    np.add.at(counts, (workload.func, bins), workload.concurrency)
    return {f"{spec.region}/{spec.func_id}": counts[i] for i, spec in enumerate(workload.functions)}
