"""`sgc warmpool …`: cold-start statistics, policy simulation, job warm-pool plans, sample data."""

from __future__ import annotations

import json
from pathlib import Path

import click

from coordinator.cli.options import Choice, json_flag
from coordinator.cli.types import SEED, FiniteFloat

SAMPLE = "data/coldstart_sample"
FORMATS = ("huawei", "azure2019")
PLACEMENTS = ("poisson", "even")
POLICY_COLUMNS = {"cold_start_rate": "rate", "p75_app_cold_start_rate": "p75 app rate",
                  "cold_start_seconds": "cold s", "idle_gb_s": "idle GB-s", "dollars": "$",
                  "worker_cold_starts": "worker cold", "worker_cold_starts_after_lead":
                  "after lead", "late_task_cold_starts": "late tasks"}


def _floats(value):
    """JSON-ready copy (numpy scalars -> float, NaN -> null)."""
    if isinstance(value, dict):
        return {key: _floats(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_floats(item) for item in value]
    if isinstance(value, float) or hasattr(value, "item"):
        number = float(value)
        return None if number != number else number
    return value


@click.group()
def warmpool() -> None:
    """Warm pool: cold-start statistics, keep-alive policy simulation, provisioning plans."""


@warmpool.command()
@click.argument("path", type=click.Path(exists=True), default=SAMPLE)
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="PNG to write [default: PATH/coldstart_stats.png, or PATH with .png].")
@click.option("--parquet", type=click.Path(dir_okay=False), default=None,
              help="Also write the well-formed rows as one Parquet file.")
@json_flag("Print the statistics as JSON.")
def stats(path: str, plot_path: str | None, parquet: str | None, as_json: bool) -> None:
    """Per-region cold-start statistics of a trace in the Huawei schema (CSV folder or Parquet)."""
    from coordinator.warmpool import schema
    from coordinator.warmpool import stats as statistics

    if plot_path is None:
        root = Path(path)
        plot_path = str(root / "coldstart_stats.png" if root.is_dir() else
                        root.with_suffix(".png"))
    table, report = schema.load_trace(Path(path))
    requests, lifetimes = statistics.side_tables(Path(path))
    result = statistics.region_stats(table, requests, lifetimes)
    statistics.plot(table, result, Path(plot_path))
    if parquet:
        schema.to_parquet(table, Path(parquet))
    summary = {"rows_read": report.rows_read, "rows_kept": report.rows_kept,
               "malformed": dict(report.malformed), "regions": result, "plot": plot_path}
    if as_json:
        click.echo(json.dumps(_floats(summary), indent=2))
        return
    click.echo(f"{report.rows_read} rows in {report.files} files, {report.rows_kept} kept, "
               f"{report.rows_malformed} malformed {dict(report.malformed)}")
    click.echo(f"{'region':8}{'cold':>8}{'rate':>8}{'p50 s':>8}{'p99 s':>8}{'mean s':>8}"
               f"{'sched%':>8}{'pod%':>7}{'utility':>9}{'gap s':>8}{'weibull k':>10}")
    for region, entry in result.items():
        share = entry["component_share"]
        utility = entry.get("pod_utility", {}).get("median", float("nan"))
        click.echo(f"{region:8}{entry['cold_starts']:>8}{entry.get('cold_start_rate', 0):>8.3f}"
                   f"{entry['total']['p50']:>8.2f}{entry['total']['p99']:>8.2f}"
                   f"{entry['total']['mean']:>8.2f}{100 * share['schedulingCost']:>8.0f}"
                   f"{100 * share['podAllocationCost']:>7.0f}{utility:>9.2f}"
                   f"{entry['interarrival']['mean']:>8.2f}"
                   f"{entry['interarrival']['weibull_shape']:>10.2f}")
    click.echo(f"plot: {plot_path}")


@warmpool.command()
@json_flag("Print the JSON keyed by policy name.")
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--trace", "trace_dir", type=click.Path(), default=None,
              help="A trace folder (with --format azure2019: invocations.csv, durations.csv, "
                   "memory.csv). Without it: the synthetic Huawei-schema trace.")
@click.option("--format", "trace_format", type=Choice(FORMATS), default="huawei",
              show_default=True, help="huawei: the seeded synthetic trace in the Huawei "
              "schema; azure2019: the Azure Functions 2019 public format read from --trace.")
@click.option("--warmup-minutes", type=int, default=None,
              help="Minutes that only train the policies (sgcflow is tuned on them); later "
                   "minutes are scored. Default: 240 for azure2019, 0 for huawei (nothing "
                   "tuned, everything scored).")
@click.option("--arrivals", type=Choice(PLACEMENTS), default="poisson",
              show_default=True, help="azure2019: place a minute's invocations as seeded "
              "Poisson arrivals or evenly spaced.")
@click.option("--drop-malformed", is_flag=True,
              help="azure2019: drop malformed rows (reported on stderr) instead of refusing.")
@click.option("--days", type=FiniteFloat(0, 60, open_low=True), default=2.0, show_default=True)
@click.option("--functions-per-region", type=click.IntRange(1, 1000), default=40,
              show_default=True)
@click.option("--jobs-per-region", type=click.IntRange(0, 1000), default=6, show_default=True)
@click.option("--notice-share", type=FiniteFloat(0, 1), default=0.7, show_default=True,
              help="Share of the sgcflow jobs submitted with notice (sgc submit --start-at).")
@click.option("--sweep", is_flag=True,
              help="Also sweep every baseline over its settings: 'curves' (keep-alive 1-120 "
                   "min, the hybrid's percentiles and window, FaasCache 5-100 %%) and whether "
                   "sgcflow lies below each.")
def simulate(as_json: bool, seed: int, trace_dir: str | None, trace_format: str,
             warmup_minutes: int, arrivals: str, drop_malformed: bool, days: float,
             functions_per_region: int, jobs_per_region: int, notice_share: float,
             sweep: bool) -> None:
    """Replay a trace + an sgcflow job mix against every policy, side by side."""
    if trace_format == "azure2019":
        warmup = 240 if warmup_minutes is None else warmup_minutes
        results = _floats(_azure(trace_dir, warmup, seed, arrivals, drop_malformed,
                                 jobs_per_region, notice_share, sweep))
    else:
        if trace_dir is not None:
            raise click.UsageError("--trace: only --format azure2019 reads a trace folder; "
                                   "--format huawei generates its synthetic trace")
        from coordinator.warmpool.experiment import synthetic as experiment

        try:
            results = _floats(experiment(seed, days, functions_per_region, jobs_per_region,
                                         warmup_s=60.0 * (warmup_minutes or 0),
                                         notice_share=notice_share, sweep=sweep))
        except ValueError as error:
            raise click.UsageError(str(error)) from error
    if as_json:
        click.echo(json.dumps(results, indent=2))
        return
    _print_policies(results)


def _azure(trace_dir: str | None, warmup_minutes: int, seed: int, arrivals: str,
           drop_malformed: bool, jobs: int, notice_share: float, sweep: bool) -> dict:
    from coordinator.warmpool import azure2019, experiment

    if trace_dir is None:
        raise click.UsageError("--trace: --format azure2019 needs a trace folder")
    if not 0 <= jobs <= 100:
        raise click.UsageError(f"--jobs-per-region: expected 0..100, got {jobs}")
    try:
        trace = azure2019.load(Path(trace_dir), drop_malformed)
        if trace.report.rows_malformed:
            click.echo(f"dropped {trace.report.summary()}", err=True)
        return experiment.azure(trace, warmup_minutes, seed, arrivals, jobs,
                                notice_share=notice_share, sweep=sweep)
    except azure2019.TraceError as error:
        raise click.UsageError(str(error)) from error


def _print_policies(results: dict) -> None:
    policies = {name: entry for name, entry in results.items() if name != "curves"}
    for scope in ("all", "trace", "jobs"):
        click.echo(f"== {scope}")
        click.echo(f"{'policy':18}" + "".join(f"{c:>13}" for c in POLICY_COLUMNS.values()))
        for name, entry in policies.items():
            row = entry if scope == "all" else entry[scope]
            click.echo(f"{name:18}" + "".join(f"{row[c]:>13.4g}" for c in POLICY_COLUMNS))
    jobs = results["sgcflow"]["jobs"]
    if "all_day_warm_dollars" in jobs:
        click.echo(f"sgcflow job plans: ${jobs['plan_dollars']:.2f} vs "
                   f"${jobs['all_day_warm_dollars']:.2f} keeping the workers warm all day; "
                   f"{jobs['jobs_with_notice']} of {jobs['plans']} jobs with notice; worst job "
                   f"without: {jobs['jobs_without_notice']['worst_worker_cold_starts']:.0f} "
                   "worker cold starts, "
                   f"{jobs['jobs_without_notice']['worst_waited_s']:.0f} s before its capacity")
    tuning = results["sgcflow"].get("tuning")
    if tuning and "exchange_gb_s" in tuning:
        click.echo(f"sgcflow background policy tuned on {tuning['tuned_on']}: exchange "
                   f"{tuning['exchange_gb_s']:g} GB-s per cold start, min history "
                   f"{tuning['min_history']:g}, period margin {tuning['period_margin']:g}, "
                   f"minimum keep-alive {tuning.get('min_keep_s', 300.0):g} s")
    for family, curve in results.get("curves", {}).items():
        where = "below" if curve["below"] else "NOT below"
        click.echo(f"sgcflow is {where} the {family} curve ({len(curve['points'])} settings; "
                   f"dominated by: {', '.join(curve['dominated_by']) or 'none'})")


@warmpool.command()
@click.argument("job_spec", type=click.Path(exists=True, dir_okay=False))
@click.option("--start", "start_s", type=FiniteFloat(0), default=None,
              help="Job start, epoch seconds (default: now + the lead time).")
@click.option("--utilization", type=FiniteFloat(0, 1, open_low=True), default=0.8,
              show_default=True,
              help="Expected busy share of the workers' provisioned time.")
@click.option("--cold-p99", type=FiniteFloat(0, 900), default=None,
              help="99th percentile cold start (s) for pre-warming [default: the region's "
                   "published figure, docs/coldstart.md].")
@click.option("--stats", "stats_path", type=click.Path(exists=True), default=None,
              help="Take --cold-p99 from a cold-start trace (CSV folder or Parquet).")
@click.option("--prices", "prices_path", type=click.Path(exists=True, dir_okay=False),
              default=None, help="Per-region prices (JSON, as SGC_WARMPOOL_PRICES) "
                                 "[default: the published us-east-1 rates].")
@click.option("--apply", "apply_now", is_flag=True,
              help="Apply the plan to the stack now: provisioned concurrency on the worker "
                   "alias, waited for until READY (or the pre-warm pings).")
@click.option("--function", "function", default="sgcflow-worker", show_default=True,
              help="With --apply: the worker function.")
@click.option("--alias", default="live", show_default=True,
              help="With --apply: the worker alias.")
@click.option("--wait", "wait_s", type=FiniteFloat(0, 3600), default=600.0,
              show_default=True, help="With --apply: seconds to wait for READY.")
@json_flag()
def plan(job_spec: str, start_s: float | None, utilization: float, cold_p99: float | None,
         stats_path: str | None, prices_path: str | None, apply_now: bool, function: str,
         alias: str, wait_s: float, as_json: bool) -> None:
    """Per-region warm-pool plan for one job spec (YAML or JSON): provisioned or pre-warm,
    when, how much, at what price; with --apply, applied to the stack now."""
    if stats_path is not None:
        cold_p99 = _trace_p99(Path(stats_path))
    region_plans = _region_plans(Path(job_spec), start_s, utilization, cold_p99, prices_path)
    applied = _apply(region_plans, function, alias, wait_s) if apply_now else None
    if as_json:
        payload = [_floats(p.to_dict()) for p in region_plans]
        click.echo(json.dumps(payload if applied is None else {"plans": payload,
                                                                 "applied": applied}, indent=2))
        return
    for p in region_plans:
        click.echo(f"{p.region}: {p.mode} {p.amount} workers + {p.spare} spares, request at "
                   f"start-{p.start_s - p.request_s:.0f}s (lead {p.lead_s:.0f}s), release "
                   f"after {p.release_s - p.start_s:.0f}s; ${p.dollars:.2f} "
                   f"(provisioned ${p.provisioned_dollars:.2f}, on demand "
                   f"${p.on_demand_dollars:.2f}, 24 h warm ${p.all_day_dollars:.2f}; prices: "
                   f"{p.price_source}; cold-start p99 {p.cold_start_p99_s:.1f} s: "
                   f"{p.cold_source})")
    for result in applied or []:
        click.echo(f"applied {result['region']}: {result['mode']} {result['environments']} "
                   f"environments, {result['status']}")


def _trace_p99(path: Path) -> float:
    import numpy as np

    from coordinator.warmpool import schema

    table, _ = schema.load_trace(path)
    return float(np.quantile(schema.column(table, schema.TOTAL), 0.99))


def _region_plans(job_spec: Path, start_s: float | None, utilization: float,
                  cold_p99: float | None, prices_path: str | None) -> list:
    import time
    from dataclasses import replace

    from coordinator.warmpool import prices, spares
    from coordinator.warmpool.demand import load_job_spec
    from coordinator.warmpool.planner import lead_time_s, plan_job

    try:
        rates = prices.parse(Path(prices_path).read_text(), "--prices") if prices_path else {}
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    try:
        now = time.time()
        plans = load_job_spec(job_spec, 0.0)
        spare = spares.spare_environments(plans[0].workers)
        start = start_s if start_s is not None else now + lead_time_s(plans[0].workers + spare)
        plans = [replace(p, start_s=start, submit_s=min(now, start), spare=spare)
                 for p in plans]
        return [plan_job(p, utilization, cold_p99, prices.for_region(p.region, rates))
                for p in plans]
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="JOB_SPEC") from error


def _apply(region_plans: list, function: str, alias: str, wait_s: float) -> list[dict]:
    from botocore.exceptions import BotoCoreError, ClientError

    from coordinator.warmpool.apply import ApplyError, apply_plans

    try:
        return apply_plans(region_plans, function, alias, wait_s=wait_s)
    except ApplyError as error:
        raise click.ClickException(f"--apply: {error}") from error
    except (BotoCoreError, ClientError) as error:
        raise click.ClickException(f"--apply: cannot reach the worker alias {function}:{alias} "
                                   f"on AWS: {error}") from error


@warmpool.command()
@click.option("--out", type=click.Path(file_okay=False), default=SAMPLE, show_default=True)
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--days", type=FiniteFloat(0, 60, open_low=True), default=1.0, show_default=True)
@click.option("--functions-per-region", type=click.IntRange(1, 1000), default=8,
              show_default=True)
@click.option("--parquet", type=click.Path(dir_okay=False), default=None,
              help="Also write the cold-start rows as Parquet.")
@json_flag('Print {"out", "files", "bytes"}.')
def generate(out: str, seed: int, days: float, functions_per_region: int,
             parquet: str | None, as_json: bool) -> None:
    """Write a seeded synthetic trace in the Huawei schema (per region, per day, gzip CSV)."""
    from coordinator.warmpool import schema, synthetic

    workload = synthetic.generate(seed, days, functions_per_region)
    written = synthetic.write_sample(workload, Path(out), seed)
    if parquet:
        table, _ = schema.load_trace(Path(out))
        schema.to_parquet(table, Path(parquet))
    size = sum(path.stat().st_size for path in written)
    if as_json:
        click.echo(json.dumps({"out": out, "files": [str(p) for p in written], "bytes": size}))
        return
    click.echo(f"wrote {len(written)} files, {size / 1e6:.2f} MB under {out}")


@warmpool.command()
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--days", type=click.IntRange(2, 60), default=7, show_default=True)
@click.option("--held-out", type=click.IntRange(1, 59), default=2, show_default=True,
              help="Days held out for the error (fewer than --days).")
@json_flag()
def forecast(seed: int, days: int, held_out: int, as_json: bool) -> None:
    """Day-ahead forecast error per region (per-minute requests), members vs the ensemble."""
    if held_out >= days:
        raise click.BadParameter(f"must be fewer than --days ({days})", param_hint="--held-out")
    from coordinator.warmpool import forecast as forecasting
    from coordinator.warmpool import synthetic
    from coordinator.warmpool.demand import per_minute_requests

    workload = synthetic.generate(seed, float(days), functions_per_region=20)
    series: dict[str, object] = {}
    for key, counts in per_minute_requests(workload).items():
        region = key.split("/", 1)[0]
        series[region] = counts + series.get(region, 0)
    results = {region: forecasting.evaluate(values, held_out) for region, values in
               sorted(series.items())}
    if as_json:
        click.echo(json.dumps(_floats(results), indent=2))
        return
    for region, errors in results.items():
        click.echo(region + "  " + "  ".join(f"{name} wape={e['wape']:.3f}"
                                              for name, e in errors.items()))
