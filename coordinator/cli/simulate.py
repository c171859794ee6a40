"""`sgc simulate`: every scheme on the same measured Lambda delays, against the strongest GC."""

from __future__ import annotations

import json
import math
from pathlib import Path

import click

from .options import Choice, HiddenAliases, json_flag
from .types import SEED

DEFAULT_TRACE = "data/lambda_delays.parquet"
SCHEME_NAMES = ("uncoded", "gc", "gc-batched", "sr-sgc", "m-sgc", "sgcflow")
MAX_MODELS = 64  # as a job spec's models
POLICY_NAMES = ("paper", "kofn", "decodable")


def _triple(ctx, param, value: str) -> tuple[int, int, int]:
    try:
        B, W, lam = (int(part) for part in value.split(","))
    except ValueError:
        raise click.BadParameter(f"expected B,W,LAM as three integers, e.g. 1,2,27; got {value!r}",
                                 ctx, param) from None
    return B, W, lam


def _scheme_list(ctx, param, value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in SCHEME_NAMES]
    if unknown or not names:
        from coordinator.spec.speccheck import did_you_mean

        allowed = ", ".join(SCHEME_NAMES)
        hint = did_you_mean(unknown[0], SCHEME_NAMES) if unknown else ""
        raise click.BadParameter(f"unknown {unknown}; allowed: {allowed}{hint}", ctx, param)
    return names


@click.command()
@click.option("--trace", type=click.Path(dir_okay=False), default=DEFAULT_TRACE, show_default=True,
              help="Parquet table of per-round worker delays (lambda_delays.parquet schema).")
@click.option("--trace-profile", "--profile", "profile", cls=HiddenAliases, default=None,
              help="Profile in the trace [default: the CNN desktop_long one].")
@click.option("--trace-region", "--region", "region", cls=HiddenAliases, default=None,
              help="Region of the profile in the trace [default: Canada].")
@click.option("--mu", type=float, default=1.0, show_default=True,
              help="The study's rule: stragglers are slower than (1 + mu) x the fastest worker.")
@click.option("--gradients", "--jobs", "jobs", cls=HiddenAliases,
              type=click.IntRange(min=1, max=100_000),
              default=100, show_default=True,
              help="Gradients J in all (J / M iterations of each of --models M).")
@click.option("--models", type=click.IntRange(min=1, max=MAX_MODELS), default=1,
              show_default=True,
              help="Models trained at once. 1: unrelated gradients (the paper's setting); "
                   "M >= 2: a model's next gradient needs its last one's update, and every "
                   "scheme but `gc` batches floor(M / (T + 1)) models per invocation.")
@click.option("--permute-workers", type=SEED, default=None, metavar="SEED",
              help="From the second pass over the measured rounds on, deal the measured "
                   "workers' times to the workers in a fresh order each pass (the same for "
                   "every scheme): nothing learned about a worker is the next pass's answer.")
@click.option("--spares", type=click.IntRange(min=0, max=100_000), default=0,
              show_default=True,
              help="Warm environments beyond the n workers: a task sent to a worker still "
                   "busy with an earlier round takes one, else pays a cold start.")
@click.option("--no-late-results", "late_results", flag_value=False, default=True,
              help="Throw a straggler's work away when its round ends (the paper's model); by "
                   "default its result counts when it lands, as Lambda runs it to its end.")
@click.option("--schemes", "scheme_names", default=",".join(SCHEME_NAMES), show_default=True,
              callback=_scheme_list, help="Comma-separated schemes to compare.")
@click.option("--search", is_flag=True,
              help="SR-SGC and M-SGC get the study's in-sample search (paper rule, load no "
                   "higher than the best GC's) instead of the reference parameters.")
@click.option("--search-on", "search_on", type=click.Path(dir_okay=False), default=None,
              help="Choose GC's (and, with --search, the SGC schemes') parameters on this trace "
                   "instead of the evaluated one: out of sample.")
@click.option("--search-profile", default=None, help="Profile of the --search-on trace.")
@click.option("--search-region", default=None, help="Region of the --search-on trace.")
@click.option("--bound", is_flag=True,
              help="Add the clairvoyant lower bound of sgcflow's family (perfect knowledge).")
@click.option("--sr-sgc", "sr_sgc", default="2,3,23", show_default=True, callback=_triple,
              help="SR-SGC's B,W,LAM (without --search).")
@click.option("--m-sgc", "m_sgc", default="1,2,27", show_default=True, callback=_triple,
              help="M-SGC's B,W,LAM (without --search).")
@click.option("--replication", type=int, default=1, show_default=True,
              help="Workers that recompute each lost share in SR-SGC / M-SGC (1..n; M-SGC "
                   "needs LAM = n for more than 1).")
@click.option("--policy", "policy_name", default="paper", show_default=True,
              help=f"Wait policy for SR-SGC and M-SGC: one of {', '.join(POLICY_NAMES)}.")
@click.option("--latency", type=Choice(["quantile", "interp", "shift"]), default="quantile",
              show_default=True, help="How worker times are interpolated between measured loads.")
@click.option("--seed", type=SEED, default=None,
              help="Shuffle measured rounds per pass (same seed for every scheme), not cycle.")
@json_flag("Print a JSON object keyed by scheme.")
def simulate(trace, profile, region, mu, jobs, models, permute_workers, spares, late_results,
             scheme_names, search, search_on, search_profile, search_region, bound, sr_sgc,
             m_sgc, replication, policy_name, latency, seed, as_json):
    """Replay real Lambda delays through the schemes and compare total runtime.

    Every scheme replays the same measured rounds; each worker is timed at its own load in
    each round; the wait policy (the same object the live Collect step uses) ends each round.
    What Lambda does is kept: a straggler runs to its end (billed; its result counts when it
    lands), and a task for a worker still busy takes another environment (a cold start past
    the warm ones). `gc` is the strongest one-job GC: s over 0..n-1 under every policy (paper,
    k-of-n, earliest decodable), chosen in-sample; `gc-batched` the same with all M models'
    gradients in every invocation. `sgcflow` is the coordinator's default, chosen online
    (batch included) with no look ahead. Every job is decoded along the way.

    \b
    Examples:
      sgc simulate --gradients 400 --models 2 --schemes gc,gc-batched,sgcflow
      sgc simulate --gradients 400 --models 2 --permute-workers 7 --json
      sgc simulate --search --mu 0.5 --json
      sgc simulate --trace-profile sam-gc-cnn_profile_est-mbp --trace-region London \\
          --search-on data/lambda_delays.parquet --search-region Canada
    """
    from coordinator.replay.comparison import compare
    from coordinator.replay.round_simulator import Replay

    if policy_name not in POLICY_NAMES:
        from coordinator.spec.speccheck import did_you_mean

        raise click.BadParameter(f"unknown policy {policy_name!r}; allowed: "
                                 f"{', '.join(POLICY_NAMES)}"
                                 f"{did_you_mean(policy_name, POLICY_NAMES)}",
                                 param_hint="--policy")
    if not (math.isfinite(mu) and 0 <= mu <= 1000):
        raise click.BadParameter(f"must be a number >= 0 (finite, at most 1000), got {mu}",
                                 param_hint="--mu")
    model = _load(trace, profile, region, latency,
                  ("--trace", "--trace-profile", "--trace-region"))
    fit = None
    if search_on is not None:
        fit = _load(search_on, search_profile, search_region, latency,
                    ("--search-on", "--search-profile", "--search-region"))
    n = model.n_workers
    if not 1 <= replication <= n:
        raise click.BadParameter(f"must be in [1, {n}] (workers in the trace), got "
                                 f"{replication}", param_hint="--replication")
    policy = {"name": policy_name, **({"mu": mu} if policy_name == "paper" else {})}
    reference = {"sr-sgc": dict(zip("BW", sr_sgc[:2], strict=True), lam=sr_sgc[2]),
                 "m-sgc": dict(zip("BW", m_sgc[:2], strict=True), lam=m_sgc[2])}
    replay = Replay(seed=seed, permute_workers=permute_workers, models=models, spares=spares,
                    late_results=late_results)
    try:
        runs = compare(model, scheme_names, mu, jobs, search=search, fit=fit,
                       bound=bound, reference=reference, bursty_policy=policy,
                       replication=replication, replay=replay)
    except ValueError as error:
        hint = "--replication" if "replication" in str(error) else None
        raise click.BadParameter(str(error), param_hint=hint) if hint else click.UsageError(
            str(error)) from None
    if as_json:
        payload = {name: {k: v for k, v in run.to_json().items() if k != "round_times_s"}
                   for name, run in runs.items()}
        click.echo(json.dumps(payload, indent=2))
        return
    _print_table(runs, model, mu, jobs)


def _load(path, profile, region, method, hints):
    from coordinator.replay.traces import LatencyModel

    if not Path(path).is_file():
        raise click.BadParameter(f"no such file: {path}", param_hint=hints[0])
    try:
        return LatencyModel.from_parquet(path, profile=profile, region=region, method=method)
    except ValueError as error:
        text = str(error)
        hint = hints[2] if "region" in text else hints[1] if "profile" in text else hints[0]
        raise click.BadParameter(text, param_hint=hint) from None
    except Exception as error:  # not a readable Parquet trace
        raise click.BadParameter(f"{path}: not a delay trace ({type(error).__name__}: "
                                 f"{error})", param_hint=hints[0]) from None


def _print_table(runs, model, mu: float, jobs: int) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{model.profile} / {model.region}: J={jobs}, mu={mu}, "
                        f"{model.n_workers} workers")
    for column in ("scheme", "params", "policy", "T", "batch", "mean load", "runtime s",
                   "fall-backs", "late jobs", "late results", "peak", "GB-s", "vs best GC"):
        table.add_column(column, justify="left" if column in ("scheme", "params", "policy")
                         else "right")
    for run in runs.values():
        bound = run.scheme == "bound"
        table.add_row(run.scheme, _params(run.params), run.policy, str(run.T),
                      _batch(run.batch), "-" if bound else f"{run.mean_load:.4f}",
                      f"{run.runtime_s:.2f}", f"{run.fallbacks}/{run.rounds}", str(run.late_jobs),
                      "-" if bound else str(run.late_results_used),
                      "-" if bound else str(run.peak_concurrency),
                      "-" if bound else f"{run.billed_gb_s:.0f}",
                      "-" if run.ratio_to_gc is None else f"{run.ratio_to_gc:.3f}")
        if bound and "batched_gc_s" in run.params:
            _batched_bound_row(table, run.params["batched_gc_s"]["runtime_s"], runs.get("gc"))
    console = Console()
    console.width = max(console.width, 150)  # keep the table readable when piped
    console.print(table)


def _batched_bound_row(table, seconds: float, gc) -> None:
    """The batched GC family's clairvoyant bound (``bound.batched_gc_clairvoyant``)."""
    ratio = "-" if gc is None else f"{seconds / gc.runtime_s:.3f}"
    table.add_row("bound", "batched GC, best s per round", "clairvoyant", "0", "-", "-",
                  f"{seconds:.2f}", "-", "-", "-", "-", "-", ratio)


def _batch(batch) -> str:
    """sgcflow's batches change with its choices: {size: how many scheme jobs had it}."""
    if isinstance(batch, dict):
        return ",".join(f"{size}x{count}" for size, count in batch.items())
    return str(batch)


def _params(params) -> str:
    if isinstance(params, list):  # sgcflow: one block per configuration
        return f"{len(params)} blocks, last: " + _params(
            {k: v for k, v in params[-1].items() if k != "first_job"})
    if "family" in params:
        return params["family"]
    return ",".join(f"{k}={v}" for k, v in params.items()) or "-"
