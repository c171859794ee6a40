"""Choosing parameters on a trace: the in-sample searches that make the baselines strong.

- ``best_gc``: GC over every s in 0..n-1 under every named policy (the study's rule at the
  given mu, k-of-n, earliest decodable). This is the strongest fixed GC there is for a trace,
  chosen with hindsight: the baseline sgcflow is measured against. With ``batch`` b, each
  invocation computes b models' gradients: load b (s + 1) / n, ceil(J / b) rounds
  (``gc-batched``).
- ``best_bursty``: the study's search for SR-SGC and M-SGC (paper rule, load no higher than
  the best GC's), over B <= 3, W <= B + 5, lam <= max_lam.

Both rank candidates with vectorized evaluators of the same rules (a GC round under k-of-n ends
at its (n - s)-th arrival; under earliest-decodable a fractional-repetition code ends when every
group has an arrival; the study's rule is a per-round comparison), then the caller replays the
winner through the real session and policy, which is the number reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from coordinator.policy import make_policy
from coordinator.replay.traces import LatencyModel
from coordinator.schemes import make_scheme

GC_POLICIES = ("paper", "kofn", "decodable")


@dataclass(frozen=True)
class Choice:
    """A scheme and the policy to run it with, and the runtime the search estimated."""

    scheme: object
    policy: object
    estimate_s: float


def gc_round_times(times: np.ndarray, s: int, policy: str, mu: float) -> np.ndarray:
    """Per-round seconds of GC(s) under ``policy`` given (rounds, n) worker times."""
    n = times.shape[1]
    if policy == "kofn" or (policy == "decodable" and n % (s + 1)):
        return np.partition(times, n - s - 1, axis=1)[:, n - s - 1]
    if policy == "decodable":  # fractional repetition: one arrival per group of s + 1
        return times.reshape(len(times), n // (s + 1), s + 1).min(axis=2).max(axis=1)
    cutoff = (1 + mu) * times.min(axis=1)
    inside = (times > cutoff[:, None]).sum(axis=1) <= s
    return np.where(inside, np.minimum(cutoff, times.max(axis=1)), times.max(axis=1))


def gc_policy(policy: str, mu: float):
    if policy == "paper":
        return make_policy("paper", mu=mu)
    if policy == "decodable":
        return make_policy("decodable", model=False)
    return make_policy(policy)


def best_gc(latency: LatencyModel, mu: float, jobs: int, seed=None,
            policies=GC_POLICIES, n: int | None = None, replay=None, batch: int = 1,
            refine: int = 8) -> Choice:
    """GC's fastest (s, policy) on this trace, s over 0..n-1 (in-sample); ``replay``: the
    trace's order and fleet (coordinator.replay.round_simulator.Replay; default: ``seed``).

    Every candidate is ranked by the vectorized evaluator (rounds on their own); the ``refine``
    best are then replayed through the real session, policy and fleet (invocations running
    past their round, cold starts, the concurrency cap), and the fastest replay wins."""
    n = n or latency.n_workers
    rounds = -(-jobs // batch)
    clock = _clock(latency, rounds, seed, replay)
    ranked = []
    for s in range(n):
        times = clock.uniform(batch * (s + 1) / n, rounds)
        for policy in policies:
            ranked.append((float(gc_round_times(times, s, policy, mu).sum()), s, policy))
    ranked.sort()
    if refine > 1:
        from coordinator.replay.round_simulator import Replay, run_scheme

        replay = replay or Replay(seed=seed)
        ranked = sorted((run_scheme(make_scheme("gc", n=n, s=s), latency, jobs,
                                    gc_policy(policy, mu), replay=replay,
                                    batch=batch).runtime_s, s, policy)
                        for _, s, policy in ranked[:refine])
    total, s, policy = ranked[0]
    return Choice(make_scheme("gc", n=n, s=s), gc_policy(policy, mu), total)


def _clock(latency: LatencyModel, rounds: int, seed, replay):
    from coordinator.replay.round_simulator import Replay

    return (replay or Replay(seed=seed)).clock(latency, rounds)


def paper_round_times(scheme, times: np.ndarray, mu: float) -> np.ndarray:
    """The study's rule for any scheme: the cutoff's stragglers if the model admits them, else
    the slowest worker (the model check needs the history, so this one is a loop)."""
    model, history = scheme.model, []
    out = np.empty(len(times))
    for r, row in enumerate(times):
        cutoff = (1 + mu) * row.min()
        stragglers = frozenset(np.flatnonzero(row > cutoff).tolist())
        if model.admits(history, stragglers):
            out[r] = min(cutoff, row.max())
        else:
            stragglers, out[r] = frozenset(), row.max()
        history.append(stragglers)
    return out


def best_bursty(name: str, latency: LatencyModel, mu: float, jobs: int, budget: float,
                seed=None, max_lam: int = 64, n: int | None = None, replay=None,
                models: int = 1) -> Choice | None:
    """The study's choice for ``name`` (sr-sgc or m-sgc): the fastest parameters under the
    paper rule whose load is at most ``budget``; None if none fits. With ``models`` >= 2 each
    is ranked at its batched load (floor(M / (T + 1)) gradients per invocation)."""
    n = n or latency.n_workers
    best = None
    clock = _clock(latency, jobs + 8, seed, replay)
    for scheme in bursty_grid(name, n, max_lam):
        batch = 1 if models == 1 else models // (scheme.T + 1)
        if scheme.load > budget + 1e-12 or batch < 1:
            continue
        times = clock.uniform(batch * scheme.load, -(-jobs // batch) + scheme.T)
        total = float(paper_round_times(scheme, times, mu).sum()) / batch
        if best is None or total < best[0]:
            best = (total, scheme)
    if best is None:
        return None
    return Choice(best[1], make_policy("paper", mu=mu), best[0])


def bursty_grid(name: str, n: int, max_lam: int):
    for B in (1, 2, 3):
        for W in range(B + 1, B + 6):
            if name == "sr-sgc" and (W - 1) % B:
                continue
            for lam in range(1, min(max_lam, n) + 1):
                try:
                    yield make_scheme(name, n=n, B=B, W=W, lam=lam)
                except ValueError:
                    continue
