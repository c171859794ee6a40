"""`sgc replay`: schemes through the emulated workflow on a measured trace, beside the simulator."""

from __future__ import annotations

import json

import click

from coordinator.cli.options import HiddenAliases

DEFAULT_TRACE = "data/lambda_delays.parquet"


@click.command()
@click.option("--trace", default=DEFAULT_TRACE, show_default=True,
              help="Parquet table of per-round worker delays (lambda_delays.parquet schema).")
@click.option("--trace-region", "--region", "region", cls=HiddenAliases, default=None,
              help="Region of the profile in the trace [default: Canada].")
@click.option("--trace-profile", "--profile", "profile", cls=HiddenAliases, default=None,
              help="Profile in the trace [default: the CNN desktop_long one].")
@click.option("--mu", type=float, default=1.0, show_default=True,
              help="The paper policy's cutoff: (1 + mu) x the round's fastest worker.")
@click.option("--gradients", "--jobs", "jobs", cls=HiddenAliases, type=int, default=10,
              show_default=True,
              help="Gradients J per scheme (J / M iterations of each model).")
@click.option("--models", type=click.IntRange(min=1, max=64), default=1, show_default=True,
              help="Models trained at once (at least each scheme's T + 1); every scheme but "
                   "`gc` batches floor(M / (T + 1)) of them per invocation.")
@click.option("--permute-workers", type=click.IntRange(min=0, max=2**32 - 1), default=None,
              metavar="SEED", help="Deal the measured workers afresh each pass over the trace.")
@click.option("--spares", type=click.IntRange(min=0, max=100_000), default=0,
              show_default=True,
              help="Warm environments beyond the workers (else a busy worker's task cold-starts).")
@click.option("--workers", type=int, default=256, show_default=True,
              help="Workers n (the trace's first n; at most what it measured).")
@click.option("--schemes", default="gc,sgcflow", show_default=True,
              help="Comma-separated: uncoded, gc (best one-job GC on this trace), gc-batched "
                   "(the same, all models per invocation), sr-sgc, m-sgc, sgcflow; parameters "
                   "as NAME:KEY=VALUE, e.g. gc:s=3, m-sgc:B=1:W=2:lam=4, gc:policy=kofn.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Order of the measured rounds (the same for every scheme).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object keyed by scheme.")
def replay(trace, region, profile, mu, jobs, models, permute_workers, spares, workers, schemes,
           seed, as_json):
    """Run each scheme through the real state machine, handlers and decode in the emulator,
    with worker times from the trace on a virtual clock, and compare with `sgc simulate`.

    \b
    Per scheme: runtime_s (virtual, summed from the live run's collect records),
    simulated_runtime_s, rounds, fallbacks, late results counted, decoded_exactly (vs the
    numpy full-batch gradient, 1e-6 relative).
    \b
    Examples:
      sgc replay --workers 32 --gradients 6 --schemes gc,m-sgc,sgcflow
      sgc replay --models 2 --schemes gc-batched,sgcflow --workers 256 --gradients 40
      sgc replay --trace-region Canada --mu 1 --gradients 4 --json
    """
    from coordinator.cli.demo import quiet_handler_logs
    from coordinator.replay.livereplay import ReplayError, Settings, parse_schemes
    from coordinator.replay.livereplay import replay as run_replay

    quiet_handler_logs()  # one log line per worker and round would bury the table (or --json)

    settings = Settings(trace=trace, profile=profile, region=region, mu=mu, jobs=jobs,
                        workers=workers, seed=seed, models=models,
                        permute_workers=permute_workers, spares=spares)
    echo = (lambda _: None) if as_json else (lambda line: click.echo(line, err=True))
    try:
        results = run_replay(settings, parse_schemes(schemes), echo=echo)
    except ReplayError as error:
        raise click.BadParameter(str(error), param_hint=error.option) from None
    if as_json:
        click.echo(json.dumps({name: _public(row) for name, row in results.items()}, indent=2))
        return
    _print_table(results)


def _public(row: dict) -> dict:
    return {k: v for k, v in row.items() if not k.endswith("round_times_s")}


def _print_table(results: dict) -> None:
    header = ("scheme", "params", "batch", "load", "runtime s", "simulated s", "rounds",
              "fall-backs", "late results", "vs GC", "exact")
    click.echo(" | ".join(header))
    for name, row in results.items():
        params = ",".join(f"{k}={v}" for k, v in row["params"].items()) or "-"
        ratio = "-" if row["ratio_to_gc"] is None else f"{row['ratio_to_gc']:.3f}"
        click.echo(" | ".join([name, params, str(row["batch"]), f"{row['load']:.4f}",
                               f"{row['runtime_s']:.2f}", f"{row['simulated_runtime_s']:.2f}",
                               str(row["rounds"]), str(row["fallbacks"]),
                               str(row["late_results"]), ratio, str(row["decoded_exactly"])]))
