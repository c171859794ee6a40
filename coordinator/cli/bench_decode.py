"""`sgc bench decode`: decode-weight latency at n = 256 per scheme; with ``--params``, the
streaming weighted sum of n results of P parameters: time and peak memory (tracemalloc)."""

from __future__ import annotations

import time

import click
import numpy as np

from coordinator.cli.types import SEED

from .benchio import json_option, markdown_table, out_option, write_outputs

CASES = [("gc", {"s": 15}), ("gc", {"s": 12}), ("sr-sgc", {"B": 2, "W": 3, "lam": 23}),
         ("m-sgc", {"B": 1, "W": 2, "lam": 27})]


def measure(name: str, params: dict, rounds: int, seed: int) -> dict:
    """Median and p95 time of observe + decoded for a round, over fresh random straggler sets."""
    from ..schemes import make_scheme

    scheme = make_scheme(name, n=256, **params)
    session = scheme.session(jobs=rounds)
    rng = np.random.default_rng(seed)
    limit = scheme.s if name == "gc" else scheme.model.lam
    durations, history = [], []
    for t in range(1, session.rounds + 1):
        session.plan(t)  # the coordinator plans while workers compute: not part of decoding
        stragglers = frozenset()
        for _ in range(50):  # a fresh random set inside the model
            size = int(rng.integers(1, max(2, limit // 2)))
            candidate = frozenset(rng.choice(256, size=size, replace=False).tolist())
            if scheme.model.admits(history, candidate):
                stragglers = candidate
                break
        history.append(stragglers)
        start = time.perf_counter()
        session.observe(t, stragglers)
        session.decoded(t)
        durations.append(time.perf_counter() - start)
    ms = np.array(durations) * 1e3
    return {"scheme": name, "params": params, "rounds": len(ms),
            "median_ms": round(float(np.median(ms)), 4),
            "p95_ms": round(float(np.percentile(ms, 95)), 4),
            "max_ms": round(float(ms.max()), 4)}


MAX_PARAMS = 10_000_000
ALL_AT_ONCE_LIMIT_BYTES = 512 << 20  # the old way holds n vectors: only measured below this


def measure_sum(n_params: int, workers: int, seed: int) -> dict:
    """Update's weighted sum of ``workers`` results of ``n_params`` parameters read from an
    in-memory store (each read returns a fresh copy, as a download does): time and extra peak
    memory, streaming vs reading all results first (what Update did before), and streaming with
    each result re-hashed against its recorded sha256 (what Update does now)."""
    import tracemalloc

    from coordinator.storage import integrity

    from ..control.decode import check_result, decode, npy_view, window_for
    from ..control.memstore import MemoryStore

    store = MemoryStore()
    rng = np.random.default_rng(seed)
    # At most ~256 MB of distinct stored results (keys share them beyond that); every read
    # still returns a fresh copy, so what the sum holds in memory is measured the same.
    distinct = int(max(1, min(workers, (256 << 20) // (8 * (n_params + 1)))))
    for w in range(distinct):
        store.put_array(f"r/{w}.npy", rng.normal(size=n_params + 1))
    weights = {(1, w, 1): float(rng.normal()) for w in range(workers)}

    def read(key):
        path = f"r/{key[1] % distinct}.npy"
        return check_result(npy_view(store.get_bytes(path)), n_params, path)

    recorded = {f"r/{w}.npy": integrity.digest(store.get_bytes(f"r/{w}.npy"))
                for w in range(distinct)}

    def read_checked(key):  # what Update does: re-hash against the completion record first
        path = f"r/{key[1] % distinct}.npy"
        body = integrity.verify(path, store.get_bytes(path), recorded[path])
        return check_result(npy_view(body), n_params, path)

    def all_at_once():
        vectors = {key: read(key) for key in sorted(weights)}
        total = np.zeros(n_params + 1)
        for key, vector in vectors.items():
            total += weights[key] * vector
        return total

    row = {"params": n_params, "workers": workers, "window": window_for(n_params),
           "vector_mb": round(8 * (n_params + 1) / 2**20, 3)}
    ways = [("streaming", lambda: decode(weights, read, n_params=n_params)),
            ("streaming_sha256", lambda: decode(weights, read_checked, n_params=n_params))]
    if workers * 8 * (n_params + 1) <= ALL_AT_ONCE_LIMIT_BYTES:
        ways.append(("all_at_once", all_at_once))
    results = {}
    for name, function in ways:
        tracemalloc.start()
        started = time.perf_counter()
        results[name] = function()
        row[f"{name}_s"] = round(time.perf_counter() - started, 4)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        row[f"{name}_peak_mb"] = round(peak / 2**20, 2)
        row[f"{name}_peak_over_p8"] = round(peak / (8 * n_params), 2)
    row["sha256_over_streaming"] = round(row["streaming_sha256_s"] / row["streaming_s"], 3)
    if "all_at_once" in results:
        row["same_result"] = bool(np.allclose(results["streaming"], results["all_at_once"],
                                              rtol=1e-12, atol=1e-9))
    return row


@click.command()
@out_option
@json_option
@click.option("--rounds", type=click.IntRange(min=5), default=200, show_default=True)
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--params", "n_params", type=click.IntRange(1, MAX_PARAMS), default=None,
              help="Measure Update's streaming weighted sum of results of this many "
                   "parameters instead (time, peak memory).")
@click.option("--workers", type=click.IntRange(1, 1000), default=256, show_default=True,
              help="Results summed (with --params).")
def decode(out, as_json, rounds, seed, n_params, workers):
    """Decode-weight latency at n = 256 (observe + decoded per round, fresh straggler sets).

    Target: median < 1 ms. Cyclic codes solve a linear system on first sight of a straggler
    set, so every round here draws a new set (no cache hits).

    With --params P: the weighted sum Update streams from n results (target: extra peak
    <= 4 x P x 8 bytes at P = 1e6 from 256 results).
    """
    if n_params is not None:
        row = measure_sum(n_params, workers, seed)
        table = markdown_table([row], [(k, k) for k in row])
        write_outputs(out, f"decode-sum-p{n_params}-n{workers}", [row], table,
                      f"sgc bench decode --params {n_params} --workers {workers}", as_json)
        return
    rows = [measure(name, params, rounds, seed) for name, params in CASES]
    table = markdown_table(
        [dict(r, params=",".join(f"{k}={v}" for k, v in r["params"].items())) for r in rows],
        [("scheme", "scheme"), ("params", "params"), ("rounds", "rounds"),
         ("median_ms", "median ms"), ("p95_ms", "p95 ms"), ("max_ms", "max ms")])
    write_outputs(out, "decode", rows, table, f"sgc bench decode --rounds {rounds} --seed {seed}",
                  as_json)
