"""`sgc bench targets`: the worker's Numba kernels compiled for each CPU target, side by side.

A Lambda worker cannot compile for whatever host it lands on (the bits of its partial gradient
would depend on the host, and decoding needs every worker's to be equal), so the shipped cache
names one CPU (functions/numba_setup.py). This bench times the dispatched kernel of a few models
with Numba built for the generic x86-64 (SSE2, no FMA: the Lambda build before x86-64-v3), for
x86-64-v3 (AVX2 + FMA: the Lambda build now) and for this host, one Numba and one BLAS thread,
OpenBLAS on its Haswell kernels as in Lambda. Each configuration runs in a fresh process with its
own cache, twice, in mirrored order (generic, v3, host, host, v3, generic), and keeps the faster
of its two medians (CPU time), so a drift of the machine's load falls on every target alike.
A second table is the CNN path rule's evidence (``kernel_paths.cnn_path``): both CNN paths forced
call by call on the x86-64-v3 build, seven models, 1 to 512 images, and whether the rule picks the
faster one.
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
          ("cnn cifar (32, 64 ch. 3x3)", ("cnn", 3072, 10, [128], "relu", [3, 32, 32],
                                         [[32, 3], [64, 3]], 2), 16)]
BUDGET_S = 1.5  # CPU seconds of timed calls per model and process
# The CNN path rule's evidence (coordinator/contract/kernel_paths.py: cnn_path): both paths
# forced on the x86-64-v3 build, (label, input, conv, hidden) at each of PATH_ROWS images.
CNN_MODELS = [("8x8, 16/32 ch. 3x3", [1, 8, 8], [[16, 3], [32, 3]], []),
              ("8x8, 64/128 ch. 3x3", [1, 8, 8], [[64, 3], [128, 3]], []),
              ("28x28, 16/32 ch. 3x3", [1, 28, 28], [[16, 3], [32, 3]], []),
              ("28x28, 6/16 ch. 5x5 (LeNet)", [1, 28, 28], [[6, 5], [16, 5]], [72]),
              ("32x32x3, 8/16 ch. 3x3", [3, 32, 32], [[8, 3], [16, 3]], []),
              ("32x32x3, 16/32 ch. 3x3", [3, 32, 32], [[16, 3], [32, 3]], []),
              ("32x32x3, 32/64 ch. 3x3", [3, 32, 32], [[32, 3], [64, 3]], [128])]
PATH_ROWS = (1, 4, 16, 128, 512)
PATH_BUDGET_S = 0.4  # CPU seconds per path and measurement


@click.command()
@click.option("--out", type=click.Path(file_okay=False), default="data/bench", show_default=True,
              help="Folder for targets.md and targets.json.")
@json_flag("Print the JSON rows to stdout.")
def targets(out: str, as_json: bool) -> None:
    """Numba kernels built for the generic x86-64, for x86-64-v3 (Lambda) and for this host.

    Also times both CNN paths forced on the x86-64-v3 build (the path rule's evidence). Compiles
    the kernels three times: about 6 minutes on 2 cores. x86-64 hosts only."""
    from functions.numba_setup import check_host_cpu, shipped_cpu

    if shipped_cpu() != "x86-64-v3":
        raise click.ClickException("this bench compares x86-64 targets: run it on an x86-64 host")
    try:
        check_host_cpu("x86-64-v3")
    except RuntimeError as error:
        raise click.ClickException(str(error)) from None
    best: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for target in (*TARGETS, *reversed(TARGETS)):
            click.echo(f"timing the kernels built for {target} ...", err=True)
            for label, seconds in _child(target, Path(scratch, target)).items():
                runs = best.setdefault(label, {})
                runs[target] = min(seconds, runs.get(target, float("inf")))
        click.echo("timing both CNN paths on the x86-64-v3 build ...", err=True)
        paths = _child("x86-64-v3", Path(scratch, "x86-64-v3"), "paths")
    rows = []
    for label, spec, n in MODELS:
        times = best[f"{label} @{n}"]
        rows.append({"bench": "targets", "model": label, "rows": n, "path": _path(spec, n),
                     **{f"{t}_ms": times[t] * 1e3 for t in TARGETS},
                     "v3_speedup_over_generic": times["generic"] / times["x86-64-v3"],
                     "v3_time_over_host": times["x86-64-v3"] / times["host"]})
    rows += paths
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "targets.json").write_text(json.dumps(rows, indent=1) + "\n")
    (folder / "targets.md").write_text(markdown(rows))
    click.echo(json.dumps(rows, indent=1) if as_json else markdown(rows))


def markdown(rows: list[dict]) -> str:
    lines = ["| model | rows | path | generic ms | x86-64-v3 ms | host ms | v3 speed-up over "
             "generic | v3 time / host |", "|---|---:|---|---:|---:|---:|---:|---:|"]
    for r in (r for r in rows if r["bench"] == "targets"):
        lines.append(f"| {r['model']} | {r['rows']} | {r['path']} | {r['generic_ms']:.2f} | "
                     f"{r['x86-64-v3_ms']:.2f} | {r['host_ms']:.2f} | "
                     f"{r['v3_speedup_over_generic']:.2f} | {r['v3_time_over_host']:.2f} |")
    paths = [r for r in rows if r["bench"] == "cnn_paths"]
    if paths:
        lines += ["", "Both CNN paths forced on the x86-64-v3 build (the rule's evidence):", "",
                  "| model | images | multiply-adds | fused ms | BLAS ms | fused / BLAS | rule | "
                  "rule's pick faster |", "|---|---:|---:|---:|---:|---:|---|---|"]
        for r in paths:
            lines.append(f"| {r['model']} | {r['rows']} | {r['macs']:.2e} | {r['fused_ms']:.2f}"
                         f" | {r['blas_ms']:.2f} | {r['fused_over_blas']:.2f} | {r['path']} | "
                         f"{'yes' if r['rule_is_faster'] else 'no'} |")
    return "\n".join(lines) + "\n\nProduced by: `sgc bench targets`\n"


def _path(spec: tuple, rows: int) -> str:
    from coordinator.contract.kernel_paths import cnn_path, mlp_path
    from coordinator.contract.models import ModelSpec

    model = ModelSpec(*spec)
    if model.kind == "cnn":
        return cnn_path(model, rows)
    return mlp_path(model, rows) if model.kind == "mlp" else model.kind


def _child(target: str, cache: Path, what: str = "kernels"):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "NUMBA_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_CORETYPE": "Haswell"}
    for name in ("NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES", "AWS_LAMBDA_FUNCTION_NAME"):
        env.pop(name, None)
    if target != "host":
        env.update(NUMBA_CPU_NAME=target, NUMBA_CPU_FEATURES="")
    done = subprocess.run([sys.executable, "-m", "coordinator.cli.bench_targets", what],
                          env=env, capture_output=True, text=True)
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


def measure_paths() -> list[dict]:
    """In the child: median CPU seconds of each CNN path forced, interleaved call by call."""
    import numpy as np

    from coordinator.contract.kernel_paths import cnn_macs, cnn_path
    from coordinator.contract.models import ModelSpec
    from functions.kernels_cnn import cnn_blas
    from functions.kernels_cnn_fused import cnn_fused

    rng = np.random.default_rng(0)
    out = []
    for label, image, conv, hidden in CNN_MODELS:
        spec = ModelSpec("cnn", int(np.prod(image)), 10, hidden, "relu", image, conv, 2)
        for n in PATH_ROWS:
            X = rng.random((n, spec.n_features), dtype=np.float32)
            y = rng.integers(0, 10, n).astype(np.int32)
            params = spec.init()
            times: dict[str, list[float]] = {"fused": [], "blas": []}
            for path in (cnn_fused, cnn_blas):
                path(spec, X, y, params)  # compiles (or loads), warms the caches
            while sum(times["fused"]) + sum(times["blas"]) < 2 * PATH_BUDGET_S \
                    or len(times["fused"]) < 5:
                for name, path in (("fused", cnn_fused), ("blas", cnn_blas)):
                    start = time.process_time()
                    path(spec, X, y, params)
                    times[name].append(time.process_time() - start)
            fused, blas = (statistics.median(times[k]) for k in ("fused", "blas"))
            rule = cnn_path(spec, n)
            out.append({"bench": "cnn_paths", "model": label, "rows": n,
                        "macs": n * cnn_macs(spec), "fused_ms": fused * 1e3,
                        "blas_ms": blas * 1e3, "fused_over_blas": fused / blas, "path": rule,
                        "rule_is_faster": (fused <= blas) == (rule == "fused")})
    return out


if __name__ == "__main__":
    print(json.dumps(measure_paths() if sys.argv[1:] == ["paths"] else measure()))
