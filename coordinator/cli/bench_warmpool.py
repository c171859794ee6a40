"""`sgc bench warmpool`: every keep-alive policy on the real Azure sample and the synthetic trace.

One run measures, side by side: the policies on the real 8-hour Azure Functions sample (both
arrival placements, scored after the warm-up), on the synthetic Huawei-schema trace, the wall
time of the whole Azure experiment on 500 functions resampled from the sample, and the cold
starts against idle GB-s of sgcflow's background policy at each exchange rate (hindsight, for
the plot only: the table's sgcflow row is tuned on the warm-up).
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from .benchio import json_option, markdown_table, out_option, write_outputs

SAMPLE = "data/azure2019_sample100"
COLUMNS = [("trace", "trace"), ("policy", "policy"), ("cold_start_rate", "cold-start rate"),
           ("cold_starts", "cold starts"), ("ratio", "vs hybrid"),
           ("p75_function_cold_start_rate", "p75 per app/fn"), ("idle_gb_s", "idle GB-s"),
           ("idle_ratio", "idle vs hybrid"), ("dollars", "$"),
           ("worker_cold_starts_after_lead", "worker cold after lead")]


def _rows(label: str, results: dict, scope: str) -> list[dict]:
    """Background (``trace``) metrics per policy, plus the jobs' late worker cold starts."""
    hybrid = results["hybrid-histogram"][scope]
    rows = []
    for policy, entry in results.items():
        part = entry[scope]
        rows.append({"trace": label, "policy": policy, **{k: part[k] for k in (
            "cold_start_rate", "cold_starts", "p75_function_cold_start_rate", "idle_gb_s",
            "dollars")},
            "ratio": part["cold_starts"] / hybrid["cold_starts"] if hybrid["cold_starts"] else None,
            "idle_ratio": part["idle_gb_s"] / hybrid["idle_gb_s"] if hybrid["idle_gb_s"] else None,
            "worker_cold_starts_after_lead": entry["jobs"]["worker_cold_starts_after_lead"]})
    return rows


SUMMARY_COLUMNS = [("arrivals", "arrivals"), ("seed", "seed"), ("hybrid_cold", "hybrid cold"),
                   ("sgcflow_cold", "sgcflow cold"), ("cold_ratio", "cold ratio"),
                   ("hybrid_idle", "hybrid idle GB-s"), ("sgcflow_idle", "sgcflow idle GB-s"),
                   ("idle_ratio", "idle ratio"), ("tuned", "tuned (exchange, min history)")]


def _versus(placement: str, seed: int, results: dict) -> dict:
    """sgcflow against the hybrid histogram on the background apps, one arrival seed."""
    hybrid, ours = results["hybrid-histogram"]["trace"], results["sgcflow"]["trace"]
    tuned = results["sgcflow"]["tuning"]
    return {"arrivals": placement, "seed": seed,
            "hybrid_cold": int(hybrid["cold_starts"]), "sgcflow_cold": int(ours["cold_starts"]),
            "cold_ratio": round(ours["cold_starts"] / max(hybrid["cold_starts"], 1), 3),
            "hybrid_idle": round(hybrid["idle_gb_s"]), "sgcflow_idle": round(ours["idle_gb_s"]),
            "idle_ratio": round(ours["idle_gb_s"] / max(hybrid["idle_gb_s"], 1e-9), 3),
            "tuned": f"{tuned.get('exchange_gb_s', '-')}, {tuned.get('min_history', '-')}"}


def _sweep(trace, warmup_minutes: int, seed: int, placement: str) -> list[dict]:
    from coordinator.warmpool import azure_streams
    from coordinator.warmpool.policies import IdleForecast
    from coordinator.warmpool.simulator import metrics

    warmup_s = 60.0 * warmup_minutes
    streams = azure_streams.app_streams(trace, seed, placement, split_at=(warmup_s / 2, warmup_s))
    points = []
    for exchange in (50.0, 100.0, 200.0, 400.0, 800.0, 1600.0, 3200.0, 6400.0):
        policy = IdleForecast(exchange)
        result = metrics(streams, policy.run(streams, trace.horizon_s, warmup_s), None, None,
                         warmup_s)
        points.append({"exchange_gb_s": exchange, "cold_start_rate": result["cold_start_rate"],
                       "cold_starts": result["cold_starts"], "idle_gb_s": result["idle_gb_s"]})
    return points


def _plot(panels: list[tuple[str, list[dict], list[dict]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.5))
    for axis, (title, rows, sweep) in zip(axes, panels, strict=True):
        if sweep:
            axis.plot([p["idle_gb_s"] for p in sweep], [p["cold_start_rate"] for p in sweep],
                      "-", color="0.7", label="sgcflow at each exchange rate (hindsight)")
        for row in rows:
            axis.plot(row["idle_gb_s"], row["cold_start_rate"], "o", label=row["policy"])
        axis.set(title=title, xlabel="idle GB-s (background, scored minutes)",
                 ylabel="cold-start rate", yscale="log")
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


@click.command()
@out_option
@json_option
@click.option("--trace", "trace_dir", type=click.Path(), default=SAMPLE, show_default=True)
@click.option("--warmup-minutes", type=int, default=240, show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--functions", type=click.IntRange(1, 5000), default=500, show_default=True,
              help="Functions resampled from the trace for the speed measurement.")
@click.option("--days", type=click.FloatRange(0.25, 7), default=2.0, show_default=True,
              help="Days of synthetic Huawei-schema trace.")
@click.option("--seeds", type=click.IntRange(1, 20), default=3, show_default=True,
              help="Arrival seeds (seed, seed+1, ...) for the sgcflow vs hybrid summary.")
def warmpool(out, as_json, trace_dir, warmup_minutes, seed, functions, days, seeds):
    """Policies side by side on the real Azure sample and the synthetic trace, 500-function
    speed, and a plot of cold starts against idle GB-s."""
    from coordinator.warmpool import azure2019, azure_streams, realtrace, simulator

    try:
        trace = azure2019.load(Path(trace_dir))
        realtrace.check_warmup(trace, warmup_minutes)
    except azure2019.TraceError as error:
        raise click.UsageError(str(error)) from error
    rows, tuning, panels, summary = [], {}, [], []
    for placement in azure_streams.PLACEMENTS:
        click.echo(f"  azure sample, {placement} arrivals", err=True)
        for extra in range(seeds):
            results = realtrace.experiment(trace, warmup_minutes, seed + extra, placement)
            summary.append(_versus(placement, seed + extra, results))
            if extra == 0:
                first = results
        results = first
        label = f"azure sample ({placement})"
        rows += _rows(label, results, "trace")
        tuning[label] = {k: v for k, v in results["sgcflow"]["tuning"].items()
                         if k != "candidates"}
        panels.append((f"Azure sample, {placement} arrivals", rows[-5:],
                       _sweep(trace, warmup_minutes, seed, placement)))
    click.echo(f"  synthetic Huawei-schema trace, {days:g} days", err=True)
    synthetic = simulator.experiment(seed, days)
    rows += _rows("synthetic", synthetic, "trace")
    panels.append((f"synthetic Huawei schema, {days:g} days", rows[-5:], []))
    click.echo(f"  speed: {functions} functions resampled", err=True)
    bigger = azure_streams.resample(trace, functions, seed)
    started = time.perf_counter()
    speed_results = realtrace.experiment(bigger, warmup_minutes, seed, "poisson")
    speed = {"functions": functions, "minutes": int(len(bigger.minutes)),
             "invocations": bigger.invocations(),
             "seconds": round(time.perf_counter() - started, 2),
             "policies": len(speed_results)}
    rows += _rows(f"{functions} resampled", speed_results, "trace")
    plot_path = Path(out) / "warmpool.png"
    plot_path.parent.mkdir(parents=True, exist_ok=True)
    _plot(panels, plot_path)
    payload = {"rows": rows, "tuning": tuning, "speed": speed, "seeds": summary,
               "sweep": {title: sweep for title, _, sweep in panels if sweep},
               "plot": str(plot_path)}
    table = markdown_table([_formatted(row) for row in rows], COLUMNS)
    table += "\n\n" + markdown_table(summary, SUMMARY_COLUMNS)
    table += (f"\n\nSpeed: the whole Azure experiment (replay, tuning, 5 policies, job mix) on "
              f"{functions} functions x {speed['minutes']} minutes ({speed['invocations']} "
              f"invocations): {speed['seconds']} s.")
    write_outputs(out, "warmpool", payload, table,
                  f"sgc bench warmpool --warmup-minutes {warmup_minutes} --seed {seed} "
                  f"--functions {functions} --days {days:g} --seeds {seeds}", as_json)


def _formatted(row: dict) -> dict:
    shown = dict(row)
    shown["cold_start_rate"] = f"{row['cold_start_rate']:.5f}"
    shown["cold_starts"] = f"{row['cold_starts']:.0f}"
    shown["p75_function_cold_start_rate"] = f"{row['p75_function_cold_start_rate']:.3f}"
    shown["idle_gb_s"] = f"{row['idle_gb_s']:.4g}"
    shown["dollars"] = f"{row['dollars']:.3f}"
    shown["worker_cold_starts_after_lead"] = f"{row['worker_cold_starts_after_lead']:.0f}"
    for key in ("ratio", "idle_ratio"):
        shown[key] = "-" if row[key] is None else f"{row[key]:.3f}"
    return shown
