"""Deep-MLP rows of `sgc bench kernels`: achieved GFLOP/s against the measured FMA peak, and the
kernel against numpy/BLAS, both paths forced, all in the same run.

Runs in a child process with one Numba and one BLAS thread (see bench_kernels), twice: with
Numba compiled for this host's CPU, and for the generic x86-64 the shipped Lambda cache is built
for (``NUMBA_CPU_NAME=generic``) -- the configuration a Lambda worker really runs. numpy's
OpenBLAS picks its AVX2/AVX-512 kernels at run time in both.

Flops per row: 2 per weight forward, 2 per weight for the weight gradient, 2 per weight for the
input gradient of every layer but the first (counted exactly, biases and activations excluded).
"""

from __future__ import annotations

import resource
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


def flops_per_row(widths: tuple[int, ...]) -> int:
    weights = [a * b for a, b in zip(widths[:-1], widths[1:], strict=True)]
    return 4 * sum(weights) + 2 * (sum(weights) - weights[0])


def measure_deep(quick: bool, cpu: str) -> list[dict]:
    """One row per (model, rows): the dispatched kernel, each path forced, numpy float32."""
    import numpy as np

    from coordinator.cli import fma_peak
    from coordinator.contract.models import ModelSpec

    peak = fma_peak.measure(0.1 if quick else 0.4)["peak_gflops"]
    rng = np.random.default_rng(0)
    out = []
    for d, hidden, row_counts in DEEP[:3] if quick else DEEP:
        spec = ModelSpec("mlp", d, N_CLASSES, list(hidden))
        params = (rng.standard_normal(spec.n_params) * np.sqrt(1 / max(hidden))).astype(
            np.float32)
        for n in row_counts:
            X = rng.standard_normal((n, d)).astype(np.float32)
            y = rng.integers(0, N_CLASSES, n).astype(np.int32)
            out.append({"bench": "deep_mlp", "cpu": cpu,
                        **_row(spec, X, y, params, peak, 0.1 if quick else 1.0)})
    return out


def _row(spec, X, y, params, peak: float, budget_s: float) -> dict:
    import numpy as np

    from coordinator.contract import gradients as reference
    from coordinator.model_budget import estimate
    from functions import kernels
    from functions.kernels_blas import deep_blas
    from functions.kernels_deep import deep_serial
    from functions.kernels_paths import mlp_path

    n = X.shape[0]
    widths = np.array(spec.widths, dtype=np.int64)
    times = race({"sgc": lambda: kernels.loss_grad(spec, X, y, params, parallel=False),
                  "numpy": lambda: reference.loss_grad(spec, X, y, params, np.float32),
                  "numba": lambda: deep_serial(X, y, params, widths, 0),
                  "blas": lambda: deep_blas(X, y, params, spec.widths, 0)}, budget_s)
    want = np.concatenate(reference.loss_grad(spec, X, y, params), axis=None)
    got = kernels.loss_grad(spec, X, y, params, parallel=False)
    got32 = np.concatenate(reference.loss_grad(spec, X, y, params, np.float32), axis=None)
    flops = flops_per_row(spec.widths) * n
    return {"model": "mlp", "n_features": spec.n_features, "hidden": list(spec.hidden),
            "n_classes": spec.n_classes, "n_params": spec.n_params, "rows": n,
            "path": mlp_path(spec, n), "sgc_s": times["sgc"], "numba_s": times["numba"],
            "blas_s": times["blas"], "numpy_s": times["numpy"],
            "speedup_vs_numpy": times["numpy"] / times["sgc"],
            "gflops": flops / times["sgc"] / 1e9, "peak_gflops": peak,
            "peak_fraction": flops / times["sgc"] / 1e9 / peak,
            "numpy_gflops": flops / times["numpy"] / 1e9,
            "max_rel_err": float(np.abs(got - want).max() / np.abs(want).max()),
            "numpy32_max_rel_err": float(np.abs(got32 - want).max() / np.abs(want).max()),
            "estimate_memory_mb": estimate(spec, n)["memory_mb"],
            "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def markdown(results: list[dict]) -> str:
    rows = [r for r in results if r["bench"] == "deep_mlp"]
    if not rows:
        return ""

    def ms(value):
        return "-" if value is None else f"{value * 1e3:.2f}"

    lines = ["", "| Numba CPU | d | hidden | params | rows | path | sgc ms | Numba-fused ms "
             "| BLAS-path ms | numpy ms | numpy/sgc | GFLOP/s | % of peak "
             "| max rel err (numpy f32) | est. MB |",
             "|---|---:|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['cpu']} | {r['n_features']} | {r['hidden']} | {r['n_params']:,} | "
                     f"{r['rows']} | {r['path']} | {ms(r['sgc_s'])} | {ms(r['numba_s'])} | "
                     f"{ms(r['blas_s'])} | {ms(r['numpy_s'])} | {r['speedup_vs_numpy']:.2f} | "
                     f"{r['gflops']:.1f} | {100 * r['peak_fraction']:.0f}% | "
                     f"{r['max_rel_err']:.1e} ({r['numpy32_max_rel_err']:.1e}) | "
                     f"{r['estimate_memory_mb']:.0f} |")
    peaks = sorted({(r["cpu"], round(r["peak_gflops"], 1)) for r in rows})
    lines.append("\nSingle-core float32 FMA peak (LLVM IR microkernel, "
                 "coordinator/cli/fma_peak.py): "
                 + ", ".join(f"{gf} GFLOP/s ({cpu} run)" for cpu, gf in peaks)
                 + f"; child peak RSS {max(r['max_rss_mb'] for r in rows):.0f} MB.")
    return "\n".join(lines) + "\n"


def race(functions: dict, budget_s: float) -> dict[str, float | None]:
    """Best per-call seconds of each function, sampled in turns so that a busy shared machine
    slows all of them alike; None for one whose single call exceeds ``MAX_CALL_S`` (the skipped
    slow path). The first ("sgc") always runs."""
    once = {}
    for name, function in functions.items():
        start = time.perf_counter()
        function()
        once[name] = max(time.perf_counter() - start, 1e-7)
    live = {name: f for name, f in functions.items()
            if name in ("sgc", "numpy") or once[name] <= MAX_CALL_S}
    calls = {name: max(1, int(0.01 / once[name])) for name in live}
    best = {name: once[name] for name in live}
    deadline = time.perf_counter() + budget_s
    rounds = 0
    while rounds < 3 or time.perf_counter() < deadline:
        for name, function in live.items():
            start = time.perf_counter()
            for _ in range(calls[name]):
                function()
            best[name] = min(best[name], (time.perf_counter() - start) / calls[name])
        rounds += 1
    return {name: best.get(name) for name in functions}
