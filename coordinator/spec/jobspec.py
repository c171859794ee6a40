"""The job spec (YAML or JSON): what to train, on what, with which scheme, how to wait.

Every error names the field (dotted path) and what is allowed; all problems are reported at
once. Example (``sgc submit --help`` shows it too)::

    name: digits-demo
    dataset: {name: digits}
    models:                         # trained at once; scheme job j = iteration ceil(j/M)
      - {kind: softmax, lr: 0.5}    #   of model (j-1) mod M, so M >= T + 1
      - {kind: logreg, lr: 0.5}
      - {kind: mlp, hidden: 16, lr: 0.2, seed: 1}                       # one hidden layer
      - {kind: mlp, hidden: [256, 256], activation: tanh, lr: 0.1}      # deep (relu|tanh)
      - {kind: cnn, input: [1, 8, 8], conv: [[16, 3], [32, 3]], pool: 2, hidden: [64], lr: 0.05}
                                    # images (dataset digits-images, or an .npz): conv blocks
                                    #   [channels, kernel] (same conv, ReLU, 2x2 max-pool)
    iterations: 10                  # per model
    workers: 256
    scheme: {name: sgcflow}         # the default: chosen online; or e.g. {name: m-sgc, B: 1,
                                    #   W: 2, lam: 27}, {name: gc, s: 15}; {name: sgcflow,
                                    #   learn_from: JOB} starts from what an earlier job on the
                                    #   same dataset, workers and models learned
    batch: true                     # the default: an invocation computes several models'
                                    #   gradients (floor(M / (T + 1))); false: one each
    wait: {deadline_s: 2.0, hard_limit_s: 30}   # or {mu: 0.5, hard_limit_s: 30}
    stragglers: {model: bursty, B: 1, W: 2, lam: 20, seed: 7}   # emulation only
    faults: [{round: 2, worker: 5, kind: raise}]                  # emulation only
    region: us-east-1
    start_at: 1796000000            # optional, epoch seconds: a start the warm pool prepares for
                                    #   (sgc submit --start-at sets it)

Limits (every number must also be finite; an error names the field path and the range):

- the file: at most 1 MiB of UTF-8, 32 levels deep, 64 YAML aliases, 100,000 values once aliases
  are expanded (``spec/safeload.py``); ``name``: 1-64 characters from ``A-Z a-z 0-9 . _ -``
  starting with a letter or digit; ``region``/``regions``: 1-16 AWS region names
  (``us-east-1``, ``us-gov-west-1``: ``^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$``);
- ``workers`` 1..1000; ``iterations`` 1..100,000; ``models`` 1..64 entries, ``lr`` in (0, 1000],
  ``seed`` 0..2**32-1, ``hidden`` 1..65,536; a cnn's ``input`` [C, H, W] (C <= 1024, sides <=
  1024, C*H*W <= 2**20, equal to the dataset's features and image shape when known), ``conv``
  1..8 blocks of [channels 1..1024, odd kernel 1..7], ``pool`` 2 or 1
  (``spec/cnn_fields.py``);
- ``dataset``: ``name`` 1-255 characters; ``rows`` 1..100,000,000, ``features`` 1..1,000,000,
  ``classes`` 2..100,000, ``seed`` 0..2**32-1;
- ``scheme``: integer parameters 0..1000 (the scheme library checks the rest); sgcflow's
  ``learn_from``: a job id (``[A-Za-z0-9][A-Za-z0-9._-]{0,79}``), checked against the stack at
  submit (``coordinator/control/prior.py``);
- ``wait``: ``deadline_s`` in (0, 900], ``mu`` in [0, 1000], ``hard_limit_s`` in (0, 3600];
- ``stragglers``: ``B``, ``W``, ``lam``, ``s`` 0..workers (the scheme library checks bursts),
  ``p``, ``p_good_to_bad``, ``p_bad_to_good``, ``rate`` in [0, 1], ``seed`` 0..2**32-1,
  ``delay_s`` in [0, 900], ``time_scale`` in (0, 100], ``rounds`` {round 1..100,000: [workers]};
- ``faults``: at most 10,000, ``round`` 1..100,000, ``worker`` 0..workers-1;
- and the resource estimate of ``coordinator/spec/budget.py`` (dataset bytes, parameters, worker and
  coordinator memory, S3 traffic) against the worker's memory and the configurable caps.

All of it is checked here, before any AWS call: ``sgc submit`` refuses a bad spec without
credentials or an emulator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coordinator.adaptive.live import NAME as SGCFLOW
from coordinator.adaptive.live import SgcflowScheme
from coordinator.contract.errors import MAX_FIELD_CHARS, shorten
from coordinator.schemes import SCHEMES, make_scheme
from coordinator.schemes.batching import batched
from coordinator.spec import budget, cnn_fields, dataset_field, safeload
from coordinator.spec.budget import BUILTIN_DATASETS
from coordinator.spec.limits import MAX_CLASSES, MAX_FEATURES, MAX_ROWS, MAX_SEED
from coordinator.spec.model_budget import mlp_fields, worker_fit_errors
from coordinator.spec.speccheck import Checker, field_key, show
from coordinator.spec.specinject import FAULT_KINDS, STRAGGLER_MODELS, faults, stragglers

SCHEME_NAMES = (SGCFLOW, *sorted(SCHEMES))
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")  # a job id (sgc jobs lists them)
MODEL_KINDS = ("logreg", "softmax", "mlp", "cnn")
TOP_LEVEL = ("name", "dataset", "models", "iterations", "workers", "scheme", "wait",
             "stragglers", "faults", "region", "regions", "batch", "start_at")
MAX_WORKERS = 1000  # the default Lambda account concurrency
MAX_ITERATIONS = 100_000
MAX_MODELS = 64
MAX_LR = 1000.0
MAX_HIDDEN = 65_536
MAX_SCHEME_PARAM = 1000
MAX_DEADLINE_S = 900.0  # the Lambda timeout ceiling
MAX_HARD_LIMIT_S = 3600.0
MAX_MU = 1000.0
MAX_REGIONS = 16
# start_at: epoch seconds (sgc submit --start-at checks it against the clock: at most a minute
# past, at most 7 days ahead); here only that it is a time between 2020 and 2100.
START_AT_RANGE = (1_577_836_800.0, 4_102_444_800.0)
# Matched with fullmatch ("$" also matches before a trailing newline: 'job\n' would pass).
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")


_Checker = Checker  # the field checker (coordinator/spec/speccheck.py)
__all__ = ["FAULT_KINDS", "MODEL_KINDS", "STRAGGLER_MODELS", "JobSpec", "JobSpecError", "load",
           "show", "validate"]


class JobSpecError(ValueError):
    """A job spec with problems; ``errors`` is a list of (field, message)."""

    def __init__(self, errors: list[tuple[str, str]]):
        # Cut here, once, whatever check wrote the message (a quoted value may be huge).
        self.errors = [(shorten(f, MAX_FIELD_CHARS), shorten(m)) for f, m in errors]
        super().__init__("invalid job spec:\n" + "\n".join(f"  {f}: {m}"
                                                           for f, m in self.errors))


@dataclass(frozen=True)
class JobSpec:
    """A validated job spec; ``raw`` is the normalized dict that gets stored with the job."""

    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def load(cls, path: str | Path, caps: budget.Caps | None = None) -> JobSpec:
        """Read and check a YAML or JSON job spec file (``load``)."""
        return load(path, caps)

    @classmethod
    def from_dict(cls, data: Any, caps: budget.Caps | None = None) -> JobSpec:
        """Check a job spec given as a dict (``validate``)."""
        return validate(data, caps)

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
        """Gradients to compute: one per model iteration."""
        return len(self.models) * self.iterations

    @property
    def batch(self) -> bool:
        """Whether an invocation computes several models' gradients (older records: no)."""
        return is_batched(self.raw)

    def scheme(self):
        return build_scheme(self.raw["scheme"], self.workers, len(self.models), self.batch)

    def session(self):
        """The run's session over its gradients (coordinator.schemes.batching)."""
        scheme = self.scheme()
        if scheme.name == SGCFLOW:
            return scheme.session(self.jobs)
        return batched(scheme, self.jobs, len(self.models),
                       target=None if self.batch else 1)


def load(path: str | Path, caps: budget.Caps | None = None) -> JobSpec:
    """Read (size-, depth- and alias-bounded) and validate a YAML or JSON job spec file."""
    try:
        data = safeload.load_file(path)
    except safeload.LoadError as error:
        raise JobSpecError([("(file)", str(error))]) from None
    return validate(data, caps)


def validate(data: Any, caps: budget.Caps | None = None) -> JobSpec:
    """Validate a job spec dict; raise JobSpecError listing every problem (then the estimate)."""
    check = Checker()
    if check.mapping("(top level)", data, TOP_LEVEL) is None:
        raise JobSpecError(check.errors)
    raw: dict[str, Any] = {"name": _name(check, data.get("name", "job"))}
    workers = data.get("workers", 256)
    raw["workers"] = check.integer("workers", workers, 1, MAX_WORKERS)
    raw["iterations"] = check.integer("iterations", data.get("iterations"), 1, MAX_ITERATIONS)
    raw["models"] = _models(check, data.get("models"))
    raw["dataset"] = _dataset(check, data.get("dataset"))
    raw["wait"] = _wait(check, data.get("wait", {"deadline_s": 5.0}))
    raw["stragglers"] = stragglers(check, data.get("stragglers"), raw["workers"])
    raw["faults"] = faults(check, data.get("faults", []), raw["workers"])
    raw["regions"] = _regions(check, data)
    raw["batch"] = _batch(check, data.get("batch", True))
    if "start_at" in data:
        raw["start_at"] = check.number("start_at", data["start_at"], START_AT_RANGE[0],
                                       strict=False, high=START_AT_RANGE[1])
    scheme = data.get("scheme", {"name": SGCFLOW})
    built = _scheme(check, scheme, raw["workers"], raw["models"])
    raw["scheme"] = None if built is None else {"name": scheme["name"], **built.params,
                                                **_learn_from(scheme)}
    if not check.errors:
        check.errors += cnn_fields.dataset_errors(raw)
    if not check.errors:
        check.errors += worker_fit_errors(raw, lambda name, n, **params: build_scheme(
            {"name": name, **params}, n, len(raw["models"])))
    if check.errors:
        raise JobSpecError(check.errors)
    if caps is None:
        try:
            caps = budget.Caps.from_env()
        except ValueError as error:
            raise JobSpecError([("(environment)", str(error))]) from None
    errors = budget.check(raw, load=built.load, T=built.T, caps=caps)
    if errors:
        raise JobSpecError(errors)
    return JobSpec(raw)


def _batch(check: _Checker, batch: Any) -> bool:
    if not isinstance(batch, bool):
        check.fail("batch", f"must be true (an invocation computes several models' gradients) "
                            f"or false (one gradient each), got {show(batch)}")
        return True
    return batch


def _name(check: _Checker, name: Any) -> str | None:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        check.fail("name", f"must be 1-64 characters from A-Z a-z 0-9 . _ - starting with a "
                           f"letter or digit, got {show(name)}")
        return None
    return name


def _models(check: _Checker, models: Any) -> list[dict] | None:
    if not isinstance(models, list) or not 1 <= len(models) <= MAX_MODELS:
        check.fail("models", f"must be a non-empty list of at most {MAX_MODELS} models, each "
                             f"with kind in {list(MODEL_KINDS)}, got {show(models)}")
        return None
    out = []
    for i, model in enumerate(models):
        where = f"models[{i}]"
        if check.mapping(where, model, ("kind", "lr", "hidden", "activation", "seed",
                                        *cnn_fields.CNN_KEYS)) is None:
            continue
        kind = model.get("kind")
        check.choice(f"{where}.kind", kind, MODEL_KINDS)
        entry = {"kind": kind,
                 "lr": check.number(f"{where}.lr", model.get("lr", 0.1), 0.0, high=MAX_LR),
                 "seed": check.integer(f"{where}.seed", model.get("seed", i), 0, MAX_SEED)}
        if kind == "mlp":
            entry.update(mlp_fields(model, where, check.fail))
        elif kind == "cnn":
            entry.update(cnn_fields.cnn_fields(model, where, check.fail))
        else:
            for key in ("hidden", "activation"):
                if key in model:
                    check.fail(f"{where}.{key}", f"only kinds mlp and cnn have {key} (kind is "
                                                 f"{kind!r})")
        if kind != "cnn":
            for key in cnn_fields.CNN_KEYS:
                if key in model:
                    check.fail(f"{where}.{key}", f"only kind cnn has {key} (kind is {kind!r})")
        out.append(entry)
    return out


def _dataset(check: _Checker, dataset: Any) -> dict | None:
    """``{name: digits | digits-parity | synthetic, ...}`` or ``{path: P, ...}``
    (coordinator/spec/dataset_field.py)."""
    if isinstance(dataset, str):
        dataset = {"name": dataset}
    if isinstance(dataset, dict) and "path" in dataset:
        return dataset_field.path_dataset(check, dataset)
    if check.mapping("dataset", dataset, ("name", "seed", "rows", "features", "classes")) is None:
        return None
    name = dataset.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 255 or "\x00" in name:
        check.fail("dataset.name", f"must be a built-in dataset {list(BUILTIN_DATASETS)}, "
                                   f"got {show(name)} (a file or a prepared folder goes in "
                                   "dataset.path)")
    elif name not in BUILTIN_DATASETS:
        check.choice("dataset.name", name, BUILTIN_DATASETS,
                     " (a file, a folder written by `sgc data prepare` or an s3:// prefix goes "
                     "in dataset.path)")
    out = {"name": name}
    bounds = {"seed": (0, MAX_SEED), "rows": (1, MAX_ROWS), "features": (1, MAX_FEATURES),
              "classes": (2, MAX_CLASSES)}
    for key, (low, high) in bounds.items():
        if key in dataset:
            out[key] = check.integer(f"dataset.{key}", dataset[key], low, high)
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
    check.choice("wait.clock", clock, ("wall", "virtual"))
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
        out["deadline_s"] = check.number("wait.deadline_s", wait["deadline_s"], 0.0,
                                         high=MAX_DEADLINE_S)
    else:
        out["mu"] = check.number("wait.mu", wait["mu"], 0.0, strict=False, high=MAX_MU)
    base = out.get("deadline_s") or 1.0
    out["hard_limit_s"] = check.number("wait.hard_limit_s",
                                       wait.get("hard_limit_s", max(30.0, 10 * base)), 0.0,
                                       high=MAX_HARD_LIMIT_S)
    if out.get("deadline_s") and out["hard_limit_s"] and out["hard_limit_s"] < out["deadline_s"]:
        check.fail("wait.hard_limit_s", f"must be >= wait.deadline_s ({out['deadline_s']})")
    if "clock" in wait:
        out["clock"] = clock
    return out


def _regions(check: _Checker, data: dict) -> list[str]:
    if "region" in data and "regions" in data:
        check.fail("region", "give region or regions, not both")
    where = "regions" if "regions" in data else "region"
    regions = data["regions"] if "regions" in data else [data.get("region", "us-east-1")]
    if not isinstance(regions, list) or not 1 <= len(regions) <= MAX_REGIONS or not all(
            isinstance(r, str) and len(r) <= 32 and REGION.fullmatch(r) for r in regions):
        check.fail(where, f"must be 1..{MAX_REGIONS} AWS region names like 'us-east-1' "
                          f"(lower-case, matching {REGION.pattern}), got {show(regions)}")
        return ["us-east-1"]
    return list(dict.fromkeys(regions))


def is_batched(raw: dict) -> bool:
    """Whether a job's invocations carry several models (a spec recorded before ``batch``
    existed ran one gradient per invocation)."""
    return bool(raw.get("batch", False))


def _learn_from(scheme: dict) -> dict:
    """sgcflow's ``learn_from`` as the normalized spec keeps it (``coordinator/control/prior``)."""
    source = scheme.get("learn_from")
    return {} if source is None else {"learn_from": source}


def _scheme(check: _Checker, scheme: Any, workers: int | None, models: list | None):
    if not isinstance(scheme, dict) or not isinstance(scheme.get("name"), str) \
            or scheme["name"] not in SCHEME_NAMES:
        got = scheme.get("name") if isinstance(scheme, dict) else scheme
        check.choice("scheme.name", got, SCHEME_NAMES)
        return None
    params = {k: v for k, v in scheme.items() if k != "name"}
    if "learn_from" in params and params["learn_from"] is None:
        params.pop("learn_from")  # null: learn from nothing, as if absent
    if "learn_from" in params and scheme["name"] != SGCFLOW:
        check.fail("scheme.learn_from", f"only sgcflow starts from an earlier job; "
                                        f"{scheme['name']} has fixed parameters")
        return None
    if "learn_from" in params:
        source = params.pop("learn_from")
        if not isinstance(source, str) or not RUN_ID.fullmatch(source):
            check.fail("scheme.learn_from", "must be the id of an earlier sgcflow job on this "
                                            f"stack (like run-20260301-093000-a1b2c3), got "
                                            f"{show(source)}")
            return None
    for key, value in params.items():
        if not isinstance(key, str) or isinstance(value, bool) or not isinstance(value, int) \
                or not 0 <= value <= MAX_SCHEME_PARAM:
            check.fail(f"scheme.{field_key(key)}", f"must be an integer in [0, "
                                                  f"{MAX_SCHEME_PARAM}], got {show(value)}")
            return None
    if workers is None:
        return None
    try:
        built = build_scheme(scheme, workers, len(models) if models else 1)
    except ValueError as error:
        check.fail("scheme", str(error))
        return None
    if models is not None and len(models) < built.T + 1:
        check.fail("models", f"{scheme['name']} has delay T={built.T}: needs at least T+1="
                             f"{built.T + 1} models trained at once (job j's update must land "
                             f"before job j+M starts), got {len(models)}")
    return built


def build_scheme(scheme: dict, workers: int, models: int, batch: bool = True):
    """The scheme a validated spec names: ``sgcflow`` (the online default; with one model only
    GC, since T = 1 needs two models to overlap) or a scheme of the library."""
    params = {k: v for k, v in scheme.items() if k not in ("name", "learn_from")}
    if scheme["name"] == SGCFLOW:
        if params:
            raise ValueError(f"sgcflow chooses its own parameters (learn_from: an earlier job "
                             f"to start from is its one option), got {sorted(params)}")
        return SgcflowScheme(workers, models=models, batch=batch)
    return make_scheme(scheme["name"], n=workers, **params)
