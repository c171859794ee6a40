"""`sgc simulate`'s comparison: every scheme on the same trace, against the strongest GC.

Names (``SCHEME_NAMES``):
- ``uncoded``: every worker its 1/n, wait for all.
- ``gc``: the best GC *in-sample*: s over 0..n-1 under every named policy
  (coordinator.replay.search), chosen on the fit trace (the evaluated one unless ``fit`` is
  given). The baseline.
- ``sr-sgc``, ``m-sgc``: the paper's schemes under ``bursty_policy`` (default the study's
  rule), with reference parameters or, with ``search``, the study's in-sample search (load no
  higher than the best GC's).
- ``sgcflow``: what the coordinator does by default (coordinator.adaptive.OnlineRun): starts
  safe and re-chooses online from rounds it has seen; never fitted, never looks ahead.
- ``bound`` (with ``bound=True``): the clairvoyant lower bound (coordinator.replay.bound).

Every scheme replays the same measured rounds (same ``seed``); ratios are to ``gc``.
"""

from __future__ import annotations

from coordinator.adaptive import OnlineRun
from coordinator.policy import make_policy
from coordinator.replay.bound import clairvoyant
from coordinator.replay.round_simulator import (
    SchemeRun,
    TraceClock,
    mean_load,
    run_rounds,
    run_scheme,
    summarize,
    with_ratios,
)
from coordinator.replay.search import best_bursty, best_gc
from coordinator.replay.traces import LatencyModel
from coordinator.schemes import make_scheme

SCHEME_NAMES = ("uncoded", "gc", "sr-sgc", "m-sgc", "sgcflow")
REFERENCE = {"sr-sgc": {"B": 2, "W": 3, "lam": 23}, "m-sgc": {"B": 1, "W": 2, "lam": 27}}


def compare(latency: LatencyModel, names, mu: float, jobs: int, *, seed=None,
            search: bool = False, fit: LatencyModel | None = None, bound: bool = False,
            reference: dict | None = None, bursty_policy: dict | None = None,
            replication: int = 1) -> dict[str, SchemeRun]:
    """Run the named schemes on ``latency``; see the module docstring."""
    fit = fit or latency
    n = latency.n_workers
    runs: dict[str, SchemeRun] = {}
    gc_choice = best_gc(fit, mu, jobs, seed=seed, n=n)
    for name in names:
        if name == "uncoded":
            runs[name] = run_scheme(make_scheme("uncoded", n=n), latency, jobs,
                                    make_policy("kofn"), seed)
        elif name == "gc":
            runs[name] = run_scheme(gc_choice.scheme, latency, jobs, gc_choice.policy, seed)
        elif name in ("sr-sgc", "m-sgc"):
            run = _bursty(name, latency, fit, mu, jobs, seed, search, gc_choice.scheme.load,
                          {**REFERENCE, **(reference or {})}[name], bursty_policy, replication)
            if run is not None:
                runs[name] = run
        elif name == "sgcflow":
            runs[name] = run_online(latency, jobs, seed)
    if bound:
        runs["bound"] = bound_run(latency, jobs, seed)
    return with_ratios(runs)


def run_online(latency: LatencyModel, jobs: int, seed=None, tuning=None) -> SchemeRun:
    """sgcflow on ``latency``; ``tuning``: the chooser's constants (default: as shipped)."""
    controller = OnlineRun(latency.n_workers, jobs, **({"tuning": tuning} if tuning else {}))
    records = run_rounds(controller, TraceClock(latency, jobs + 1, seed))
    return summarize("sgcflow", controller.describe_blocks(), controller.session.T,
                     mean_load(records), "decodable (online)", controller.session, records)


def bound_run(latency: LatencyModel, jobs: int, seed=None) -> SchemeRun:
    """The family's clairvoyant bound (the reported runtime), with the work-conservation bound
    on any scheme at all (delay T = 0 and 1, ``coordinator.replay.work_bound``) beside it."""
    from coordinator.replay.work_bound import work_bound

    result = clairvoyant(latency, jobs, seed)
    any_scheme = {f"T={T}": work_bound(latency, jobs, T, seed) for T in (0, 1)}
    return SchemeRun(scheme="bound", params={"family": result["family"],
                                             "per_family_s": result["per_family"],
                                             "any_scheme_s": any_scheme},
                     T=1, load=None, rounds=jobs + 1, runtime_s=result["runtime_s"],
                     fallbacks=0, stragglers_per_round=0.0, policy="clairvoyant")


def _bursty(name, latency, fit, mu, jobs, seed, search, budget, reference, policy, replication):
    n = latency.n_workers
    if search:
        choice = best_bursty(name, fit, mu, jobs, budget, seed=seed, n=n)
        if choice is None:
            return None
        scheme = choice.scheme
    else:
        scheme = make_scheme(name, n=n, replication=replication, **reference)
    wait = make_policy(**({"name": "paper", "mu": mu} if policy is None else policy))
    return run_scheme(scheme, latency, jobs, wait, seed)

