"""`sgc simulate`: M-SGC vs SR-SGC vs GC vs uncoded on measured Lambda delays (paper's method)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import click

from coordinator.cli.types import SEED

DEFAULT_TRACE = "data/lambda_delays.parquet"
SCHEME_NAMES = ("uncoded", "gc", "sr-sgc", "m-sgc")


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
        allowed = ", ".join(SCHEME_NAMES)
        raise click.BadParameter(f"unknown {unknown}; allowed: {allowed}", ctx, param)
    return names


@click.command()
@click.option("--trace", type=click.Path(dir_okay=False), default=DEFAULT_TRACE, show_default=True,
              help="Parquet table of per-round worker delays (lambda_delays.parquet schema).")
@click.option("--profile", default=None,
              help="Profile in the trace [default: the CNN desktop_long one].")
@click.option("--region", default=None, help="Region of the profile [default: Canada].")
@click.option("--mu", type=float, default=1.0, show_default=True,
              help="Wait rule: stragglers are slower than (1 + mu) x the round's fastest worker.")
@click.option("--jobs", type=click.IntRange(min=1), default=100, show_default=True,
              help="Jobs J (rounds J + T per scheme).")
@click.option("--schemes", "scheme_names", default=",".join(SCHEME_NAMES), show_default=True,
              callback=_scheme_list, help="Comma-separated schemes to compare.")
@click.option("--search", is_flag=True,
              help="Choose parameters as the paper does: GC's fastest s, then the fastest SGC "
                   "parameters with load no higher than that GC's.")
@click.option("--gc-s", type=click.IntRange(min=0), default=15, show_default=True,
              help="GC's tolerance s (without --search).")
@click.option("--sr-sgc", "sr_sgc", default="2,3,23", show_default=True, callback=_triple,
              help="SR-SGC's B,W,LAM (without --search).")
@click.option("--m-sgc", "m_sgc", default="1,2,27", show_default=True, callback=_triple,
              help="M-SGC's B,W,LAM (without --search).")
@click.option("--latency", type=click.Choice(["quantile", "interp", "shift"]), default="quantile",
              show_default=True, help="How worker times are interpolated between measured loads.")
@click.option("--rule", type=click.Choice(["paper", "coordinator"]), default="paper",
              show_default=True,
              help="paper: wait for all when stragglers leave the scheme's model; coordinator: "
                   "keep collecting only until they are inside it and the due jobs decode.")
@click.option("--seed", type=SEED, default=None,
              help="Shuffle measured rounds per pass (same seed for every scheme), not cycle.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object keyed by scheme.")
def simulate(trace, profile, region, mu, jobs, scheme_names, search, gc_s, sr_sgc, m_sgc,
             latency, rule, seed, as_json):
    """Replay real Lambda delays through the schemes and compare total runtime.

    Each scheme's workers are timed at the scheme's own normalized load (interpolated between
    the loads the trace measured), the paper's wait rule picks stragglers each round, and rounds
    whose stragglers fall outside the scheme's model fall back to waiting for all. Every job's
    decoding is checked along the way.

    \b
    Examples:
      sgc simulate --mu 1.0 --jobs 100
      sgc simulate --search --mu 0.5 --json
      sgc simulate --profile sam-gc-cnn_profile_est-mbp --region London --schemes gc,m-sgc
    """
    from ..schemes import make_scheme
    from ..simulate import compare, search_parameters
    from ..traces import LatencyModel

    if not Path(trace).is_file():
        raise click.BadParameter(f"no such file: {trace}", param_hint="--trace")
    if not (math.isfinite(mu) and 0 <= mu <= 1000):
        raise click.BadParameter(f"must be >= 0 (finite, at most 1000), got {mu}",
                                 param_hint="--mu")
    try:
        model = LatencyModel.from_parquet(trace, profile=profile, region=region, method=latency)
        n = model.n_workers
        if search:
            chosen = search_parameters(model, mu, jobs, n=n, seed=seed)
        else:
            chosen = {"uncoded": make_scheme("uncoded", n=n), "gc": make_scheme("gc", n=n, s=gc_s),
                      "sr-sgc": make_scheme("sr-sgc", n=n, B=sr_sgc[0], W=sr_sgc[1], lam=sr_sgc[2]),
                      "m-sgc": make_scheme("m-sgc", n=n, B=m_sgc[0], W=m_sgc[1], lam=m_sgc[2])}
        runs = compare(model, [chosen[name] for name in scheme_names if name in chosen], mu,
                       jobs, seed=seed, rule=rule)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    if as_json:
        payload = {name: {k: v for k, v in run.to_json().items() if k != "round_times_s"}
                   for name, run in runs.items()}
        click.echo(json.dumps(payload, indent=2))
        return
    _print_table(runs, model, mu, jobs, rule)


def _print_table(runs, model, mu: float, jobs: int, rule: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{model.profile} / {model.region}: mu={mu}, J={jobs}, "
                        f"{model.n_workers} workers, {rule} wait rule")
    for column in ("scheme", "params", "T", "load", "runtime s", "fall-backs", "stragglers/round",
                   "vs GC", "gain: fall-backs s", "gain: compute s"):
        table.add_column(column, justify="left" if column in ("scheme", "params") else "right")
    for run in runs.values():
        params = ",".join(f"{k}={v}" for k, v in run.params.items()) or "-"
        table.add_row(run.scheme, params, str(run.T), f"{run.load:.6f}", f"{run.runtime_s:.2f}",
                      f"{run.fallbacks}/{run.rounds}", f"{run.stragglers_per_round:.1f}",
                      _fmt(run.ratio_to_gc, "{:.3f}"), _fmt(run.gain_from_fallbacks_s, "{:+.2f}"),
                      _fmt(run.gain_from_compute_s, "{:+.2f}"))
    console = Console()
    console.width = max(console.width, 140)  # keep the table readable when piped
    console.print(table)


def _fmt(value, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)
