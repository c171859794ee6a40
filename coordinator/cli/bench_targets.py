"""`sgc bench targets`: the worker's Numba kernels compiled for each CPU target, side by side.

A Lambda worker cannot compile for whatever host it lands on (the bits of its partial gradient
would depend on the host, and decoding needs every worker's to be equal), so the shipped cache
names one CPU (functions/numba_setup.py). This bench times the dispatched kernel of a few models
with Numba built for the generic x86-64 (SSE2, no FMA: the Lambda build before x86-64-v3), for
x86-64-v3 (AVX2 + FMA: the Lambda build now) and for this host, one Numba and one BLAS thread,
OpenBLAS on its Haswell kernels as in Lambda. Each configuration runs in a fresh process with its
own cache, twice, in mirrored order (generic, v3, host, host, v3, generic), and keeps the faster
of its two medians (CPU time), so a drift of the machine's load falls on every target alike.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

from coordinator.cli.options import json_flag

TARGETS = ("generic", "x86-64-v3", "host")
# (label, ModelSpec arguments, rows): partitions where each Numba path runs (the linear kernels,
# the one-layer and the deep fused MLP, the fused CNN), and one CNN on the BLAS path
MODELS = [("logreg 784", ("logreg", 784, 2), 4096),
          ("softmax 784x10", ("softmax", 784, 10), 4096),
          ("mlp 64-32-10", ("mlp", 64, 10, 32), 64),
          ("mlp 64-[32,32]-10 tanh", ("mlp", 64, 10, [32, 32], "tanh"), 64),
          ("cnn digits (16, 32 ch. 3x3)", ("cnn", 64, 10, [], "relu", [1, 8, 8],
                                           [[16, 3], [32, 3]], 2), 128),
          ("cnn lenet (6, 16 ch. 5x5)", ("cnn", 784, 10, [72], "relu", [1, 28, 28],
                                         [[6, 5], [16, 5]], 2), 32),
          ("cnn lenet (6, 16 ch. 5x5)", ("cnn", 784, 10, [72], "relu", [1, 28, 28],
                                         [[6, 5], [16, 5]], 2), 256)]
BUDGET_S = 1.5  # CPU seconds of timed calls per model and process


@click.command()
@click.option("--out", type=click.Path(file_okay=False), default="data/bench", show_default=True,
              help="Folder for targets.md and targets.json.")
@json_flag("Print the JSON rows to stdout.")
def targets(out: str, as_json: bool) -> None:
    """Numba kernels built for the generic x86-64, for x86-64-v3 (Lambda) and for this host."""
    from functions.numba_setup import shipped_cpu

    if shipped_cpu() != "x86-64-v3":
        raise click.ClickException("this bench compares x86-64 targets: run it on an x86-64 host")
    best: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for target in (*TARGETS, *reversed(TARGETS)):
            click.echo(f"timing the kernels built for {target} ...", err=True)
            for label, seconds in _child(target, Path(scratch, target)).items():
                runs = best.setdefault(label, {})
                runs[target] = min(seconds, runs.get(target, float("inf")))
    rows = []
    for label, spec, n in MODELS:
        times = best[f"{label} @{n}"]
        rows.append({"bench": "targets", "model": label, "rows": n, "path": _path(spec, n),
                     **{f"{t}_ms": times[t] * 1e3 for t in TARGETS},
                     "v3_speedup_over_generic": times["generic"] / times["x86-64-v3"],
                     "v3_time_over_host": times["x86-64-v3"] / times["host"]})
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "targets.json").write_text(json.dumps(rows, indent=1) + "\n")
    (folder / "targets.md").write_text(markdown(rows))
    click.echo(json.dumps(rows, indent=1) if as_json else markdown(rows))


def markdown(rows: list[dict]) -> str:
    lines = ["| model | rows | path | generic ms | x86-64-v3 ms | host ms | v3 speed-up over "
             "generic | v3 time / host |", "|---|---:|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['rows']} | {r['path']} | {r['generic_ms']:.2f} | "
                     f"{r['x86-64-v3_ms']:.2f} | {r['host_ms']:.2f} | "
                     f"{r['v3_speedup_over_generic']:.2f} | {r['v3_time_over_host']:.2f} |")
    return "\n".join(lines) + "\n\nProduced by: `sgc bench targets`\n"


def _path(spec: tuple, rows: int) -> str:
    from coordinator.contract.kernel_paths import cnn_path, mlp_path
    from coordinator.contract.models import ModelSpec

    model = ModelSpec(*spec)
    if model.kind == "cnn":
        return cnn_path(model, rows)
    return mlp_path(model, rows) if model.kind == "mlp" else model.kind


def _child(target: str, cache: Path) -> dict[str, float]:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "NUMBA_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_CORETYPE": "Haswell"}
    for name in ("NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES", "AWS_LAMBDA_FUNCTION_NAME"):
        env.pop(name, None)
    if target != "host":
        env.update(NUMBA_CPU_NAME=target, NUMBA_CPU_FEATURES="")
    done = subprocess.run([sys.executable, "-m", "coordinator.cli.bench_targets"], env=env,
                          capture_output=True, text=True)
    if done.returncode:
        raise click.ClickException(f"timing the {target} build failed (exit {done.returncode}): "
                                   + " | ".join(done.stderr.strip().splitlines()[-3:]))
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure() -> dict[str, float]:
    """In the child: median CPU seconds per call of each model's dispatched kernel."""
    import numpy as np

    from coordinator.contract.models import ModelSpec
    from functions import kernels

    rng = np.random.default_rng(0)
    out = {}
    for label, spec, n in MODELS:
        model = ModelSpec(*spec)
        X = rng.random((n, model.n_features), dtype=np.float32)
        y = rng.integers(0, model.n_classes, n).astype(np.int32)
        params = model.init()
        kernels.loss_grad(model, X, y, params, parallel=False)  # compiles (or loads)
        times: list[float] = []
        while sum(times) < BUDGET_S or len(times) < 5:
            start = time.process_time()
            kernels.loss_grad(model, X, y, params, parallel=False)
            times.append(time.process_time() - start)
        out[f"{label} @{n}"] = statistics.median(times)
    return out


if __name__ == "__main__":
    print(json.dumps(measure()))
