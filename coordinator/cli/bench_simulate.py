"""`sgc bench simulate`: M-SGC vs SR-SGC vs GC vs uncoded on every profile of the real trace."""

from __future__ import annotations

import click

from coordinator.cli.types import finite_values

from .benchio import json_option, markdown_table, out_option, write_outputs

REFERENCE = {"uncoded": {}, "gc": {"s": 15}, "sr-sgc": {"B": 2, "W": 3, "lam": 23},
             "m-sgc": {"B": 1, "W": 2, "lam": 27}}


def rows_for(model, mu: float, jobs: int, search: bool, rule: str = "paper") -> list[dict]:
    from ..schemes import make_scheme
    from ..simulate import compare, search_parameters

    if search:
        schemes = list(search_parameters(model, mu, jobs, n=model.n_workers).values())
    else:
        schemes = [make_scheme(name, n=model.n_workers, **p) for name, p in REFERENCE.items()]
    runs = compare(model, schemes, mu, jobs, rule=rule)
    return [{"profile": model.profile, "region": model.region, "mu": mu, "rule": rule,
             "choice": "search" if search else "reference", **run.to_json()}
            for run in runs.values()]


@click.command()
@out_option
@json_option
@click.option("--trace", type=click.Path(dir_okay=False, exists=True),
              default="data/lambda_delays.parquet", show_default=True)
@click.option("--jobs", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--mu", "mus", type=click.FloatRange(min=0), multiple=True,
              callback=finite_values, default=(0.5, 1.0),
              show_default=True)
def simulate(out, as_json, trace, jobs, mus):
    """The paper's comparison on each profile and region of the trace, at each --mu, with the
    reference parameters and with the paper's parameter search."""
    from ..traces import LatencyModel

    base = LatencyModel.from_parquet(trace)
    rows = []
    for info in base.profiles:
        model = LatencyModel.from_parquet(trace, profile=info.profile, region=info.region)
        for mu in mus:
            for search, rule in ((False, "paper"), (True, "paper"), (False, "coordinator")):
                click.echo(f"  {info.profile} / {info.region} mu={mu} "
                           f"{'search' if search else 'reference'} {rule}", err=True)
                rows.extend(rows_for(model, mu, jobs, search, rule))
    for row in rows:
        row.pop("round_times_s")
    table = markdown_table(
        [_formatted(row) for row in rows],
        [("profile", "profile"), ("region", "region"), ("mu", "μ"), ("rule", "wait rule"),
         ("choice", "params from"),
         ("scheme", "scheme"), ("params", "params"), ("load", "load"), ("runtime_s", "runtime s"),
         ("fallbacks", "fall-backs"), ("ratio_to_gc", "vs GC"),
         ("gain_from_fallbacks_s", "gain: fall-backs s"),
         ("gain_from_compute_s", "gain: compute s")])
    mu_flags = " ".join(f"--mu {mu}" for mu in mus)
    write_outputs(out, "simulate", rows, table,
                  f"sgc bench simulate --jobs {jobs} {mu_flags}", as_json)


def _formatted(row: dict) -> dict:
    shown = dict(row)
    shown["profile"] = row["profile"].removeprefix("sam-gc-")
    shown["params"] = ",".join(f"{k}={v}" for k, v in row["params"].items()) or "-"
    shown["load"] = f"{row['load']:.4f}"
    shown["runtime_s"] = f"{row['runtime_s']:.1f}"
    shown["fallbacks"] = f"{row['fallbacks']}/{row['rounds']}"
    for key, pattern in (("ratio_to_gc", "{:.3f}"), ("gain_from_fallbacks_s", "{:+.1f}"),
                         ("gain_from_compute_s", "{:+.1f}")):
        shown[key] = "-" if row[key] is None else pattern.format(row[key])
    return shown
