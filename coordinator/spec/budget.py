"""A job's resource estimate, checked at submit so a job that cannot fit fails before any AWS call.

A spec with 1e10 rows or 1e8 classes passes every per-field bound yet needs hundreds of GiB; it
used to fail rounds later, in Plan, with a MemoryError. The estimate (upper bounds, in bytes):

- ``dataset_bytes``: the dataset in memory as float32, rows x (features + 1) x 4;
- ``params``: the largest model's parameter count (logreg d+1, softmax (d+1)C, mlp layers);
- ``worker_bytes``: one worker in one round: its share of the rows (scheme load x (T+1) jobs,
  decoded and as Parquet bytes), T+1 tasks' parameters, coded result and kernel scratch, plus
  the runtime (``WORKER_BASE_MB``); checked against the worker's Lambda memory;
- ``step_bytes``: the coordinator step: Plan holds the whole table (float64 while validating,
  float32, Parquet), Update decodes up to n x (T+1) float64 results; against the step memory;
- ``s3_bytes``: traffic of the whole job: every round each worker reads T+1 parameter vectors and
  writes T+1 results, plus the partitions once.

Caps (configurable by environment variable, or ``Caps(...)`` in code): ``SGC_MAX_DATASET_GB``
(default 8), ``SGC_MAX_PARAMS`` (50 million), ``SGC_MAX_S3_GB`` (200), ``SGC_MAX_ROUNDS``
(100,000), ``SGC_WORKER_MEMORY_MB`` / ``SGC_STEP_MEMORY_MB`` (the deployed defaults from
``coordinator.workflow.resources``). Pure arithmetic: nothing is allocated.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

from coordinator.contract.keys import MAX_ROUND
from coordinator.workflow import resources

GIB = 1 << 30
MIB = 1 << 20
WORKER_BASE_MB = 300  # Python + numpy + Numba kernels + pyarrow, measured cold at ~250 MB
STEP_BASE_MB = 200
BUILTIN_SHAPES = {"digits": (1797, 64, 10), "digits-images": (1797, 64, 10),
                  "digits-parity": (1797, 64, 2)}
SYNTHETIC_DEFAULTS = {"rows": 16384, "features": 64, "classes": 2}
BUILTIN_DATASETS = (*BUILTIN_SHAPES, "synthetic")


@dataclass(frozen=True)
class Caps:
    """Upper bounds a job must stay under (see the module docstring)."""

    max_dataset_gb: float = 8.0
    max_params: int = 50_000_000
    max_s3_gb: float = 200.0
    max_rounds: int = 100_000
    worker_memory_mb: int = resources.WORKER_MEMORY_MB
    step_memory_mb: int = resources.STEP_MEMORY_MB

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Caps:
        """Caps from SGC_MAX_* / SGC_*_MEMORY_MB; a bad value is a ValueError naming it."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, field_type in (("max_dataset_gb", float), ("max_params", int),
                                 ("max_s3_gb", float), ("max_rounds", int),
                                 ("worker_memory_mb", int), ("step_memory_mb", int)):
            variable = f"SGC_{name.upper()}"
            if variable in environ:
                try:
                    value = field_type(environ[variable])
                except ValueError:
                    value = -1
                if not (math.isfinite(value) and value > 0):
                    raise ValueError(f"{variable}: must be a positive {field_type.__name__}, "
                                     f"got {environ[variable]!r:.80}")
                if name == "max_rounds" and value > MAX_ROUND:
                    raise ValueError(f"{variable}: at most {MAX_ROUND} (rounds are 6-digit "
                                     f"fields of S3 and DynamoDB keys), got {value}")
                values[name] = value
        return cls(**values)


@dataclass(frozen=True)
class Estimate:
    rows: int
    features: int
    classes: int
    dataset_bytes: int
    params: int
    worker_bytes: int
    step_bytes: int
    s3_bytes: int
    rounds: int

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def dataset_shape(dataset: dict) -> tuple[int, int, int] | None:
    """(rows, features, classes) of a dataset spec, read, never guessed: a built-in's, or the
    ``shape`` recorded from the data itself (``dataset.path``: recorded at submit, when the data
    is read to be uploaded); None while it is not known yet."""
    name = dataset.get("name")
    if name in BUILTIN_SHAPES:
        return BUILTIN_SHAPES[name]
    if name == "synthetic":
        return tuple(int(dataset.get(k, SYNTHETIC_DEFAULTS[k]))
                     for k in ("rows", "features", "classes"))
    shape = dataset.get("shape")
    if isinstance(shape, dict):
        return int(shape["rows"]), int(shape["features"]), int(shape["classes"])
    return None


def model_params(model: dict, features: int, classes: int) -> int:
    """Parameter count of one model spec (mlp ``hidden`` an integer or a list of widths; a cnn
    counts on its own ``input``)."""
    kind = model.get("kind")
    if kind == "logreg":
        return features + 1
    if kind == "softmax":
        return (features + 1) * classes
    if kind == "cnn":
        return _cnn(model, classes).n_params
    hidden = model.get("hidden", 32)
    widths = [features, *(hidden if isinstance(hidden, list) else [hidden]), classes]
    return sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:], strict=True))


def estimate(raw: dict, *, load: float, T: int) -> Estimate | None:
    """The estimate for a validated spec's ``raw`` dict and its scheme's load and delay T."""
    shape = dataset_shape(raw["dataset"])
    if shape is None:
        return None
    rows, features, classes = shape
    n, jobs = raw["workers"], len(raw["models"]) * raw["iterations"]
    rounds = jobs + T
    dataset_bytes = rows * (features + 1) * 4
    params = max(model_params(m, features, classes) for m in raw["models"])
    widest = max([classes] + [_widest(m, classes) for m in raw["models"]])
    share = min(rows, math.ceil(load * rows) * (T + 1))
    worker = (WORKER_BASE_MB * MIB + share * (features + 1) * 4 * 2
              + (T + 1) * params * (4 + 8 + 8) + share * widest * 8 * 3)
    plan = rows * (features + 1) * (8 + 4 + 4) + rows * classes * 8 * 3
    update = n * (T + 1) * (params + 1) * 8
    step = STEP_BASE_MB * MIB + max(plan, update)
    s3 = rounds * n * (T + 1) * (params * 4 + (params + 1) * 8) + n * share * (features + 1) * 4
    return Estimate(rows, features, classes, dataset_bytes, params, worker, step, s3, rounds)


def _widest(model: dict, classes: int) -> int:
    """Values one row holds at once in a layer: the widest hidden layer; for a cnn the largest
    conv output or im2col matrix of one image."""
    if model.get("kind") == "cnn":
        return max(max(layer.c_out, layer.taps) * layer.positions
                   for layer in _cnn(model, classes).conv_layers)
    hidden = model.get("hidden") or 0
    return max(hidden) if isinstance(hidden, list) else int(hidden)


def _cnn(model: dict, classes: int):
    from coordinator.contract.models import ModelSpec

    image = model["input"]
    return ModelSpec("cnn", image[0] * image[1] * image[2], max(2, classes), model["hidden"],
                     "relu", image, model["conv"], model["pool"])


def check(raw: dict, *, load: float, T: int, caps: Caps) -> list[tuple[str, str]]:
    """Errors (field, message) for a spec whose estimate exceeds a cap or a memory size."""
    found = estimate(raw, load=load, T=T)
    if found is None:
        return []
    errors = []
    if found.rounds > caps.max_rounds:
        errors.append(("iterations", f"{found.rounds} rounds (models x iterations + T) exceed "
                                     f"the cap of {caps.max_rounds} (SGC_MAX_ROUNDS)"))
    if found.dataset_bytes > caps.max_dataset_gb * GIB:
        errors.append(("dataset", f"{_gib(found.dataset_bytes)} in memory ({found.rows} rows x "
                                  f"{found.features + 1} columns x 4 bytes) exceeds the cap of "
                                  f"{caps.max_dataset_gb} GiB (SGC_MAX_DATASET_GB)"))
    if found.params > caps.max_params:
        errors.append(("models", f"{found.params} parameters in the largest model exceed the "
                                 f"cap of {caps.max_params} (SGC_MAX_PARAMS)"))
    if found.worker_bytes > caps.worker_memory_mb * MIB:
        errors.append(("workers", f"one worker needs about {_gib(found.worker_bytes)} per round "
                                  f"(data share, {found.params} parameters), more than its "
                                  f"{caps.worker_memory_mb} MB of memory: use more workers, "
                                  "less data or smaller models"))
    if found.step_bytes > caps.step_memory_mb * MIB:
        errors.append(("dataset", f"the coordinator step needs about {_gib(found.step_bytes)} "
                                  f"(whole dataset in Plan, n x (T+1) results in Update), more "
                                  f"than its {caps.step_memory_mb} MB of memory"))
    if found.s3_bytes > caps.max_s3_gb * GIB:
        errors.append(("iterations", f"about {_gib(found.s3_bytes)} of S3 traffic over "
                                     f"{found.rounds} rounds exceeds the cap of "
                                     f"{caps.max_s3_gb} GiB (SGC_MAX_S3_GB)"))
    return errors


def _gib(size: int) -> str:
    return f"{size / GIB:.3g} GiB" if size >= GIB / 10 else f"{size / MIB:.3g} MiB"
