"""The job spec (YAML or JSON): what to train, on what, with which scheme, how to wait.

Every error names the field (dotted path) and what is allowed; all problems are reported at
once. Example (``sgc submit --help`` shows it too)::

    name: digits-demo
    dataset: {name: digits}
    models:                         # trained at once; scheme job j = iteration ceil(j/M)
      - {kind: softmax, lr: 0.5}    #   of model (j-1) mod M, so M >= T + 1
      - {kind: logreg, lr: 0.5}
      - {kind: mlp, hidden: 16, lr: 0.2, seed: 1}
    iterations: 10                  # per model
    workers: 256
    scheme: {name: m-sgc, B: 1, W: 2, lam: 27}
    wait: {deadline_s: 2.0, hard_limit_s: 30}   # or {mu: 0.5, hard_limit_s: 30}
    stragglers: {model: bursty, B: 1, W: 2, lam: 20, seed: 7}   # emulation only
    faults: [{round: 2, worker: 5, kind: raise}]                  # emulation only
    region: us-east-1
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from coordinator.schemes import SCHEMES, make_scheme

MODEL_KINDS = ("logreg", "softmax", "mlp")
STRAGGLER_MODELS = ("bursty", "per-round", "iid", "gilbert-elliot", "fixed", "none")
FAULT_KINDS = ("raise", "garbage")
TOP_LEVEL = ("name", "dataset", "models", "iterations", "workers", "scheme", "wait",
             "stragglers", "faults", "region", "regions")
MAX_WORKERS = 1000  # the default Lambda account concurrency


class JobSpecError(ValueError):
    """A job spec with problems; ``errors`` is a list of (field, message)."""

    def __init__(self, errors: list[tuple[str, str]]):
        self.errors = errors
        super().__init__("invalid job spec:\n" + "\n".join(f"  {f}: {m}" for f, m in errors))


@dataclass(frozen=True)
class JobSpec:
    """A validated job spec; ``raw`` is the normalized dict that gets stored with the job."""

    raw: dict[str, Any] = field(repr=False)

    @property
    def models(self) -> list[dict[str, Any]]:
        return self.raw["models"]

    @property
    def workers(self) -> int:
        return self.raw["workers"]

    @property
    def iterations(self) -> int:
        return self.raw["iterations"]

    @property
    def jobs(self) -> int:
        """Scheme jobs: one per model iteration."""
        return len(self.models) * self.iterations

    def scheme(self):
        params = {k: v for k, v in self.raw["scheme"].items() if k != "name"}
        return make_scheme(self.raw["scheme"]["name"], n=self.workers, **params)


class _Checker:
    def __init__(self) -> None:
        self.errors: list[tuple[str, str]] = []

    def fail(self, where: str, message: str) -> None:
        self.errors.append((where, message))

    def integer(self, where: str, value: Any, low: int, high: int | None = None) -> int | None:
        allowed = f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]"
        if isinstance(value, bool) or not isinstance(value, int) or value < low or (
                high is not None and value > high):
            self.fail(where, f"must be {allowed}, got {value!r}")
            return None
        return value

    def number(self, where: str, value: Any, low: float, *, strict: bool = True) -> float | None:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and (
            value > low if strict else value >= low)
        if not ok:
            self.fail(where, f"must be a number {'>' if strict else '>='} {low}, got {value!r}")
            return None
        return float(value)

    def mapping(self, where: str, value: Any, allowed: tuple[str, ...]) -> dict | None:
        if not isinstance(value, dict):
            self.fail(where, f"must be a mapping with keys from {list(allowed)}, got {value!r}")
            return None
        for key in value:
            if key not in allowed:
                self.fail(f"{where}.{key}", f"unknown key; allowed {list(allowed)}")
        return value


def load(path: str | Path) -> JobSpec:
    """Read and validate a YAML or JSON job spec file."""
    text = Path(path).read_text()
    try:
        data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise JobSpecError([("(file)", f"{path} is not valid YAML/JSON: {error}")]) from error
    return validate(data)


def validate(data: Any) -> JobSpec:
    """Validate a job spec dict; raise JobSpecError listing every problem."""
    check = _Checker()
    if check.mapping("(top level)", data, TOP_LEVEL) is None:
        raise JobSpecError(check.errors)
    raw: dict[str, Any] = {"name": str(data.get("name", "job"))}
    workers = data.get("workers", 256)
    raw["workers"] = check.integer("workers", workers, 1, MAX_WORKERS)
    raw["iterations"] = check.integer("iterations", data.get("iterations"), 1)
    raw["models"] = _models(check, data.get("models"))
    raw["dataset"] = _dataset(check, data.get("dataset"))
    raw["wait"] = _wait(check, data.get("wait", {"deadline_s": 5.0}))
    raw["stragglers"] = _stragglers(check, data.get("stragglers"), raw["workers"])
    raw["faults"] = _faults(check, data.get("faults", []), raw["workers"])
    raw["regions"] = _regions(check, data)
    raw["scheme"] = _scheme(check, data.get("scheme"), raw["workers"], raw["models"])
    if check.errors:
        raise JobSpecError(check.errors)
    return JobSpec(raw)


def _models(check: _Checker, models: Any) -> list[dict] | None:
    if not isinstance(models, list) or not models:
        check.fail("models", f"must be a non-empty list of models, each with kind in "
                             f"{list(MODEL_KINDS)}, got {models!r}")
        return None
    out = []
    for i, model in enumerate(models):
        where = f"models[{i}]"
        if check.mapping(where, model, ("kind", "lr", "hidden", "seed")) is None:
            continue
        kind = model.get("kind")
        if kind not in MODEL_KINDS:
            check.fail(f"{where}.kind", f"must be one of {list(MODEL_KINDS)}, got {kind!r}")
        entry = {"kind": kind, "lr": check.number(f"{where}.lr", model.get("lr", 0.1), 0.0),
                 "seed": check.integer(f"{where}.seed", model.get("seed", i), 0)}
        if kind == "mlp":
            entry["hidden"] = check.integer(f"{where}.hidden", model.get("hidden", 32), 1)
        elif "hidden" in model:
            check.fail(f"{where}.hidden", f"only kind mlp has a hidden layer (kind is {kind!r})")
        out.append(entry)
    return out


def _dataset(check: _Checker, dataset: Any) -> dict | None:
    if isinstance(dataset, str):
        dataset = {"name": dataset}
    if check.mapping("dataset", dataset, ("name", "seed", "rows", "features", "classes")) is None:
        return None
    name = dataset.get("name")
    if not isinstance(name, str) or not name:
        check.fail("dataset.name", f"must be a dataset name (e.g. 'digits'), got {name!r}")
    out = {"name": name}
    for key in ("seed", "rows", "features", "classes"):
        if key in dataset:
            out[key] = check.integer(f"dataset.{key}", dataset[key], 0 if key == "seed" else 1)
    return out


def _wait(check: _Checker, wait: Any) -> dict | None:
    """The study's rule by default ({deadline_s | mu, hard_limit_s}); or a named policy
    (``policy: paper | kofn | decodable`` with its parameters, coordinator.policy); ``clock:
    virtual`` (emulation) decides on the injected worker times instead of the wall clock."""
    named = isinstance(wait, dict) and "policy" in wait
    allowed = ("deadline_s", "mu", "hard_limit_s", "clock") + (
        ("policy", "cap", "tolerance", "min_fraction", "model") if named else ())
    if check.mapping("wait", wait, allowed) is None:
        return None
    clock = wait.get("clock", "wall")
    if clock not in ("wall", "virtual"):
        check.fail("wait.clock", f"must be 'wall' or 'virtual', got {clock!r}")
    if named:
        from coordinator.policy import policy_from_wait

        params = {k: v for k, v in wait.items() if k != "clock"}
        try:
            policy_from_wait(params)
        except ValueError as error:
            check.fail("wait", str(error))
            return None
        return {**params, **({"clock": clock} if "clock" in wait else {})}
    has_deadline, has_mu = "deadline_s" in wait, "mu" in wait
    if has_deadline == has_mu:
        check.fail("wait", "give exactly one of deadline_s (seconds after dispatch) or mu "
                           "(wait (1 + mu) x the fastest worker's time)")
        return None
    out: dict[str, Any] = {}
    if has_deadline:
        out["deadline_s"] = check.number("wait.deadline_s", wait["deadline_s"], 0.0)
    else:
        out["mu"] = check.number("wait.mu", wait["mu"], 0.0, strict=False)
    base = out.get("deadline_s") or 1.0
    out["hard_limit_s"] = check.number("wait.hard_limit_s",
                                       wait.get("hard_limit_s", max(30.0, 10 * base)), 0.0)
    if out.get("deadline_s") and out["hard_limit_s"] and out["hard_limit_s"] < out["deadline_s"]:
        check.fail("wait.hard_limit_s", f"must be >= wait.deadline_s ({out['deadline_s']})")
    if "clock" in wait:
        out["clock"] = clock
    return out


def _stragglers(check: _Checker, spec: Any, workers: int | None) -> dict | None:
    if spec is None:
        return {"model": "none"}
    keys = ("model", "trace", "profile", "region", "time_scale", "seed", "B", "W", "lam", "s",
            "p", "p_good_to_bad", "p_bad_to_good", "rate", "rounds", "delay_s")
    if check.mapping("stragglers", spec, keys) is None:
        return None
    out = dict(spec)
    if "trace" in spec:
        if "model" in spec:
            check.fail("stragglers", "give either model (a straggler model) or trace (a Parquet "
                                     "file of per-round worker latencies), not both")
        if not Path(str(spec["trace"])).exists():
            check.fail("stragglers.trace", f"file not found: {spec['trace']}")
        out["time_scale"] = check.number("stragglers.time_scale", spec.get("time_scale", 0.1), 0)
        return out
    model = spec.get("model")
    if model not in STRAGGLER_MODELS:
        check.fail("stragglers.model", f"must be one of {list(STRAGGLER_MODELS)} (or give "
                                       f"stragglers.trace), got {model!r}")
        return None
    needs = {"bursty": ("B", "W", "lam"), "per-round": ("s",), "iid": ("p",),
             "gilbert-elliot": ("p_good_to_bad", "p_bad_to_good"), "fixed": ("rounds",)}
    for key in needs.get(model, ()):
        if key not in spec:
            check.fail(f"stragglers.{key}", f"required by model {model!r} (needs {needs[model]})")
    if model == "fixed" and isinstance(spec.get("rounds"), dict):
        out["rounds"] = {}
        for t, ws in spec["rounds"].items():
            where = f"stragglers.rounds.{t}"
            if not str(t).isdigit() or int(t) < 1:
                check.fail(where, "round numbers must be integers >= 1")
                continue
            if not isinstance(ws, list) or any(
                    not isinstance(w, int) or not 0 <= w < (workers or 0) for w in ws):
                check.fail(where, f"must be a list of worker indices in [0, {(workers or 1) - 1}]")
                continue
            out["rounds"][str(int(t))] = sorted(set(ws))
    elif model == "fixed" and "rounds" in spec:
        check.fail("stragglers.rounds", "must map round -> list of workers, e.g. {2: [0, 5]}")
    if "delay_s" in spec:
        out["delay_s"] = check.number("stragglers.delay_s", spec["delay_s"], 0.0)
    return out


def _faults(check: _Checker, faults: Any, workers: int | None) -> list[dict]:
    if not isinstance(faults, list):
        check.fail("faults", f"must be a list of {{round, worker, kind}}, got {faults!r}")
        return []
    out = []
    for i, fault in enumerate(faults):
        where = f"faults[{i}]"
        if check.mapping(where, fault, ("round", "worker", "kind")) is None:
            continue
        kind = fault.get("kind", "raise")
        if kind not in FAULT_KINDS:
            check.fail(f"{where}.kind", f"must be one of {list(FAULT_KINDS)}, got {kind!r}")
        out.append({"round": check.integer(f"{where}.round", fault.get("round"), 1),
                    "worker": check.integer(f"{where}.worker", fault.get("worker"), 0,
                                            (workers or 1) - 1),
                    "kind": kind})
    return out


def _regions(check: _Checker, data: dict) -> list[str]:
    regions = data.get("regions", [data.get("region", "us-east-1")])
    if not isinstance(regions, list) or not regions or not all(
            isinstance(r, str) and r.count("-") >= 2 for r in regions):
        check.fail("regions" if "regions" in data else "region",
                   f"must be AWS region names like 'us-east-1', got {regions!r}")
        return ["us-east-1"]
    return regions


def _scheme(check: _Checker, scheme: Any, workers: int | None, models: list | None) -> dict | None:
    if not isinstance(scheme, dict) or scheme.get("name") not in SCHEMES:
        got = scheme.get("name") if isinstance(scheme, dict) else scheme
        check.fail("scheme.name", f"must be one of {sorted(SCHEMES)}, got {got!r}")
        return None
    if workers is None:
        return dict(scheme)
    params = {k: v for k, v in scheme.items() if k != "name"}
    try:
        built = make_scheme(scheme["name"], n=workers, **params)
    except ValueError as error:
        check.fail("scheme", str(error))
        return None
    if models is not None and len(models) < built.T + 1:
        check.fail("models", f"{scheme['name']} has delay T={built.T}: needs at least T+1="
                             f"{built.T + 1} models trained at once (job j's update must land "
                             f"before job j+M starts), got {len(models)}")
    return {"name": scheme["name"], **built.params}
