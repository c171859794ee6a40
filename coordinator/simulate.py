"""Replay measured Lambda delays through the schemes with the paper's wait rule.

The rule and what it measures: docs/schemes.md, "How the paper compares runtimes".

Per round the master waits until (1 + mu) x the fastest worker's time; slower workers are the
round's stragglers. If appending them keeps the pattern inside the scheme's straggler model, the
round ends at that deadline; otherwise the master waits for everyone (a *fall-back*: the round
takes the slowest worker's time and records no stragglers). A worker's time comes from the
latency model at the scheme's own normalized load, so more redundancy costs more compute.

The scheme's session runs alongside, so every simulated round also proves the jobs due in it
decode (a pattern the model admits that failed to decode would raise, not be counted).
Gain decomposition: a scheme re-run on GC's latencies (GC's load) differs from GC only in its
wait rule (fewer fall-backs); the rest of its gain is compute (its lower load).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .params import require_int
from .schemes import make_scheme
from .traces import LatencyModel


@dataclass
class SchemeRun:
    """One scheme's replay: what the CLI prints and --json emits."""

    scheme: str
    params: dict
    T: int
    load: float
    rounds: int
    runtime_s: float
    fallbacks: int
    stragglers_per_round: float
    runtime_at_gc_load_s: float | None = None
    ratio_to_gc: float | None = None
    gain_from_fallbacks_s: float | None = None
    gain_from_compute_s: float | None = None
    round_times_s: list[float] = field(default_factory=list, repr=False)

    def to_json(self) -> dict:
        return asdict(self)


RULES = ("paper", "coordinator")


def replay_rounds(scheme, times: np.ndarray, mu: float,
                  rule: str = "paper") -> tuple[np.ndarray, int, list]:
    """A wait rule on (rounds, n) worker times: round times, fall-backs, straggler pattern.

    ``paper``: at the deadline, stop if the stragglers keep the pattern inside the scheme's
    model, else wait for everyone. ``coordinator`` (what sgcflow's Collect step does): past the
    deadline, keep collecting results in arrival order only until the stragglers are inside the
    model and every job due this round decodes. Staying inside the model is what guarantees the
    jobs still in flight can finish on time. A round that waits past its deadline counts as a
    fall-back.
    """
    if times.shape[1] != scheme.n:
        raise ValueError(f"trace has {times.shape[1]} workers but the scheme has n={scheme.n}")
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    model, history = scheme.model, []
    session = scheme.session(len(times) - scheme.T) if rule == "coordinator" else None
    round_times = np.empty(len(times))
    fallbacks = 0
    for r, row in enumerate(times):
        deadline = (1 + mu) * row.min()
        stragglers = frozenset(np.flatnonzero(row > deadline).tolist())
        if session is not None:
            round_times[r], stragglers = _collect(session, model, history, row, deadline,
                                                  stragglers)
            session.observe(r + 1, stragglers)
        elif model.admits(history, stragglers):
            round_times[r] = min(deadline, row.max())
        else:
            stragglers, round_times[r] = frozenset(), row.max()
        fallbacks += round_times[r] > deadline
        history.append(stragglers)
    return round_times, int(fallbacks), history


def _collect(session, model, history, row, deadline, stragglers):
    """The earliest time >= the deadline at which the round's stragglers are acceptable."""
    t = len(history) + 1
    session.plan(t)

    def acceptable(candidate: frozenset[int]) -> bool:
        return model.admits(history, candidate) and not session.would_be_late(t, candidate)

    if acceptable(stragglers):
        return min(deadline, row.max()), stragglers
    remaining = set(stragglers)
    for worker in sorted(stragglers, key=lambda w: row[w]):
        remaining.discard(worker)
        if acceptable(frozenset(remaining)):
            return float(row[worker]), frozenset(remaining)
    return float(row.max()), frozenset()


def run_scheme(scheme, latency: LatencyModel, mu: float, jobs: int, seed=None,
               verify: bool = True, rule: str = "paper") -> SchemeRun:
    """Replay one scheme for ``jobs`` jobs (J + T rounds) and, if ``verify``, decode every job."""
    rounds = jobs + scheme.T
    times = latency.round_times(scheme.load, rounds, rng=seed)
    round_times, fallbacks, pattern = replay_rounds(scheme, times, mu, rule)
    if verify:
        _verify_decoding(scheme, jobs, pattern)
    return SchemeRun(scheme=scheme.name, params=scheme.params, T=scheme.T, load=scheme.load,
                     rounds=rounds, runtime_s=float(round_times.sum()), fallbacks=fallbacks,
                     stragglers_per_round=float(np.mean([len(s) for s in pattern])),
                     round_times_s=round_times.tolist())


def _verify_decoding(scheme, jobs: int, pattern) -> None:
    session = scheme.session(jobs)
    for t, stragglers in enumerate(pattern, start=1):
        session.plan(t)
        session.observe(t, stragglers)
        late = session.late(t)
        if late:
            raise AssertionError(f"{scheme.describe()}: admitted pattern left jobs late: {late}")


def compare(latency: LatencyModel, schemes: list, mu: float, jobs: int, seed=None,
            verify: bool = True, rule: str = "paper") -> dict[str, SchemeRun]:
    """Run each scheme on the same trace; add ratios and the gain decomposition against GC."""
    require_int("jobs", jobs, 1)
    if not mu >= 0:
        raise ValueError(f"mu must be a number >= 0, got {mu}")
    runs = {s.name: run_scheme(s, latency, mu, jobs, seed, verify, rule) for s in schemes}
    gc = runs.get("gc")
    if gc is None:
        return runs
    for scheme in schemes:
        run = runs[scheme.name]
        run.ratio_to_gc = run.runtime_s / gc.runtime_s
        times = latency.round_times(gc.load, jobs + scheme.T, rng=seed)
        at_gc_load = float(replay_rounds(scheme, times, mu, rule)[0].sum())
        run.runtime_at_gc_load_s = at_gc_load
        run.gain_from_fallbacks_s = gc.runtime_s - at_gc_load
        run.gain_from_compute_s = at_gc_load - run.runtime_s
    return runs


def search_parameters(latency: LatencyModel, mu: float, jobs: int, n: int = 256, seed=None,
                      max_lam: int = 64) -> dict[str, object]:
    """The paper's choice: GC's best s, then for each SGC scheme the fastest parameters whose
    load is no higher than that GC's. Returns {scheme name: scheme}; a scheme with no parameters
    inside that budget is left out."""
    def runtime(scheme) -> float:
        times = latency.round_times(scheme.load, jobs + scheme.T, rng=seed)
        return float(replay_rounds(scheme, times, mu)[0].sum())

    best = {"uncoded": make_scheme("uncoded", n=n)}
    best["gc"] = min((make_scheme("gc", n=n, s=s) for s in range(1, 33)), key=runtime)
    budget = best["gc"].load + 1e-12
    for name in ("sr-sgc", "m-sgc"):
        candidates = [scheme for scheme in _bursty_grid(name, n, max_lam)
                      if scheme.load <= budget]
        if candidates:
            best[name] = min(candidates, key=runtime)
    return best


def _bursty_grid(name: str, n: int, max_lam: int):
    for B in (1, 2, 3):
        for W in range(B + 1, B + 6):
            if name == "sr-sgc" and (W - 1) % B:
                continue
            for lam in range(1, max_lam + 1):
                try:
                    yield make_scheme(name, n=n, B=B, W=W, lam=lam)
                except ValueError:
                    continue
