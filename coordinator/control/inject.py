"""Straggler injection for emulation: per round and worker, how long to hold a worker back.

From the job spec's ``stragglers``: a straggler model (the scheme library's generators in
``coordinator.schemes.stragglers``, or an explicit ``fixed`` pattern) marks whole workers as
slow for a round (delayed by ``delay_s``); a trace replays measured per-round latencies (scaled by
``time_scale``). ``faults`` make chosen workers raise or return garbage. Pure: returns arrays and
lists; the emulator applies them to the invocations.
"""

from __future__ import annotations

import functools

import numpy as np

from coordinator.schemes import stragglers as models


def pattern(spec: dict, n: int, rounds: int) -> list[frozenset[int]] | None:
    """The injected straggler sets per round (None for trace replay: latencies decide)."""
    kind = spec.get("model", "none")
    rng = np.random.default_rng(spec.get("seed", 0))
    if "trace" in spec:
        return None
    if kind == "none":
        return [frozenset() for _ in range(rounds)]
    if kind == "fixed":
        return [frozenset(spec["rounds"].get(str(t), [])) for t in range(1, rounds + 1)]
    if kind == "bursty":
        model = models.BurstyModel(n, spec["B"], spec["W"], spec["lam"])
        return model.random_pattern(rounds, rng, rate=float(spec.get("rate", 0.5)))
    if kind == "per-round":
        s = int(spec["s"])
        return [frozenset(rng.choice(n, size=rng.integers(0, s + 1), replace=False).tolist())
                for _ in range(rounds)]
    if kind == "iid":
        return models.iid_pattern(n, rounds, float(spec["p"]), rng)
    if kind == "gilbert-elliot":
        return models.gilbert_elliot_pattern(n, rounds, float(spec["p_good_to_bad"]),
                                             float(spec["p_bad_to_good"]), rng)
    raise ValueError(f"stragglers.model: unknown {kind!r}")


@functools.lru_cache(maxsize=8)
def _trace(path: str, profile: str | None, region: str | None, n: int, scale: float):
    from coordinator.replay.traces import LatencyModel

    full = LatencyModel.from_parquet(path, profile=profile, region=region)
    if n > full.n_workers:
        raise ValueError(f"workers: the trace measured {full.n_workers} workers, not {n}")
    return LatencyModel(full.loads, full.durations[:, :, :n] * scale, method=full.method,
                        profile=full.profile, region=full.region,
                        excluded_loads=full.excluded_loads)


def trace_latency(spec: dict, n: int):
    """The trace's latency model for its first ``n`` workers, times scaled by ``time_scale``:
    what the virtual clock and ``sgc replay``'s simulated side both replay."""
    return _trace(str(spec["trace"]), spec.get("profile"), spec.get("region"), int(n),
                  float(spec.get("time_scale", 0.1)))


def delays(spec: dict, n: int, rounds: int, load: float, default_delay_s: float) -> np.ndarray:
    """Seconds to hold each worker back, shape (rounds, n)."""
    if "trace" in spec:
        from coordinator.replay.traces import LatencyModel

        trace = LatencyModel.from_parquet(spec["trace"], profile=spec.get("profile"),
                                          region=spec.get("region"))
        rng = np.random.default_rng(spec.get("seed", 0))
        times = trace.round_times(load, rounds, rng=rng)
        if times.shape[1] < n:
            reps = -(-n // times.shape[1])
            times = np.tile(times, (1, reps))
        return times[:, :n] * float(spec.get("time_scale", 0.1))
    out = np.zeros((rounds, n))
    delay = float(spec.get("delay_s", default_delay_s))
    for t, slow in enumerate(pattern(spec, n, rounds) or []):
        out[t, sorted(slow)] = delay
    return out
