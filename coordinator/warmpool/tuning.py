"""Tune sgcflow's background policy on the warm-up minutes only, never on the scored minutes.

The warm-up is cut off the trace (every call at or after its end is dropped), its first quarter
serves as history and the rest is scored; of the candidate ``exchange_gb_s`` x ``min_history``
settings, the one with the fewest cold starts whose idle GB-s stay within the hybrid histogram's
on the same minutes wins (ties: less idle). The evaluation then runs the winner on the whole
trace and scores only the minutes after the warm-up, which tuning never saw.
"""

from __future__ import annotations

from dataclasses import replace

from coordinator.warmpool.policies import HybridHistogram, IdleForecast
from coordinator.warmpool.simulator import metrics
from coordinator.warmpool.workload import Stream

EXCHANGES_GB_S = (100.0, 200.0, 400.0, 800.0, 1600.0, 3200.0)
MIN_HISTORIES = (1, 4, 16)


def truncate(streams: list[Stream], until_s: float) -> list[Stream]:
    """The streams as seen before ``until_s`` (empty streams dropped)."""
    result = []
    for stream in streams:
        keep = stream.times < until_s
        if not keep.any():
            continue
        duration = stream.duration_s
        if getattr(duration, "ndim", 0):
            duration = duration[keep]
        calls = None if stream.calls is None else stream.calls[keep]
        result.append(replace(stream, times=stream.times[keep], costs=stream.costs[keep],
                              duration_s=duration, calls=calls))
    return result


def _score(policy, streams: list[Stream], until_s: float, from_s: float) -> dict:
    return metrics(streams, policy.run(streams, until_s, from_s), None, None, from_s)


def tune(streams: list[Stream], warmup_s: float) -> tuple[IdleForecast, dict]:
    """The best ``IdleForecast`` on the warm-up (see the module docstring) and the evidence."""
    seen = truncate([s for s in streams if not s.planned], warmup_s)
    if not seen or warmup_s <= 0:
        return IdleForecast(), {"tuned_on": "nothing (no warm-up): defaults"}
    from_s = warmup_s / 2
    reference = _score(HybridHistogram(), seen, warmup_s, from_s)
    best, best_key, tried = IdleForecast(), None, []
    for exchange in EXCHANGES_GB_S:
        for min_history in MIN_HISTORIES:
            policy = IdleForecast(exchange, min_history=min_history)
            result = _score(policy, seen, warmup_s, from_s)
            within = result["idle_gb_s"] <= reference["idle_gb_s"]
            tried.append({"exchange_gb_s": exchange, "min_history": min_history,
                          "cold_starts": result["cold_starts"],
                          "idle_gb_s": result["idle_gb_s"]})
            key = (not within, result["cold_starts"], result["idle_gb_s"])
            if best_key is None or key < best_key:
                best, best_key = policy, key
    evidence = {"tuned_on": f"minutes {from_s / 60:g}-{warmup_s / 60:g} of the warm-up",
                "exchange_gb_s": best.exchange_gb_s, "min_history": best.min_history,
                "hybrid_cold_starts": reference["cold_starts"],
                "hybrid_idle_gb_s": reference["idle_gb_s"], "candidates": tried}
    return best, evidence
