"""`sgc bench kernels`: Numba kernels vs numpy, memory bandwidth, deep MLPs and CNNs against the
FMA peak (coordinator/cli/bench_deep.py, bench_cnn.py), worker cold init, warm overhead.

Everything is measured side by side in one run (the machine is shared: compare ratios, not
absolute times). Kernel timings run in a child process with one BLAS thread and one Numba thread,
so "single-threaded" holds for both sides. numpy computes in float32 (its fastest honest
baseline); ``max_rel_err`` compares Numba with the float64 reference:
max |numba - ref| / max |ref| over [loss, *grad].
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

from coordinator.cli import bench_cnn, bench_deep
from coordinator.cli.options import json_flag
from functions.numba_setup import shipped_cpu

# (kind, n_features, n_classes, hidden): digits-shaped models
MODELS = [("logreg", 64, 2, 0), ("softmax", 64, 10, 0), ("mlp", 64, 10, 32)]
# rows per partition: digits / 256 workers, 65536 rows / 256, a 1 MiB partition, one larger (64 MiB)
ROWS = [7, 256, 4096, 262144]
# Numba as a Lambda worker compiles it: the shipped CPU, no feature of this host added.
LAMBDA_CPU = {"NUMBA_CPU_NAME": shipped_cpu(), "NUMBA_CPU_FEATURES": ""}
SINGLE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                 "NUMBA_NUM_THREADS": "1"}


@click.command()
@click.option("--out", type=click.Path(file_okay=False), default="data/bench", show_default=True,
              help="Folder for kernels.md and kernels.json.")
@json_flag("Print the JSON list to stdout.")
@click.option("--quick", is_flag=True, help="Fewer rows and repeats (smoke test).")
def kernels(out: str, as_json: bool, quick: bool) -> None:
    """Numba vs numpy per model and partition size; worker cold init and warm overhead."""
    rows = ROWS[:3] if quick else ROWS
    results = _child("kernels", {"rows": rows, "quick": quick}, SINGLE_THREAD)
    with tempfile.TemporaryDirectory() as lambda_cache:
        for cpu, env in (("host", {}), (f"{shipped_cpu()} (Lambda)", {
                **LAMBDA_CPU, "NUMBA_CACHE_DIR": lambda_cache, "OPENBLAS_CORETYPE": "Haswell"})):
            results += _child("deep", {"quick": quick, "cpu": cpu}, {**SINGLE_THREAD, **env})
            results += _child("cnn", {"quick": quick, "cpu": cpu}, {**SINGLE_THREAD, **env})
    results += bench_cnn.measure_memory()
    results += cold_init()
    results += _child("warm", {"repeats": 5 if quick else 30}, {})
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kernels.json").write_text(json.dumps(results, indent=1) + "\n")
    (folder / "kernels.md").write_text(markdown(results))
    click.echo(json.dumps(results, indent=1) if as_json else markdown(results))


def measure_kernels(rows: list[int], quick: bool) -> list[dict]:
    """Best-of timings of Numba and numpy (float32) per model and partition size."""
    import numba
    import numpy as np

    from coordinator.contract import gradients as reference
    from coordinator.contract.models import ModelSpec
    from functions import kernels as numba_kernels

    bandwidth = copy_bandwidth()
    numba_kernels.warm_up()
    rng = np.random.default_rng(0)
    out = []
    for kind, d, classes, hidden in MODELS:
        spec = ModelSpec(kind, d, classes, hidden)
        params = (rng.standard_normal(spec.n_params) * 0.1).astype(np.float32)
        for n in rows:
            X = rng.standard_normal((n, d)).astype(np.float32)
            y = rng.integers(0, classes, n).astype(np.int32)
            numba_out = numba_kernels.loss_grad(spec, X, y, params)
            loss, grad = reference.loss_grad(spec, X, y, params)
            want = np.concatenate([[loss], grad])
            budget = 0.05 if quick else 0.4
            arguments = (spec, X, y, params)
            numba_s = _best(lambda a=arguments: numba_kernels.loss_grad(*a), budget)
            numpy_s = _best(lambda a=arguments: reference.loss_grad(*a, np.float32), budget)
            out.append({
                "bench": "kernel", "model": kind, "n_features": d, "n_classes": classes,
                "hidden": hidden, "rows": n, "feature_bytes": X.nbytes,
                "numba_s": numba_s, "numpy_s": numpy_s, "ratio": numpy_s / numba_s,
                "numba_GBps": X.nbytes / numba_s / 1e9, "numpy_GBps": X.nbytes / numpy_s / 1e9,
                "bandwidth_GBps": bandwidth,
                "bandwidth_fraction": X.nbytes / numba_s / 1e9 / bandwidth,
                "max_rel_err": float(np.abs(numba_out - want).max() / np.abs(want).max()),
                "threads": numba.get_num_threads(),
            })
    return out


def copy_bandwidth(megabytes: int = 256) -> float:
    """Memory bandwidth in GB/s: a numpy copy of a large array, bytes read + bytes written."""
    import numpy as np

    source = np.ones(megabytes * 2**20 // 4, dtype=np.float32)
    target = np.empty_like(source)
    best = min(_timed(lambda: np.copyto(target, source)) for _ in range(8))
    return 2 * source.nbytes / best / 1e9


def cold_init() -> list[dict]:
    """Worker init (import + every kernel's first call) in fresh processes, cache absent/present,
    and from a shipped cache built for the Lambda CPU (the Lambda path)."""
    out = []
    with tempfile.TemporaryDirectory() as scratch:
        cache, shipped = Path(scratch, "cache"), Path(scratch, "shipped")
        for label, env in [("absent", {"NUMBA_CACHE_DIR": str(cache)}),
                           ("present", {"NUMBA_CACHE_DIR": str(cache)})]:
            out.append(_init_once(label, env))
        build = {**LAMBDA_CPU, "NUMBA_CACHE_DIR": str(Path(scratch, "build"))}
        subprocess.run([sys.executable, "-m", "functions.kernel_cache", "build", str(shipped)],
                       env={**os.environ, **build}, check=True, capture_output=True)
        out.append(_init_once("shipped", {
            **LAMBDA_CPU, "NUMBA_CACHE_DIR": str(Path(scratch, "fresh")),
            "SGC_NUMBA_SHIPPED_CACHE": str(shipped)}))
    return out


def _init_once(label: str, env: dict[str, str]) -> dict:
    script = ("import time; t = time.perf_counter(); import functions.worker as w; "
              "import json; print(json.dumps([time.perf_counter() - t, w.INIT_S]))")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", script], env={**os.environ, **env}, check=True,
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    import_s, init_s = json.loads(done.stdout.strip().splitlines()[-1])
    return {"bench": "cold_init", "model": "all", "cache": label, "init_s": init_s,
            "import_s": import_s, "process_s": wall}


def measure_warm(repeats: int) -> list[dict]:
    """Worker invocations through moto S3 + DynamoDB on one 1 MiB partition: time beyond compute."""
    import boto3
    import numpy as np
    from moto import mock_aws

    from coordinator.contract.models import ModelSpec
    from coordinator.storage import dataset_prep

    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1", "SGC_TABLE": "bench-rounds",
                       "SGC_BUCKET": "bench"})
    os.environ.pop("AWS_ENDPOINT_URL", None)
    spec = ModelSpec("logreg", 64, 2)
    with mock_aws(), tempfile.TemporaryDirectory() as scratch:
        os.environ["SGC_PARTITION_CACHE_DIR"] = scratch
        from functions import worker

        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="bench")
        boto3.client("dynamodb").create_table(
            TableName="bench-rounds", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk")],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                       {"AttributeName": "sk", "KeyType": "RANGE"}])
        table = dataset_prep.synthetic(rows=4096, features=64, classes=2, seed=0)
        manifest = dataset_prep.prepare(table, "s3://bench/datasets/one", k=1, s3=s3)
        import io

        buffer = io.BytesIO()
        np.save(buffer, spec.init())
        s3.put_object(Bucket="bench", Key="params.npy", Body=buffer.getvalue())
        worker.reset_runtime()
        samples = []
        for round_ in range(1, repeats + 2):
            event = {"run": "bench", "round": round_, "worker": 0, "bucket": "bench",
                     "tasks": [{"job": round_, "model": spec.to_dict(), "params_key": "params.npy",
                                "dataset": "datasets/one", "coefficients": {"0": 1.0}}]}
            start = time.perf_counter()
            timings = worker.handler(event, None)["timings"]
            samples.append((time.perf_counter() - start, timings))

    def median(values):
        return statistics.median(values)

    warm = samples[1:]
    first_total, first = samples[0]
    return [{"bench": "warm_overhead", "model": "logreg", "rows": 4096,
             "feature_bytes": 4096 * 64 * 4, "parquet_bytes": manifest["partitions"][0]["bytes"],
             "first_total_s": first_total, "first_download_s": first["download_s"],
             "total_s": median([t for t, _ in warm]),
             "compute_s": median([x["compute_s"] for _, x in warm]),
             "overhead_s": median([t - x["compute_s"] for t, x in warm]),
             "download_s": median([x["download_s"] for _, x in warm]),
             "upload_s": median([x["upload_s"] for _, x in warm]), "repeats": len(warm)}]


def markdown(results: list[dict]) -> str:
    lines = ["| model | rows | numba ms | numpy ms | numpy/numba | numba GB/s | % of copy BW "
             "| max rel err |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in (r for r in results if r["bench"] == "kernel"):
        lines.append(f"| {r['model']} | {r['rows']} | {r['numba_s'] * 1e3:.3f} | "
                     f"{r['numpy_s'] * 1e3:.3f} | {r['ratio']:.2f} | {r['numba_GBps']:.2f} | "
                     f"{100 * r['bandwidth_fraction']:.0f}% | {r['max_rel_err']:.1e} |")
    kernel = [r for r in results if r["bench"] == "kernel"]
    if kernel:
        lines.append(f"\nMemory bandwidth (numpy copy, read + write): "
                     f"{kernel[0]['bandwidth_GBps']:.1f} GB/s; single thread for Numba and BLAS.")
    lines += ["", "| worker cold init | init s (import + kernels) | process s |", "|---|---:|---:|"]
    for r in (r for r in results if r["bench"] == "cold_init"):
        lines.append(f"| cache {r['cache']} | {r['init_s']:.2f} | {r['process_s']:.2f} |")
    for r in (r for r in results if r["bench"] == "warm_overhead"):
        lines.append(f"\nWarm invocation, 1 MiB partition through moto S3 (median of "
                     f"{r['repeats']}): total {r['total_s'] * 1e3:.1f} ms, compute "
                     f"{r['compute_s'] * 1e3:.2f} ms, overhead {r['overhead_s'] * 1e3:.1f} ms "
                     f"(params download {r['download_s'] * 1e3:.1f} ms, result upload "
                     f"{r['upload_s'] * 1e3:.1f} ms, the rest DynamoDB record + logs); first "
                     f"invocation {r['first_total_s'] * 1e3:.0f} ms.")
    return "\n".join(lines) + "\n" + bench_deep.markdown(results) + bench_cnn.markdown(results)


def _child(what: str, arguments: dict, env: dict[str, str]) -> list[dict]:
    """Run a measurement in a fresh interpreter (thread limits must precede numpy's import)."""
    done = subprocess.run([sys.executable, "-m", "coordinator.cli.bench_kernels", what,
                           json.dumps(arguments)], env={**os.environ, **env},
                          capture_output=True, text=True)
    if done.returncode:
        raise click.ClickException(f"the {what} measurement failed (exit {done.returncode}): "
                                   + " | ".join(done.stderr.strip().splitlines()[-3:]))
    return json.loads(done.stdout.strip().splitlines()[-1])


def _timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def _best(function, budget_s: float) -> float:
    """Best per-call time over repeated batches within about ``budget_s`` seconds."""
    once = max(_timed(function), 1e-7)
    calls = max(1, int(budget_s / 5 / once))
    return min(_timed(lambda: [function() for _ in range(calls)]) / calls for _ in range(5))


if __name__ == "__main__":
    _what, _arguments = sys.argv[1], json.loads(sys.argv[2])
    _measure = {"kernels": measure_kernels, "warm": measure_warm,
                "deep": bench_deep.measure_deep, "cnn": bench_cnn.measure_cnn}[_what]
    print(json.dumps(_measure(**_arguments)))
