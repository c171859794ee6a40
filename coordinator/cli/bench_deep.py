"""Deep-MLP rows of `sgc bench kernels`: achieved GFLOP/s against the measured FMA peak, and the
kernel against numpy/BLAS, both paths forced, all in the same run.

Runs in a child process with one Numba and one BLAS thread (see bench_kernels), twice: with
Numba compiled for this host's CPU and OpenBLAS's own kernel choice, and as a Lambda worker runs:
Numba for the CPU the shipped cache is built for (x86-64-v3, no feature of this host added:
``NUMBA_CPU_NAME``, ``NUMBA_CPU_FEATURES``) and OpenBLAS pinned to its Haswell (AVX2 + FMA)
kernels (``OPENBLAS_CORETYPE``, functions/numba_setup).

Baselines, timed in the same interleaved rounds (coordinator/cli/bench_numpy_mlp.py): a
well-written float32 numpy gradient, and the model's matrix products alone. The run also measures
the float32 FMA peak (coordinator/cli/fma_peak.py) and a bare 1024^3 sgemm, so every row reads
against both the core's peak and what BLAS itself reaches on it. Times are medians; the load
average is recorded beside them (the machine may be shared).

Flops per row: 2 per weight forward, 2 per weight for the weight gradient, 2 per weight for the
input gradient of every layer but the first (counted exactly, biases and activations excluded).
"""

from __future__ import annotations

import os
import resource
import statistics
import time

# (n_features, hidden widths, rows per partition): 3.5e3 to 2.9e6 parameters, 10 classes.
# 64 rows ~ a 16k-row dataset over 256 workers; 1024 rows = one row block; 4096 rows of 784
# features (MNIST-shaped, 12.8 MB) for the largest model.
DEEP = [(64, (32, 32), (64, 1024)), (64, (256,), (64, 1024)), (64, (256, 256), (64, 1024)),
        (64, (512, 512), (1024,)), (64, (1024, 1024), (64, 1024)),
        (784, (1024, 1024, 1024), (1024, 4096))]
N_CLASSES = 10
# Forced runs of the slower path are skipped (None) when one call would take longer than this.
MAX_CALL_S = 1.5
ALWAYS = ("sgc", "numpy", "products")


def flops_per_row(widths: tuple[int, ...]) -> int:
    weights = [a * b for a, b in zip(widths[:-1], widths[1:], strict=True)]
    return 4 * sum(weights) + 2 * (sum(weights) - weights[0])


def measure_deep(quick: bool, cpu: str) -> list[dict]:
    """One row per (model, rows): the dispatched kernel, each path forced, numpy float32, the
    products alone; plus the run's FMA peak, bare-sgemm roofline and load."""
    import numpy as np

    from coordinator.cli import fma_peak
    from coordinator.cli.bench_numpy_mlp import sgemm_gflops
    from coordinator.contract.models import ModelSpec

    machine = {"peak_gflops": fma_peak.measure(0.1 if quick else 0.4)["peak_gflops"],
               "sgemm_gflops": sgemm_gflops(512 if quick else 1024), "blas_core": _blas_core()}
    rng = np.random.default_rng(0)
    out = []
    for d, hidden, row_counts in DEEP[:3] if quick else DEEP:
        spec = ModelSpec("mlp", d, N_CLASSES, list(hidden))
        params = (rng.standard_normal(spec.n_params) * np.sqrt(1 / max(hidden))).astype(
            np.float32)
        for n in row_counts:
            X = rng.standard_normal((n, d)).astype(np.float32)
            y = rng.integers(0, N_CLASSES, n).astype(np.int32)
            out.append({"bench": "deep_mlp", "cpu": cpu, **machine,
                        **_row(spec, X, y, params, machine, quick)})
    return out


def _blas_core() -> str:
    """The kernel family numpy's OpenBLAS runs (``OPENBLAS_CORETYPE`` or its own detection)."""
    from threadpoolctl import threadpool_info

    return ", ".join(sorted({str(i.get("architecture")) for i in threadpool_info()
                             if i.get("internal_api") == "openblas"})) or "?"


def _row(spec, X, y, params, machine: dict, quick: bool) -> dict:
    import numpy as np

    from coordinator.cli.bench_numpy_mlp import numpy_mlp, products_only
    from coordinator.contract import gradients as reference
    from coordinator.contract.kernel_paths import mlp_path
    from coordinator.spec.model_budget import estimate
    from functions import kernels
    from functions.kernels_blas import deep_blas
    from functions.kernels_deep import deep_serial

    n = X.shape[0]
    widths = np.array(spec.widths, dtype=np.int64)
    upstream = np.random.default_rng(1).standard_normal((n, max(spec.widths[1:])),
                                                        dtype=np.float32)
    load_before = os.getloadavg()[0]
    contenders = {"sgc": lambda: kernels.loss_grad(spec, X, y, params, parallel=False),
                  "numpy": lambda: numpy_mlp(spec, X, y, params),
                  "numba": lambda: deep_serial(X, y, params, widths, 0),
                  "blas": lambda: deep_blas(X, y, params, spec.widths, 0),
                  "products": lambda: products_only(spec, X, params, upstream)}
    times, wall, rounds = race(contenders, 0.1 if quick else 2.0, 3 if quick else 9)
    want = np.concatenate(reference.loss_grad(spec, X, y, params), axis=None)
    got = kernels.loss_grad(spec, X, y, params, parallel=False)
    got32 = numpy_mlp(spec, X, y, params)
    flops = flops_per_row(spec.widths) * n
    gflops = flops / times["sgc"] / 1e9
    return {"model": "mlp", "n_features": spec.n_features, "hidden": list(spec.hidden),
            "n_classes": spec.n_classes, "n_params": spec.n_params, "rows": n,
            "path": mlp_path(spec, n), "sgc_s": times["sgc"], "numba_s": times["numba"],
            "blas_s": times["blas"], "numpy_s": times["numpy"],
            "products_s": times["products"], "rounds": rounds, "clock": "thread CPU time",
            "wall_s": {name: wall[name] for name in ("sgc", "numpy", "products")},
            "speedup_vs_numpy": times["numpy"] / times["sgc"],
            "gflops": gflops, "peak_fraction": gflops / machine["peak_gflops"],
            "roofline_fraction": gflops / machine["sgemm_gflops"],
            "products_peak_fraction": flops / times["products"] / 1e9 / machine["peak_gflops"],
            "numpy_gflops": flops / times["numpy"] / 1e9,
            "max_rel_err": float(np.abs(got - want).max() / np.abs(want).max()),
            "numpy32_max_rel_err": float(np.abs(got32 - want).max() / np.abs(want).max()),
            "estimate_memory_mb": estimate(spec, n)["memory_mb"],
            "load_1m": [load_before, os.getloadavg()[0]],
            "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


# A row is product-bound when the model's matrix products alone take this share of its time.
PRODUCT_BOUND = 0.8


def markdown(results: list[dict]) -> str:
    rows = [r for r in results if r["bench"] == "deep_mlp"]
    if not rows:
        return ""

    def ms(value):
        return "-" if value is None else f"{value * 1e3:.2f}"

    lines = ["", "| Numba CPU | d | hidden | params | rows | path | sgc ms | Numba-fused ms "
             "| BLAS-path ms | numpy ms | products ms | numpy/sgc | products/sgc | GFLOP/s "
             "| % of peak | % of sgemm | max rel err (numpy f32) | est. MB |",
             "|---|---:|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:"
             "|---:|"]
    for r in rows:
        lines.append(f"| {r['cpu']} | {r['n_features']} | {r['hidden']} | {r['n_params']:,} | "
                     f"{r['rows']} | {r['path']} | {ms(r['sgc_s'])} | {ms(r['numba_s'])} | "
                     f"{ms(r['blas_s'])} | {ms(r['numpy_s'])} | {ms(r['products_s'])} | "
                     f"{r['speedup_vs_numpy']:.2f} | {r['products_s'] / r['sgc_s']:.2f} | "
                     f"{r['gflops']:.1f} | "
                     f"{100 * r['peak_fraction']:.0f}% | {100 * r['roofline_fraction']:.0f}% | "
                     f"{r['max_rel_err']:.1e} ({r['numpy32_max_rel_err']:.1e}) | "
                     f"{r['estimate_memory_mb']:.0f} |")
    lines.append("\nTimes: medians of the calling thread's CPU time over interleaved rounds "
                 "(coordinator/cli/bench_deep.py `race`).")
    for cpu in dict.fromkeys(r["cpu"] for r in rows):
        lines += _run_summary(cpu, [r for r in rows if r["cpu"] == cpu])
    lines.append(f"- child peak RSS {max(r['max_rss_mb'] for r in rows):.0f} MB.")
    return "\n".join(lines) + "\n"


def _run_summary(cpu: str, mine: list[dict]) -> list[str]:
    """The machine's numbers and the two speed targets, for one run."""
    loads = [x for r in mine for x in r["load_1m"]]
    bound = [r for r in mine if r["products_s"] / r["sgc_s"] >= PRODUCT_BOUND]
    ratios = [r["speedup_vs_numpy"] for r in mine]
    out = [f"- {cpu} run: float32 FMA peak {mine[0]['peak_gflops']:.1f} GFLOP/s (LLVM IR "
           f"microkernel, coordinator/cli/fma_peak.py); bare sgemm 1024x1024x1024 "
           f"{mine[0]['sgemm_gflops']:.1f} GFLOP/s "
           f"({100 * mine[0]['sgemm_gflops'] / mine[0]['peak_gflops']:.0f}% of peak, OpenBLAS "
           f"{mine[0]['blas_core']} kernels, one thread); load average (1 min) "
           f"{min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores; "
           f"{min(r['rounds'] for r in mine)}-{max(r['rounds'] for r in mine)} rounds per row.",
           f"  - at least as fast as numpy: {sum(x >= 1 for x in ratios)} of {len(ratios)} rows "
           f"(numpy/sgc {min(ratios):.2f}-{max(ratios):.2f})."]
    if bound:
        fractions = [r["peak_fraction"] for r in bound]
        out.append(f"  - product-bound rows (products alone >= {PRODUCT_BOUND:.0%} of the "
                   f"time): {len(bound)}, at {min(fractions):.0%}-{max(fractions):.0%} of peak.")
    return out


def race(functions: dict, budget_s: float, min_rounds: int) -> tuple[dict, dict, int]:
    """Median per-call CPU seconds and wall seconds of each function over interleaved rounds,
    and the number of rounds.

    CPU time of the calling thread (``time.thread_time``): every timed function runs on it (one
    BLAS thread, serial Numba), and on a shared machine its CPU time leaves out the time the
    scheduler gave to other processes, which wall time counts at random (measured: a bare sgemm
    at load ~9 on 2 cores, 42 GFLOP/s by wall-clock median, 97 by CPU time, 96-98 over 15 runs).
    Each round calls every function once, in an order rotated round by round, so none always
    runs in the wake of the same other. A function whose single call exceeds ``MAX_CALL_S`` (a
    forced slow path) is None, but those in ``ALWAYS`` run. Fast functions run in batches of at
    least ~2 ms per sample."""
    once = {}
    for name, function in functions.items():
        start = time.thread_time()
        function()
        once[name] = max(time.thread_time() - start, 1e-7)
    live = [name for name in functions if name in ALWAYS or once[name] <= MAX_CALL_S]
    calls = {name: max(1, int(0.002 / once[name])) for name in live}
    cpu: dict[str, list[float]] = {name: [] for name in live}
    wall: dict[str, list[float]] = {name: [] for name in live}
    deadline = time.perf_counter() + budget_s
    rounds = 0
    while rounds < min_rounds or (time.perf_counter() < deadline and rounds < 20 * min_rounds):
        for name in live[rounds % len(live):] + live[:rounds % len(live)]:
            start, start_cpu = time.perf_counter(), time.thread_time()
            for _ in range(calls[name]):
                functions[name]()
            cpu[name].append((time.thread_time() - start_cpu) / calls[name])
            wall[name].append((time.perf_counter() - start) / calls[name])
        rounds += 1

    def medians(samples):
        return {name: statistics.median(samples[name]) if name in samples else None
                for name in functions}

    return medians(cpu), medians(wall), rounds
