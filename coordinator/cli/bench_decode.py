"""`sgc bench decode`: how long computing decode weights takes at n = 256, per scheme."""

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


@click.command()
@out_option
@json_option
@click.option("--rounds", type=click.IntRange(min=5), default=200, show_default=True)
@click.option("--seed", type=SEED, default=0, show_default=True)
def decode(out, as_json, rounds, seed):
    """Decode-weight latency at n = 256 (observe + decoded per round, fresh straggler sets).

    Target: median < 1 ms. Cyclic codes solve a linear system on first sight of a straggler
    set, so every round here draws a new set (no cache hits).
    """
    rows = [measure(name, params, rounds, seed) for name, params in CASES]
    table = markdown_table(
        [dict(r, params=",".join(f"{k}={v}" for k, v in r["params"].items())) for r in rows],
        [("scheme", "scheme"), ("params", "params"), ("rounds", "rounds"),
         ("median_ms", "median ms"), ("p95_ms", "p95 ms"), ("max_ms", "max ms")])
    write_outputs(out, "decode", rows, table, f"sgc bench decode --rounds {rounds} --seed {seed}",
                  as_json)
