"""`sgc simulate`'s comparison: every scheme on the same trace, against the strongest GC.

Names (``SCHEME_NAMES``), with ``replay.models`` = M models in flight (J gradients in all):
- ``uncoded``: every worker its 1/n of every model in flight, wait for all.
- ``gc``: the best one-job GC *in-sample*: one gradient per invocation, s over 0..n-1 under
  every named policy (coordinator.replay.search), chosen on the fit trace (the evaluated one
  unless ``fit`` is given). Today's baseline.
- ``gc-batched``: the same search with every invocation computing all M models' gradients
  (delay 0, load M (s + 1) / n, ceil(J / M) rounds): the strongest batched baseline.
- ``sr-sgc``, ``m-sgc``: the paper's schemes under ``bursty_policy`` (default the study's
  rule), with reference parameters or, with ``search``, the study's in-sample search (load no
  higher than the best GC's); batched floor(M / (T + 1)) gradients per invocation (left out
  when M < T + 1: their delay needs more models in flight).
- ``sgcflow``: what the coordinator does by default (coordinator.adaptive.OnlineRun): starts
  safe and re-chooses online, batch included, from rounds it has seen; never fitted, never
  looks ahead.
- ``bound`` (with ``bound=True``): the clairvoyant lower bound of sgcflow's one-job family
  (coordinator.replay.bound), with the work bounds beside it.

Every scheme replays the same measured rounds (``replay``: seed, worker permutation, spares,
late results); ratios are to ``gc``.
"""

from __future__ import annotations

from collections import Counter

from coordinator.adaptive import OnlineRun
from coordinator.policy import make_policy
from coordinator.replay.bound import clairvoyant
from coordinator.replay.round_simulator import (
    Replay,
    SchemeRun,
    mean_load,
    run_rounds,
    run_scheme,
    summarize,
    with_ratios,
)
from coordinator.replay.search import best_bursty, best_gc
from coordinator.replay.traces import LatencyModel
from coordinator.schemes import make_scheme

SCHEME_NAMES = ("uncoded", "gc", "gc-batched", "sr-sgc", "m-sgc", "sgcflow")
REFERENCE = {"sr-sgc": {"B": 2, "W": 3, "lam": 23}, "m-sgc": {"B": 1, "W": 2, "lam": 27}}


def compare(latency: LatencyModel, names, mu: float, jobs: int, *, seed=None,
            search: bool = False, fit: LatencyModel | None = None, bound: bool = False,
            reference: dict | None = None, bursty_policy: dict | None = None,
            replication: int = 1, replay: Replay | None = None) -> dict[str, SchemeRun]:
    """Run the named schemes on ``latency``; see the module docstring."""
    fit = fit or latency
    replay = replay or Replay(seed=seed)
    n, models = latency.n_workers, replay.models
    runs: dict[str, SchemeRun] = {}
    gc_choice = best_gc(fit, mu, jobs, n=n, replay=replay)
    for name in names:
        if name == "uncoded":
            runs[name] = run_scheme(make_scheme("uncoded", n=n), latency, jobs,
                                    make_policy("kofn"), replay=replay)
        elif name == "gc":
            runs[name] = run_scheme(gc_choice.scheme, latency, jobs, gc_choice.policy,
                                    replay=replay, batch=1)
        elif name == "gc-batched":
            choice = gc_choice if models == 1 else best_gc(fit, mu, jobs, n=n, replay=replay,
                                                           batch=models)
            runs[name] = run_scheme(choice.scheme, latency, jobs, choice.policy, replay=replay)
            runs[name].scheme = name
        elif name in ("sr-sgc", "m-sgc"):
            run = _bursty(name, latency, fit, mu, jobs, search, gc_choice.scheme.load,
                          {**REFERENCE, **(reference or {})}[name], bursty_policy, replication,
                          replay)
            if run is not None:
                runs[name] = run
        elif name == "sgcflow":
            runs[name] = run_online(latency, jobs, replay=replay)
    if bound:
        runs["bound"] = bound_run(latency, jobs, replay.seed, replay)
    return with_ratios(runs)


def run_online(latency: LatencyModel, jobs: int, seed=None, tuning=None,
               replay: Replay | None = None, prior=None) -> SchemeRun:
    """sgcflow on ``latency``; ``tuning``: the chooser's constants (default: as shipped);
    ``prior``: what an earlier run on the same workload learned (``Learned``), to start from."""
    return online_run(latency, jobs, seed, tuning, replay, prior)[0]


def online_run(latency: LatencyModel, jobs: int, seed=None, tuning=None,
               replay: Replay | None = None, prior=None) -> tuple[SchemeRun, OnlineRun]:
    """``run_online`` and its controller (whose ``chooser.learned()`` a later run starts from)."""
    replay = replay or Replay(seed=seed)
    n = latency.n_workers
    controller = OnlineRun(n, jobs, models=replay.models, prior=prior,
                           **({"tuning": tuning} if tuning else {}))
    fleet = replay.fleet(n)
    records = run_rounds(controller, replay.clock(latency, controller.session.rounds), fleet,
                         replay.late_results)
    sizes = Counter(controller.batch_sizes())
    run = summarize("sgcflow", controller.describe_blocks(), controller.session.T,
                    mean_load(records), "decodable (online)", controller.session, records,
                    fleet, replay.models, {str(b): sizes[b] for b in sorted(sizes)})
    return run, controller


def bound_run(latency: LatencyModel, jobs: int, seed=None,
              replay: Replay | None = None) -> SchemeRun:
    """The family's clairvoyant bound (the reported runtime), with the work-conservation bound
    on any scheme at all (delay T = 0 and 1, ``coordinator.replay.work_bound``) beside it.
    Both hold inside the one-job round model (one gradient per invocation, a straggler's work
    lost when its round ends): docs/schemes.md says why no bound is known outside it. With M
    models in flight, ``batched_gc_s`` bounds batched GC however it picks s round by round
    (``bound.batched_gc_clairvoyant``)."""
    from coordinator.replay.bound import batched_gc_clairvoyant
    from coordinator.replay.work_bound import work_bound

    result = clairvoyant(latency, jobs, seed)
    any_scheme = {f"T={T}": work_bound(latency, jobs, T, seed) for T in (0, 1)}
    params = {"model": "one job per round, straggler work lost", "family": result["family"],
              "per_family_s": result["per_family"], "any_scheme_s": any_scheme}
    replay = replay or Replay(seed=seed)
    if replay.models > 1:
        params["batched_gc_s"] = {
            "model": f"GC with all {replay.models} models in every invocation, the best s "
                     "for each round in hindsight, no cold start or queued task",
            "runtime_s": batched_gc_clairvoyant(latency, jobs, replay)}
    return SchemeRun(scheme="bound", params=params,
                     T=1, load=None, rounds=jobs + 1, runtime_s=result["runtime_s"],
                     fallbacks=0, stragglers_per_round=0.0, policy="clairvoyant")


def _bursty(name, latency, fit, mu, jobs, search, budget, reference, policy, replication,
            replay):
    n = latency.n_workers
    if search:
        choice = best_bursty(name, fit, mu, jobs, budget, n=n, replay=replay,
                             models=replay.models)
        if choice is None:
            return None
        scheme = choice.scheme
    else:
        scheme = make_scheme(name, n=n, replication=replication, **reference)
    if replay.models > 1 and replay.models < scheme.T + 1:
        return None  # its delay needs more models in flight than the run has
    wait = make_policy(**({"name": "paper", "mu": mu} if policy is None else policy))
    return run_scheme(scheme, latency, jobs, wait, replay=replay)
