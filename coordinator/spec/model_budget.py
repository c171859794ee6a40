"""What one worker needs to run a model on its rows: memory (bytes) and compute time (seconds).

Submit checks the memory against the worker's configured size (``fit_errors``), so a spec whose
workers would be killed for memory fails before any Lambda runs, naming the model field. The
numbers follow the worker's allocations (functions/worker.py and the kernels), per task:

- runtime (``RUNTIME_MB``): measured by ``python -m coordinator.cli.worker_memory``: 296 MB
  resident after ``import functions.worker`` (numpy, pyarrow, boto3, every kernel loaded from the
  Numba cache) and the S3/DynamoDB clients, plus ~14 MB that the first invocation adds whatever
  the model (pyarrow's memory pool and threads, first-call allocations): 310 MB, rounded up;
- JIT (``JIT_MB``): a worker that cannot load the shipped cache compiles every kernel in process,
  and LLVM's memory stays resident (measured 521 MB after import instead of 277). The fit check
  counts it, so a spec still fits in that worst case; ``estimate`` reports both;
- parameters: the .npy body, the array, its checked copy (3 x 4P bytes);
- result: the kernel's float64 vector, the coded sum, the coefficient product, then the .npy
  buffer and its bytes while the coded sum is alive (4 x 8P);
- kernel scratch, by path (coordinator.contract.kernel_paths.mlp_path): the BLAS path keeps one row
  block of activations, two gradient buffers and one float32 layer gradient; the Numba paths keep
  per thread a float64 and a float32 gradient, the packed weights, and a float64 partial per thread
  (deep) or per block (mlp1);
- data: each row's features and label, three times (Parquet bytes, Arrow table, numpy arrays);
- a cnn's kernel scratch by path (``cnn_scratch_bytes``): the BLAS path keeps one sub-block's
  im2col matrix, conv output and input-gradient matrix and a head block's pooled outputs (with
  their int8 argmax) and dense activations; the fused path one sub-block's im2col matrices of
  every layer (and their gradients), outputs and head buffers.

Measured against this (``tests/functions/test_worker_memory.py``, the same tool): a 536k-parameter
MLP on 2,048 rows of 784 features, 293-348 MB measured (the low end in a full test run), 400 MB
estimated; 1.9M parameters on 8,192 rows, 405 MB measured, 522 MB estimated: an upper bound,
within 40% of the measured peak.
A LeNet-sized cnn (59,822 parameters: 6 and 16 channels of 5x5 on 28x28 images, a 72-unit head)
on one 1,024-image partition, now on the fused path (``kernel_paths.cnn_path``): 248 MB runtime +
36 MB task = 284 MB measured, 363 MB estimated (613 MB with the JIT allowance; on the BLAS path
it took: 307 MB measured, 385 MB estimated), far within the default 1,769 MB worker.
(The peak RSS of the test process that first compiles the kernels is not the worker's: it adds
JIT_MB. Measured with moto instead of the stand-in S3, a worker holds about 3 more copies of
each result: moto keeps request bodies and objects in the worker's process, a real S3 does not.)

Time: 6 flops per weight per row (forward 2, backward 4; a cnn's ``cnn_flops_per_row``) at
``GFLOPS`` per path, a rate measured by `sgc bench kernels` on one core (docs/benchmarks.md,
"Kernels"); an estimate, not a promise. The fit check refuses a spec whose models' estimated
compute per invocation exceeds the worker's timeout as well as its memory.
"""

from __future__ import annotations

import math
from typing import Any

from coordinator.contract.kernel_paths import (
    cnn_head_rows,
    cnn_path,
    cnn_sub_rows,
    mlp_path,
    weights,
)
from coordinator.contract.models import KERNEL_BLOCK_ROWS as BLOCK_ROWS
from coordinator.contract.models import ModelSpec
from coordinator.spec.budget import BUILTIN_SHAPES, dataset_shape
from coordinator.spec.cnn_fields import to_model_spec

KNOWN_SHAPES = (*BUILTIN_SHAPES, "synthetic")  # known before any file is read

RUNTIME_MB = 350
JIT_MB = 250
MB = 1024 * 1024
# Sustained single-core GFLOP/s per path (float32 FMA), conservative round numbers below the
# measured rates of data/bench/kernels.md, and a Lambda vCPU is no faster than that core.
GFLOPS = {"blas": 40.0, "deep": 8.0, "mlp1": 8.0, "linear": 4.0, "cnn-blas": 15.0,
          "cnn-fused": 8.0}


def kernel_path(spec: ModelSpec, rows: int) -> str:
    if spec.kind == "cnn":
        return f"cnn-{cnn_path(spec, rows)}"
    return mlp_path(spec, rows) if spec.kind == "mlp" else "linear"


def memory_bytes(spec: ModelSpec, rows: int, threads: int = 2) -> int:
    """Peak bytes one worker task needs beyond the runtime (see the module docstring)."""
    P = spec.n_params
    path = kernel_path(spec, rows)
    if spec.kind == "cnn":
        scratch = cnn_scratch_bytes(spec, rows)
    elif path == "blas":
        block = min(rows, BLOCK_ROWS)
        scratch = block * (sum(spec.widths[1:]) + 2 * max(spec.widths[1:])) * 4 + 4 * max(
            fan_in * width for fan_in, width in zip(spec.widths[:-1], spec.widths[1:],
                                                     strict=True))
    elif path == "mlp1":
        blocks = max(1, math.ceil(rows / BLOCK_ROWS))
        scratch = blocks * 8 * P + threads * 12 * P + 4 * P
    else:
        scratch = threads * (8 + 4 + 8) * P + 4 * P
    data = rows * (spec.n_features + 1) * 4 * 3
    return 3 * 4 * P + 4 * 8 * P + scratch + data


def cnn_scratch_bytes(spec: ModelSpec, rows: int) -> int:
    """The CNN kernels' buffers for ``rows`` images, by path (functions/kernels_cnn.py,
    kernels_cnn_fused.py): im2col matrices, conv outputs, pooled outputs with their int8 argmax
    and gradients, the head's activations and gradients, transposed weights."""
    layers, widths = spec.conv_layers, spec.widths
    pooled = sum(layer.c_out * layer.pooled_height * layer.pooled_width for layer in layers)
    dense = sum(a * b for a, b in zip(widths[:-1], widths[1:], strict=True))
    if cnn_path(spec, rows) == "blas":
        sub, head = min(rows, cnn_sub_rows(spec, "blas")), min(rows, cnn_head_rows(spec))
        per_image = (max(layer.taps * layer.positions for layer in layers)
                     + max(layer.c_out * layer.positions for layer in layers)
                     + max([layer.taps * layer.positions for layer in layers[1:]], default=1)
                     + pooled)
        largest = max(dense, *(layer.c_out * layer.taps for layer in layers))
        return 4 * (sub * per_image + head * (sum(widths) + 2 * max(widths)) + largest) \
            + 5 * head * pooled
    n = min(rows, cnn_sub_rows(spec, "fused"))
    columns = sum(layer.taps * layer.positions for layer in layers)
    widest = max(max(layer.c_out * layer.positions, layer.c_out * layer.taps) for layer in layers)
    return 4 * n * (2 * columns + 3 * widest + sum(widths) + 2 * max(widths)) + 9 * n * pooled \
        + 4 * (spec.n_params + dense)


def cnn_flops_per_row(spec: ModelSpec) -> int:
    """Float operations of one image's gradient under a cnn: 2 per multiply-add, forward, weight
    gradient and input gradient (every layer's but the first convolution's)."""
    conv = sum(layer.macs for layer in spec.conv_layers)
    return 2 * (3 * conv - spec.conv_layers[0].macs + 3 * weights(spec))


def seconds(spec: ModelSpec, rows: int) -> float:
    """Estimated single-core compute time of one gradient over ``rows`` rows."""
    if spec.kind == "cnn":
        return cnn_flops_per_row(spec) * rows / (GFLOPS[kernel_path(spec, rows)] * 1e9)
    return 6 * weights(spec) * rows / (GFLOPS[kernel_path(spec, rows)] * 1e9)


def estimate(spec: ModelSpec, rows: int) -> dict[str, Any]:
    """Memory (MB, with the runtime) and time of one worker task; for `sgc` output and docs."""
    task_mb = memory_bytes(spec, rows) / MB
    return {"n_params": spec.n_params, "rows": rows, "path": kernel_path(spec, rows),
            "memory_mb": round(RUNTIME_MB + task_mb, 1),
            "memory_mb_compiling": round(RUNTIME_MB + JIT_MB + task_mb, 1),
            "compute_s": seconds(spec, rows)}


def fit_errors(models: list[tuple[str, ModelSpec]], rows: int, memory_mb: int,
               timeout_s: float | None = None) -> list[tuple[str, str]]:
    """(field, message) for each model that alone, or with the others, cannot fit a worker of
    ``memory_mb`` working on ``rows`` rows, or (with ``timeout_s``) whose estimated compute time
    exceeds the worker's timeout. ``models`` pairs each spec with its field name. All models
    count together: one invocation can carry a task of every model at once."""
    errors = []
    runtime = (RUNTIME_MB + JIT_MB) * MB  # the worst case: kernels compiled in the worker
    total, total_s = runtime, 0.0
    for field, spec in models:
        need, compute_s = memory_bytes(spec, rows), seconds(spec, rows)
        total, total_s = total + need, total_s + compute_s
        hint = ("use fewer channels or conv blocks, or more workers" if spec.kind == "cnn"
                else "use fewer or narrower hidden layers")
        if runtime + need > memory_mb * MB:
            errors.append((field, f"needs about {(runtime + need) / MB:.0f} MB on a worker "
                                  f"({spec.n_params:,} parameters, {rows} rows), more than the "
                                  f"worker's {memory_mb} MB; {hint}"))
        elif timeout_s is not None and compute_s > timeout_s:
            errors.append((field, f"needs about {compute_s:.0f} s of compute on a worker "
                                  f"({rows} rows at {GFLOPS[kernel_path(spec, rows)]:g} GFLOP/s),"
                                  f" more than the worker's {timeout_s:g} s timeout; {hint}"))
    if not errors and total > memory_mb * MB:
        errors.append((models[-1][0], f"all models together need about {total / MB:.0f} MB on "
                                      f"a worker with {rows} rows, more than its {memory_mb} MB"))
    elif not errors and timeout_s is not None and total_s > timeout_s:
        errors.append((models[-1][0], f"all models together need about {total_s:.0f} s of "
                                      f"compute on a worker with {rows} rows, more than its "
                                      f"{timeout_s:g} s timeout"))
    return errors


def mlp_fields(model: dict, where: str, fail) -> dict[str, Any]:
    """A job spec mlp's ``hidden`` (int or list of widths, default 32) and ``activation``
    (default relu), normalized; problems go to ``fail(field, message)``."""
    from coordinator.contract.errors import EventError
    from coordinator.contract.models import ACTIVATIONS, hidden_widths

    out: dict[str, Any] = {"hidden": None, "activation": model.get("activation", "relu")}
    try:
        widths = hidden_widths(model.get("hidden", 32), f"{where}.hidden")
        out["hidden"] = widths[0] if isinstance(model.get("hidden", 32), int) else list(widths)
    except EventError as error:
        fail(error.field, str(error).split(": ", 1)[1])
    if out["activation"] not in ACTIVATIONS:
        from coordinator.spec.speccheck import did_you_mean

        fail(f"{where}.activation", f"must be one of {list(ACTIVATIONS)}, got "
                                    f"{out['activation']!r}"
                                    f"{did_you_mean(out['activation'], ACTIVATIONS)}")
    return out


def worker_fit_errors(raw: dict, make_scheme) -> list[tuple[str, str]]:
    """Memory check of a validated job spec's models on one worker (rows = the scheme's load x
    the dataset's rows); empty while the dataset's shape is not known (a dataset.path before
    submit reads it)."""
    from coordinator.workflow import resources

    shape = dataset_shape(raw["dataset"])  # a dataset.path's once submit has read it
    if shape is None:
        return []
    rows, features, classes = shape
    params = {k: v for k, v in raw["scheme"].items() if k != "name"}
    load = make_scheme(raw["scheme"]["name"], n=raw["workers"], **params).load
    worker_rows = min(rows, math.ceil(load * rows) + 1)
    specs = []
    for i, model in enumerate(raw["models"]):
        if model["kind"] == "mlp":
            specs.append((f"models[{i}].hidden", ModelSpec(
                "mlp", features, classes, model["hidden"], model["activation"])))
        elif model["kind"] == "cnn":
            specs.append((f"models[{i}].conv", to_model_spec(model, features, classes)))
    return fit_errors(specs, worker_rows, resources.WORKER_MEMORY_MB,
                      resources.WORKER_TIMEOUT_S) if specs else []
