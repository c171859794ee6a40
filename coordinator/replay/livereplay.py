"""`sgc replay`: each scheme through the emulated workflow on a virtual clock, beside the simulator.

The live side is the real thing except time: the state machine, the Round task, the worker
handlers and the decode run in the emulator; every worker's time per round comes from the
measured trace at the scheme's load (``coordinator.control.inject``, the latency model
``sgc simulate`` uses) and advances a virtual clock instead of being slept. Collect decides with
the scheme's wait policy on those times (``end_of_round``). The simulated side replays the very
same times through the very same policy without any AWS machinery (``policy_replay``).

Per scheme: ``runtime_s`` (virtual, the sum of the live run's own collect records),
``simulated_runtime_s``, ``rounds``, ``fallbacks`` and ``decoded_exactly`` (every decoded
gradient equals the numpy full-batch gradient at its parameters to 1e-6 relative).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from coordinator.control import inject
from coordinator.schemes import make_scheme

EXACT_RTOL = 1e-6
MAX_JOBS = 2000  # an emulated round at 256 workers takes seconds: bound the work up front
# Parameters of a bare scheme name (the simulator's defaults at n = 256, scaled to n).
DEFAULTS = {"uncoded": {}, "sr-sgc": {"B": 2, "W": 3, "lam": 23},
            "m-sgc": {"B": 1, "W": 2, "lam": 27}}
NAMES = ("uncoded", "gc", "gc-batched", "sr-sgc", "m-sgc", "sgcflow")


class ReplayError(ValueError):
    """Bad input; ``option`` names the command-line option at fault."""

    def __init__(self, option: str, message: str):
        super().__init__(message)
        self.option = option


@dataclass(frozen=True)
class Candidate:
    """A scheme as the coordinator would run it: the scheme, its job-spec ``wait``, and
    whether an invocation carries several models' gradients (``batch``)."""

    label: str
    scheme: Any
    wait: dict
    batch: bool = True

    @property
    def spec_scheme(self) -> dict:
        return {"name": self.scheme.name, **self.scheme.params}


@dataclass(frozen=True)
class Settings:
    trace: str
    profile: str | None
    region: str | None
    mu: float
    jobs: int
    workers: int
    seed: int = 0
    models: int = 1  # models in flight (1: T + 1 of them, one gradient per invocation)
    permute_workers: int | None = None
    spares: int = 0

    def stragglers(self) -> dict:
        spec = {"trace": self.trace, "time_scale": 1.0, "seed": self.seed, "spares": self.spares}
        spec.update({k: v for k, v in (("profile", self.profile), ("region", self.region),
                                       ("permute_workers", self.permute_workers))
                     if v is not None})
        return spec

    def latency(self):
        """The trace's latency model for the first ``workers`` workers (what both sides use)."""
        return inject.trace_latency(self.stragglers(), self.workers)

    def replay(self, models: int):
        """The simulator's settings for a job of ``models`` models (the live run's own)."""
        from coordinator.replay.round_simulator import Replay

        return Replay(seed=self.seed, permute_workers=self.permute_workers, models=models,
                      spares=self.spares)


# --- which schemes ------------------------------------------------------------------------------
def parse_schemes(text: str) -> list[tuple[str, dict]]:
    """``gc,m-sgc:B=1:W=2:lam=3`` -> [(name, {param: value})]; ``policy=`` may name the policy."""
    out = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, *pairs = item.split(":")
        if name not in NAMES:
            from coordinator.spec.speccheck import did_you_mean

            raise ReplayError("--schemes", f"unknown scheme {name!r}; allowed: "
                                           f"{', '.join(NAMES)}{did_you_mean(name, NAMES)}")
        params: dict[str, Any] = {}
        for pair in pairs:
            key, _, value = pair.partition("=")
            if not key or not value:
                raise ReplayError("--schemes", f"{item!r}: parameters are KEY=VALUE, got {pair!r}")
            params[key] = value if key == "policy" else _number(item, value)
        out.append((name, params))
    if not out:
        raise ReplayError("--schemes", "give at least one scheme, e.g. gc,m-sgc")
    return out


def _number(item: str, value: str) -> int | float:
    try:
        return int(value)
    except ValueError:
        try:
            return float(value)
        except ValueError:
            raise ReplayError("--schemes", f"{item!r}: {value!r} is not a number") from None


def choose(name: str, params: dict, settings: Settings) -> Candidate:
    """The scheme and wait policy a name stands for (the one place ``sgcflow`` plugs in)."""
    params = dict(params)
    policy = {"policy": params.pop("policy", "paper")}
    if policy["policy"] == "paper":
        policy["mu"] = params.pop("mu", settings.mu)
    for key in ("tolerance", "min_fraction", "cap", "hard_limit_s"):
        if key in params:
            policy[key] = params.pop(key)
    wait = {**policy, "clock": "virtual"}
    n = settings.workers
    if name == "sgcflow":
        return _sgcflow(settings, wait)
    try:
        if name in ("gc", "gc-batched") and "s" not in params:
            return strongest_gc(settings, batched=name == "gc-batched")
        if name == "gc-batched":
            return Candidate(name, make_scheme("gc", n=n, **params), wait)
        defaults = {k: max(1, min(n - 1, math.ceil(v * n / 256))) if k == "lam" else v
                    for k, v in DEFAULTS.get(name, {}).items()}
        return Candidate(name, make_scheme(name, n=n, **{**defaults, **params}), wait,
                         batch=name != "gc")
    except ValueError as error:
        raise ReplayError("--schemes", f"{name}: {error}") from None


def _sgcflow(settings: Settings, wait: dict) -> Candidate:
    """sgcflow = the coordinator's default (coordinator.adaptive): its scheme object for the job
    spec; the live run and the simulator each run the online controller on the same trace."""
    from coordinator.adaptive.live import SgcflowScheme

    return Candidate("sgcflow", SgcflowScheme(settings.workers, max(2, settings.models)),
                     {"policy": "decodable", "model": False, "clock": "virtual"})


def strongest_gc(settings: Settings, batched: bool = False) -> Candidate:
    """``gc`` as `sgc simulate` means it: the best GC in-sample on this trace and these workers,
    s over 0..n-1 under every named policy (coordinator.replay.search.best_gc); ``batched``:
    every invocation computing all the models' gradients (``gc-batched``)."""
    from coordinator.replay.search import best_gc

    batch = settings.models if batched else 1
    choice = best_gc(settings.latency(), settings.mu, settings.jobs,
                     replay=settings.replay(settings.models), batch=batch)
    wait = {"policy": choice.policy.name, **choice.policy.params, "clock": "virtual"}
    return Candidate("gc-batched" if batched else "gc", choice.scheme, wait, batch=batched)


def models_for(candidate: Candidate, settings: Settings) -> int:
    """Models the live job trains: ``--models`` (at least T + 1: a job's update must land
    before its model's next job starts)."""
    return max(settings.models, candidate.scheme.T + 1)


# --- the simulated side -------------------------------------------------------------------------
class RecordedClock:
    """A simulator clock that plays back recorded (rounds, n) arrival times (tests, parity)."""

    def __init__(self, times: np.ndarray):
        self.recorded = np.asarray(times, dtype=float)

    def times(self, r: int, loads: np.ndarray) -> np.ndarray:
        return np.where(np.asarray(loads) > 0, self.recorded[r], np.nan)


def policy_replay(scheme, policy, times: np.ndarray, jobs: int) -> dict[str, Any]:
    """The simulator (``replay.round_simulator.run_rounds``) on recorded arrival times."""
    from coordinator.replay.fleet import Fleet
    from coordinator.replay.round_simulator import Fixed, run_rounds

    session = scheme.session(jobs)
    records = run_rounds(Fixed(session, policy), RecordedClock(times),
                         Fleet(scheme.n, spares=None))  # recorded times: no cold start added
    return _outcome(records)


def simulated(candidate: Candidate, settings: Settings, jobs: int,
              prior=None) -> dict[str, Any]:
    """What ``sgc simulate`` predicts for the candidate on the same trace, workers, seed, models
    and batching; ``prior``: sgcflow's start from an earlier job (``adaptive.Learned``)."""
    from coordinator.control.runner import wait_policy
    from coordinator.replay.round_simulator import Fixed, mean_load, run_rounds
    from coordinator.schemes.batching import batched

    models = models_for(candidate, settings)
    replay = settings.replay(models)
    if candidate.scheme.name == "sgcflow":
        controller = candidate.scheme.controller(jobs, prior)
    else:
        session = batched(candidate.scheme, jobs, models,
                          target=None if candidate.batch else 1)
        controller = Fixed(session, wait_policy(candidate.wait))
    fleet = replay.fleet(settings.workers)
    records = run_rounds(controller, replay.clock(settings.latency(), controller.session.rounds),
                         fleet)
    return {**_outcome(records), "mean_load": mean_load(records),
            "peak_concurrency": fleet.peak, "billed_gb_s": fleet.billed_gb_s,
            "cold_starts": fleet.cold_starts}


def _outcome(records) -> dict[str, Any]:
    return {"runtime_s": float(sum(r.end_s for r in records)), "rounds": len(records),
            "fallbacks": sum(r.fallback for r in records),
            "round_times_s": [r.end_s for r in records],
            "stragglers": [sorted(r.stragglers) for r in records],
            "late_results": sum(len(r.late) for r in records)}


# --- the live side ------------------------------------------------------------------------------
def job_spec(candidate: Candidate, settings: Settings, rows_per_worker: int = 16) -> dict:
    """The job the live run submits: ``models_for`` softmax models, iterations so that
    M x iterations >= the requested jobs (gradients)."""
    models = models_for(candidate, settings)
    return {"name": f"replay-{candidate.label}", "workers": settings.workers,
            "iterations": -(-settings.jobs // models),
            "models": [{"kind": "softmax", "lr": 0.2, "seed": m} for m in range(models)],
            "dataset": {"name": "synthetic", "rows": rows_per_worker * settings.workers,
                        "features": 8, "classes": 3, "seed": settings.seed},
            "scheme": candidate.spec_scheme, "wait": candidate.wait,
            "batch": candidate.batch, "stragglers": settings.stragglers()}


def live_summary(store, run_id: str, spec: dict) -> dict[str, Any]:
    """runtime_s, rounds, fall-backs and exactness from the job's own records."""
    from coordinator.control import reference
    from coordinator.control.plan import JobPlan
    from coordinator.control.run_dataset import shuffled_table

    plan = JobPlan.from_dict(store.job(run_id)["plan"])
    log = store.rounds(run_id)
    X, y = shuffled_table(spec["dataset"])
    worst, decoded = 0.0, 0
    for entry in log:
        for j in entry["update"]["decoded"]:
            j = int(j)
            got = store.get_array(plan.decoded_key(j))
            loss, grad = reference.full_batch(plan.models[plan.model_of(j)[0]], X, y,
                                              store.get_array(plan.params_key(j)))
            want = np.concatenate([[loss], grad])
            worst = max(worst, float(np.linalg.norm(got - want) / np.linalg.norm(want)))
            decoded += 1
    return {"runtime_s": float(sum(e["collect"]["elapsed_s"] for e in log)),
            "rounds": len(log), "fallbacks": sum(bool(e["collect"]["flags"]) for e in log),
            "late_results": sum(len(e["collect"].get("late", {})) for e in log),
            "decoded_jobs": decoded, "max_relative_error": worst,
            "decoded_exactly": decoded > 0 and worst <= EXACT_RTOL,
            "round_times_s": [e["collect"]["elapsed_s"] for e in log],
            "stragglers": [e["collect"]["stragglers"] for e in log],
            "coordinator_s_per_round": float(np.mean(
                [(e.get("invoked", {}).get("seconds") or 0) + e["collect"]["busy_s"]
                 + e["update"]["seconds"] for e in log]))}


def check_settings(settings: Settings) -> None:
    """Bad input before any work: each error names its option."""
    from pathlib import Path

    from coordinator.replay.traces import LatencyModel

    if not Path(settings.trace).is_file():
        raise ReplayError("--trace", f"no such file: {settings.trace}")
    if not 1 <= settings.jobs <= MAX_JOBS:
        raise ReplayError("--gradients", f"must be in [1, {MAX_JOBS}], got {settings.jobs}")
    if not settings.mu >= 0:
        raise ReplayError("--mu", f"must be >= 0, got {settings.mu}")
    try:
        model = LatencyModel.from_parquet(settings.trace, profile=settings.profile,
                                          region=settings.region)
    except ValueError as error:
        option = "--trace-region" if str(error).startswith("region") else "--trace-profile"
        raise ReplayError(option, str(error)) from None
    if not 1 <= settings.workers <= model.n_workers:
        raise ReplayError("--workers", f"must be in [1, {model.n_workers}] (the trace measured "
                                       f"{model.n_workers} workers), got {settings.workers}")


def replay(settings: Settings, schemes: list[tuple[str, dict]],
           echo: Callable[[str], None] = lambda _: None,
           watch: Callable[[Any, str], Any] | None = None) -> dict[str, dict]:
    """Run every scheme live (emulated, virtual clock) and simulated; keyed by scheme label.
    ``watch(backend, job)``, if given, shows each live run's progress until it ends."""
    check_settings(settings)
    candidates = [choose(name, params, settings) for name, params in schemes]
    from coordinator.backends import emulator_backend
    from coordinator.emulator import Emulator
    from coordinator.spec.jobspec import validate

    out: dict[str, dict] = {}
    with Emulator() as emulator:
        backend = emulator_backend(emulator)
        for i, candidate in enumerate(candidates, start=1):
            spec = validate(job_spec(candidate, settings))
            echo(f"  {candidate.label} ({i} of {len(candidates)}): {spec.jobs} gradients live, "
                 f"then simulated")
            run_id = backend.submit(spec)
            if watch is not None:
                watch(backend, run_id)
            described = emulator.wait(backend.store.job(run_id)["execution_arn"], 3600)
            if described["status"] != "SUCCEEDED":
                raise RuntimeError(f"{candidate.label} job {run_id} {described['status']}: "
                                   f"{backend.store.job(run_id).get('error')}")
            live = live_summary(backend.store, run_id, spec.raw)
            scheme = candidate.scheme
            predicted = simulated(candidate, settings, spec.jobs)
            out[candidate.label] = {
                "scheme": scheme.name, "params": scheme.params, "policy": candidate.wait,
                # sgcflow's load changes with its choices: the run's mean, not its start's
                "load": predicted["mean_load"] if scheme.name == "sgcflow" else scheme.load,
                "jobs": spec.jobs, "job": run_id,
                "models": len(spec.models), "batch": spec.batch,
                "runtime_s": live["runtime_s"], "simulated_runtime_s": predicted["runtime_s"],
                "rounds": live["rounds"], "simulated_rounds": predicted["rounds"],
                "fallbacks": live["fallbacks"], "late_results": live["late_results"],
                "simulated_late_results": predicted["late_results"],
                "peak_concurrency": predicted["peak_concurrency"],
                "billed_gb_s": predicted["billed_gb_s"],
                "simulated_fallbacks": predicted["fallbacks"],
                "decoded_exactly": live["decoded_exactly"],
                "max_relative_error": live["max_relative_error"],
                "same_stragglers": live["stragglers"] == predicted["stragglers"],
                "coordinator_s_per_round": live["coordinator_s_per_round"],
                "round_times_s": live["round_times_s"],
                "simulated_round_times_s": predicted["round_times_s"]}
            echo(f"  {candidate.label}: {scheme.describe()} live {live['runtime_s']:.2f} s, "
                 f"simulated {predicted['runtime_s']:.2f} s, {live['rounds']} rounds")
    base = out.get("gc")
    for row in out.values():
        row["ratio_to_gc"] = row["runtime_s"] / base["runtime_s"] if base else None
        row["simulated_ratio_to_gc"] = (row["simulated_runtime_s"] / base["simulated_runtime_s"]
                                        if base else None)
    return out
