"""CNN rows of `sgc bench kernels`: three conv models, each path forced, against a well-written
numpy im2col + sgemm gradient and the model's products alone, with the FMA peak of the same run.

Runs in the child processes of bench_kernels (one Numba and one BLAS thread), for the host build
and the Lambda build (Numba for x86-64-v3, OpenBLAS pinned to Haswell), as bench_deep does for
MLPs:

- ``digits``: the example's model (examples/cnn-digits.yaml) on 1x8x8 images, 16 and 32 channels;
- ``lenet``: LeNet-5's conv blocks (6 and 16 channels of 5x5) on 28x28 images with a 72-unit head,
  59,822 parameters (issue 25's LeNet-sized model);
- ``cifar``: 32x32x3 images, 32 and 64 channels of 3x3, a 128-unit head (545k parameters).

Flops per image: 2 per multiply-add, forward, weight gradient, input gradient of every layer but
the first convolution (``model_budget.cnn_flops_per_row``). A row is convolution-dominated when
the convolutions hold at least ``CONV_DOMINATED`` of its flops. Times are medians of the calling
thread's CPU time over interleaved rounds (bench_deep.race).
"""

from __future__ import annotations

import os
import resource

# name -> (input, conv, hidden, row counts); 10 classes
CNN = {"digits": ([1, 8, 8], [[16, 3], [32, 3]], [], (64, 1024)),
       "lenet": ([1, 28, 28], [[6, 5], [16, 5]], [72], (64, 1024)),
       "cifar": ([3, 32, 32], [[32, 3], [64, 3]], [128], (64, 256))}
N_CLASSES = 10
CONV_DOMINATED = 0.8


def spec_of(name: str):
    from coordinator.contract.models import ModelSpec

    image, conv, hidden, _ = CNN[name]
    return ModelSpec("cnn", image[0] * image[1] * image[2], N_CLASSES, hidden, "relu", image,
                     conv, 2)


def measure_cnn(quick: bool, cpu: str, names: list[str] | None = None) -> list[dict]:
    """One row per (model, rows): the dispatched kernel, each path forced, numpy float32 im2col +
    sgemm, the products alone; plus the run's FMA peak and bare-sgemm roofline. ``names``: the
    models of ``CNN`` to run (all by default)."""
    import numpy as np

    from coordinator.cli import fma_peak
    from coordinator.cli.bench_deep import _blas_core
    from coordinator.cli.bench_numpy_mlp import sgemm_gflops

    machine = {"peak_gflops": fma_peak.measure(0.1 if quick else 0.4)["peak_gflops"],
               "sgemm_gflops": sgemm_gflops(512 if quick else 1024), "blas_core": _blas_core()}
    out = []
    for name in names or CNN:
        spec = spec_of(name)
        rng = np.random.default_rng(0)
        params = (rng.standard_normal(spec.n_params) * 0.1).astype(np.float32)
        for n in CNN[name][3][:1] if quick else CNN[name][3]:
            X = rng.standard_normal((n, spec.n_features)).astype(np.float32)
            y = rng.integers(0, N_CLASSES, n).astype(np.int32)
            out.append({"bench": "cnn", "cpu": cpu, "name": name, **machine,
                        **_row(spec, X, y, params, machine, quick)})
    return out


def _row(spec, X, y, params, machine: dict, quick: bool) -> dict:
    import numpy as np

    from coordinator.cli.bench_deep import race
    from coordinator.cli.bench_numpy_cnn import numpy_cnn, products_inputs, products_only
    from coordinator.contract import gradients as reference
    from coordinator.contract.kernel_paths import cnn_path
    from coordinator.spec.model_budget import cnn_flops_per_row, estimate
    from functions import kernels
    from functions.kernels_cnn import cnn_blas
    from functions.kernels_cnn_fused import cnn_fused

    n = X.shape[0]
    cols, upstream = products_inputs(spec, X)
    load_before = os.getloadavg()[0]
    contenders = {"sgc": lambda: kernels.loss_grad(spec, X, y, params, parallel=False),
                  "numpy": lambda: numpy_cnn(spec, X, y, params),
                  "fused": lambda: cnn_fused(spec, X, y, params),
                  "blas": lambda: cnn_blas(spec, X, y, params),
                  "products": lambda: products_only(spec, X, params, cols, upstream)}
    times, wall, rounds = race(contenders, 0.1 if quick else 2.0, 3 if quick else 7)
    want = np.concatenate(reference.loss_grad(spec, X, y, params), axis=None)
    got = kernels.loss_grad(spec, X, y, params, parallel=False)
    got32 = numpy_cnn(spec, X, y, params)
    flops = cnn_flops_per_row(spec) * n
    conv = 2 * (3 * sum(layer.macs for layer in spec.conv_layers)
                - spec.conv_layers[0].macs) * n
    gflops = flops / times["sgc"] / 1e9
    return {"model": "cnn", "input": list(spec.input), "conv": [list(c) for c in spec.conv],
            "hidden": list(spec.hidden), "n_params": spec.n_params, "rows": n,
            "path": cnn_path(spec, n), "sgc_s": times["sgc"], "fused_s": times["fused"],
            "blas_s": times["blas"], "numpy_s": times["numpy"], "products_s": times["products"],
            "rounds": rounds, "clock": "thread CPU time",
            "wall_s": {name: wall[name] for name in ("sgc", "numpy", "products")},
            "speedup_vs_numpy": times["numpy"] / times["sgc"], "conv_share": conv / flops,
            "gflops": gflops, "peak_fraction": gflops / machine["peak_gflops"],
            "roofline_fraction": gflops / machine["sgemm_gflops"],
            "numpy_gflops": flops / times["numpy"] / 1e9,
            "max_rel_err": float(np.abs(got - want).max() / np.abs(want).max()),
            "numpy32_max_rel_err": float(np.abs(got32 - want).max() / np.abs(want).max()),
            "estimate_memory_mb": estimate(spec, n)["memory_mb"],
            "load_1m": [load_before, os.getloadavg()[0]],
            "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def markdown(results: list[dict]) -> str:
    rows = [r for r in results if r["bench"] == "cnn"]
    memory = [r for r in results if r["bench"] == "cnn_worker_memory"]
    if not rows and not memory:
        return ""

    def ms(value):
        return "-" if value is None else f"{value * 1e3:.2f}"

    lines = ["", "| Numba CPU | model | input | conv | hidden | params | rows | path | sgc ms "
             "| fused ms | BLAS-path ms | numpy ms | products ms | numpy/sgc | GFLOP/s "
             "| % of peak | conv share | max rel err (numpy f32) | est. MB |",
             "|---|---|---|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:"
             "|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['cpu']} | {r['name']} | {'x'.join(map(str, r['input']))} | "
                     f"{r['conv']} | {r['hidden']} | {r['n_params']:,} | {r['rows']} | "
                     f"{r['path']} | {ms(r['sgc_s'])} | {ms(r['fused_s'])} | {ms(r['blas_s'])} | "
                     f"{ms(r['numpy_s'])} | {ms(r['products_s'])} | "
                     f"{r['speedup_vs_numpy']:.2f} | {r['gflops']:.1f} | "
                     f"{100 * r['peak_fraction']:.0f}% | {100 * r['conv_share']:.0f}% | "
                     f"{r['max_rel_err']:.1e} ({r['numpy32_max_rel_err']:.1e}) | "
                     f"{r['estimate_memory_mb']:.0f} |")
    if rows:
        lines.append("\nTimes: medians of the calling thread's CPU time over interleaved rounds "
                     "(coordinator/cli/bench_deep.py `race`); numpy: coordinator/cli/"
                     "bench_numpy_cnn.py (im2col + sgemm, all rows at once).")
        for cpu in dict.fromkeys(r["cpu"] for r in rows):
            lines += _run_summary(cpu, [r for r in rows if r["cpu"] == cpu])
    for r in memory:
        lines.append(f"- worker memory, {r['name']} ({r['n_params']:,} parameters) on "
                     f"{r['rows']} images: {r['runtime_mb']:.0f} MB runtime + "
                     f"{r['task_mb']:.0f} MB task = {r['runtime_mb'] + r['task_mb']:.0f} MB "
                     f"measured (estimate {r['estimate_mb']:.0f} MB), default worker "
                     f"{r['worker_memory_mb']} MB.")
    return "\n".join(lines) + "\n"


def _run_summary(cpu: str, mine: list[dict]) -> list[str]:
    loads = [x for r in mine for x in r["load_1m"]]
    ratios = [r["speedup_vs_numpy"] for r in mine]
    conv = [r for r in mine if r["conv_share"] >= CONV_DOMINATED]
    out = [f"- {cpu} run: float32 FMA peak {mine[0]['peak_gflops']:.1f} GFLOP/s; bare sgemm "
           f"{mine[0]['sgemm_gflops']:.1f} GFLOP/s (OpenBLAS {mine[0]['blas_core']} kernels); "
           f"load average (1 min) {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores.",
           f"  - at least as fast as numpy: {sum(x >= 1 for x in ratios)} of {len(ratios)} rows "
           f"(numpy/sgc {min(ratios):.2f}-{max(ratios):.2f})."]
    if conv:
        met = ", ".join(f"{r['name']} x {r['rows']}" for r in conv if r["peak_fraction"] >= 0.4)
        out.append(f"  - convolution-dominated rows (convolutions >= {CONV_DOMINATED:.0%} of "
                   f"the flops): {len(conv)}, at {min(r['peak_fraction'] for r in conv):.0%}-"
                   f"{max(r['peak_fraction'] for r in conv):.0%} of peak; at >= 40%: "
                   f"{met or 'none'}.")
    return out


def measure_memory() -> list[dict]:
    """The LeNet-sized model's worker memory on one 1,024-image partition, in a fresh process
    (coordinator/cli/worker_memory.py), against the default worker's memory."""
    import json
    import subprocess
    import sys

    from coordinator.spec.model_budget import estimate
    from coordinator.workflow import resources

    spec = spec_of("lenet")
    model = {"kind": "cnn", "input": list(spec.input), "conv": [list(c) for c in spec.conv],
             "hidden": list(spec.hidden)}
    done = subprocess.run([sys.executable, "-m", "coordinator.cli.worker_memory",
                           json.dumps(model), "1024", "1"], capture_output=True, text=True,
                          check=True)
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    return [{"bench": "cnn_worker_memory", "name": "lenet", **measured,
             "estimate_mb": estimate(spec, 1024)["memory_mb"],
             "worker_memory_mb": resources.WORKER_MEMORY_MB}]
