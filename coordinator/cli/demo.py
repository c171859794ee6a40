"""`sgc demo`: several models trained at once with M-SGC and with GC, same injected stragglers.

The models: softmax regression and two deep MLPs (two tanh layers of 256 and of 128 units) on
scikit-learn's digits; each run's accuracy and parameters are compared with a numpy reference.

Everything runs locally: an in-process emulator (moto + the real handlers), one job per scheme
through the real state machine, and a full-batch numpy reference of the same training. Writes
``demo.{md,json,png}``: the table, the report and the plot (loss curves + straggler timeline).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import numpy as np

from coordinator.cli import stack
from coordinator.cli.options import json_flag
from coordinator.control import inject, reference
from coordinator.control.plan import JobPlan
from coordinator.control.run_dataset import shuffled_table
from coordinator.control.summary import round_rows
from coordinator.replay.traces import SHIPPED_TRACE as TRACE
from coordinator.spec.jobspec import validate

# What the first `sgc demo` on a machine spends compiling the workers' Numba kernels, cached after
# (docs/benchmarks.md, "The demo": 2 min 24 s with an empty cache on 2 loaded shared cores).
COMPILE_ESTIMATE = "about 2-5 min"


def demo_specs(workers: int, iterations: int | None = None) -> dict[str, dict]:
    """The two job specs: same data, models, stragglers; M-SGC vs GC tolerating as many."""
    lam = max(2, workers // 16)
    iterations = iterations or (8 if workers < 128 else 4)
    base = {
        # scikit-learn's digits (1797 8x8 images, 10 classes): a linear model and two deep MLPs
        # (85k and 26k parameters), whose accuracy the report sets against the numpy reference
        "dataset": {"name": "digits"},
        "models": [{"kind": "softmax", "lr": 0.01, "seed": 0},
                   {"kind": "mlp", "hidden": [256, 256], "activation": "tanh", "lr": 0.3,
                    "seed": 1},
                   {"kind": "mlp", "hidden": [128, 128], "activation": "tanh", "lr": 0.1,
                    "seed": 2}],
        "iterations": iterations, "workers": workers,
        # In-process workers share 2 cores: the deadline grows with their number. An injected
        # straggler finishes 3 x deadline + 1 s late (the default), so a round that also has
        # natural stragglers (outside the model) waits for it rather than for the hard limit.
        "wait": {"deadline_s": round(max(1.0, 0.5 + 0.03 * workers), 2), "hard_limit_s": 120},
        "stragglers": {"model": "bursty", "B": 1, "W": 2, "lam": lam, "rate": 0.5, "seed": 7},
    }
    return {"M-SGC": {**base, "name": "demo-m-sgc",
                      "scheme": {"name": "m-sgc", "B": 1, "W": 2, "lam": lam}},
            "GC": {**base, "name": "demo-gc", "scheme": {"name": "gc", "s": lam}}}


def run_demo(workers: int = 16, iterations: int | None = None, out: str = "data/demo",
             echo: Callable[[str], None] = print,
             watch: Callable[[Any, str], Any] | None = None,
             replay: bool = True) -> dict[str, Any]:
    """Run both jobs; ``watch(backend, job)``, if given, shows progress until the job ends.
    Then (``replay``) the live-vs-simulator comparison on the measured trace
    (``coordinator.cli.demo_replay``)."""
    quiet_handler_logs()
    from coordinator.backends import emulator_backend
    from coordinator.emulator import Emulator

    specs = demo_specs(workers, iterations)
    first = next(iter(specs.values()))
    steps = 4 if replay else 3
    echo(f"sgc demo: {len(first['models'])} models ({', '.join(map(model_name, first['models']))})"
         f" x {first['iterations']} iterations on scikit-learn's digits, {workers} workers, "
         f"bursty stragglers injected (lam={first['stragglers']['lam']}), deadline "
         f"{first['wait']['deadline_s']} s; trained with M-SGC, then with GC, then checked "
         f"against numpy. Everything runs on this machine: no AWS account.")
    echo(f"[1/{steps}] Starting the local emulator (moto + the real Lambda handlers, in this "
         f"process) and loading the workers' Numba kernels. The first run on a machine compiles "
         f"them: {COMPILE_ESTIMATE}; cached after, then a few seconds.")
    started = time.perf_counter()
    import functions.worker  # noqa: F401  (Numba start-up once, before any round is timed)

    echo(f"      kernels ready in {time.perf_counter() - started:.1f} s")
    runs: dict[str, dict] = {}
    with Emulator() as emulator:
        backend = emulator_backend(emulator)
        echo(f"      emulator up in {time.perf_counter() - started:.1f} s")
        for i, (name, spec) in enumerate(specs.items(), start=1):
            echo(f"[{1 + i}/{steps}] Training run {i} of {len(specs)}: "
                 f"{validate(spec).scheme().describe()}, {spec['iterations']} iterations of each "
                 f"model through the Step Functions workflow (the bar counts rounds)")
            t0 = time.perf_counter()
            run_id = backend.submit(validate(spec))
            if watch is not None:
                watch(backend, run_id)
            described = emulator.wait(backend.store.job(run_id)["execution_arn"], 3600)
            if described["status"] != "SUCCEEDED":
                raise RuntimeError(f"{name} job {run_id} {described['status']}: "
                                   f"{backend.store.job(run_id).get('error')}")
            runs[name] = _collect(backend, run_id, time.perf_counter() - t0)
            echo(f"      {name} {run_id}: {runs[name]['rounds']} rounds in "
                 f"{runs[name]['wall_s']:.1f} s")
    echo("      comparing with the numpy full-batch reference of the same training ...")
    report = _report(specs, runs, workers)
    _write(report, Path(out), echo)
    echo("Both runs decode every gradient exactly (max_param_diff_vs_numpy). In emulation a "
         "worker's compute is tiny, so wall time reflects rounds and coordinator overhead, not "
         "load; the replay below times the schemes on measured Lambda delays.")
    if replay:
        from coordinator.cli.demo_replay import run_replay_demo

        echo(f"[{steps}/{steps}] Replay: the same workflow on measured Lambda worker times (a "
             f"virtual clock, nobody sleeps), each scheme run live and in the simulator, side "
             f"by side")
        report["replay"] = run_replay_demo(Path(out), echo, watch=watch)
    echo(f"total {time.perf_counter() - started:.1f} s")
    return report


def model_name(model: dict) -> str:
    """A model as a reader knows it: ``softmax``, ``mlp [256, 256] tanh``."""
    if model["kind"] != "mlp":
        return model["kind"]
    hidden = model["hidden"] if isinstance(model["hidden"], list) else [model["hidden"]]
    return f"mlp {hidden} {model.get('activation', 'relu')}"


def quiet_handler_logs() -> None:
    """The handlers' structured INFO logs (one per worker per round) would bury the output."""
    import os

    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")


def _collect(backend, run_id: str, wall_s: float) -> dict[str, Any]:
    record = backend.store.job(run_id)
    plan = JobPlan.from_dict(record["plan"])
    result = backend.store.get_json(f"runs/{run_id}/result.json")
    rows = round_rows(backend.store.rounds(run_id))
    params = [backend.store.get_array(plan.final_params_key(m)) for m in range(plan.M)]
    starts = [r["dispatched_at"] for r in rows]
    gaps = np.diff(starts) if len(starts) > 1 else np.array([0.0])
    overhead = [(r["dispatch_s"] or 0) + (r["collect_busy_s"] or 0) + (r["update_s"] or 0)
                for r in rows]
    waits = [(r["wait_s"] or 0) + (r["update_s"] or 0) for r in rows[:-1]]
    return {"job": run_id, "wall_s": wall_s, "rounds": len(rows), "plan": plan, "params": params,
            "loss_at": _loss_at(plan, rows),
            "models": result["models"], "summary": result["summary"],
            "stragglers": [r["stragglers"] for r in rows],
            "flagged": [r["round"] for r in rows if r["flags"]],
            "overhead_s": float(np.mean(overhead)),
            "round_s": float(np.mean(gaps)),
            # between two dispatches: the wait (dispatch + collect), the update, and moto's own
            # Step Functions / Lambda plumbing, which is what remains
            "emulator_s": float(np.mean(gaps) - np.mean(waits or [0]))}


def _loss_at(plan: JobPlan, rows: list[dict]) -> list[list[tuple[float, float]]]:
    """Per model, (seconds since the first round was dispatched, loss) of each decoded
    iteration, timed when its round ended: the next round's dispatch, or for the last round its
    wait and update."""
    points: list[list[tuple[float, float]]] = [[] for _ in range(plan.M)]
    if not rows or rows[0]["dispatched_at"] is None:
        return points
    start = rows[0]["dispatched_at"]
    for i, row in enumerate(rows):
        following = rows[i + 1]["dispatched_at"] if i + 1 < len(rows) else None
        ended = following if following is not None else (
            (row["dispatched_at"] or start) + (row["wait_s"] or 0) + (row["update_s"] or 0))
        for job, loss in sorted(row["losses"].items()):
            if loss is not None:
                points[plan.model_of(job)[0]].append((round(ended - start, 3), loss))
    return points


def _report(specs: dict, runs: dict, workers: int) -> dict[str, Any]:
    spec = next(iter(specs.values()))
    X, y = shuffled_table(spec["dataset"])
    plan = next(iter(runs.values()))["plan"]
    ref = [reference.train(plan.models[m], model["lr"], model["seed"], spec["iterations"], X, y)
           for m, model in enumerate(spec["models"])]
    rows = []
    for name, run in runs.items():
        scheme = validate(specs[name]).scheme()
        rows.append({
            "scheme": f"{name} {scheme.describe()}", "load": round(scheme.load, 4),
            "wall_s": round(run["wall_s"], 1), "rounds": run["rounds"],
            "stragglers": sum(map(len, run["stragglers"])), "flagged": len(run["flagged"]),
            "final_loss": [round(m["losses"][-1], 4) for m in run["models"]],
            "accuracy": [round(reference.accuracy(plan.models[m], X, y, p), 4)
                         for m, p in enumerate(run["params"])],
            "max_param_diff_vs_numpy": float(max(np.abs(p - r[0]).max()
                                                 for p, r in zip(run["params"], ref,
                                                                 strict=True))),
            "overhead_s_per_round": round(run["overhead_s"], 3),
            "emulator_s_per_round": round(run["emulator_s"], 3),
            "aws_cost": run["summary"]["cost"],
            **_aws_round_model(scheme.load, workers),
        })
    final_losses = []
    for m, (params, _) in enumerate(ref):
        loss_sum, _ = reference.full_batch(plan.models[m], X, y, params)
        final_losses.append(round(loss_sum / len(y), 4))
    rows.append({"scheme": "numpy full-batch reference", "load": 1.0, "wall_s": None,
                 "rounds": spec["iterations"], "stragglers": 0, "flagged": 0,
                 "final_loss": [round(losses[-1], 4) for _, losses in ref],
                 "accuracy": [round(reference.accuracy(plan.models[m], X, y, p), 4)
                              for m, (p, _) in enumerate(ref)],
                 "max_param_diff_vs_numpy": 0.0, "final_loss_after_last_step": final_losses})
    curves = {name: [m["losses"] for m in run["models"]] for name, run in runs.items()}
    curves["numpy"] = [losses for _, losses in ref]
    loss_at = {name: run["loss_at"] for name, run in runs.items()}
    injected = inject.pattern(spec["stragglers"], workers, max(r["rounds"] for r in
                                                                runs.values()))
    return {"workers": workers, "models": spec["models"], "iterations": spec["iterations"],
            "rows": rows, "curves": curves, "loss_at": loss_at,
            "injected": [sorted(s) for s in injected],
            "observed": {name: run["stragglers"] for name, run in runs.items()}}


def _aws_round_model(load: float, workers: int, rounds: int = 200) -> dict[str, float]:
    """What one round would cost on Lambda: worker seconds from the measured trace at the
    scheme's normalized load (data/lambda_delays.parquet), the transitions of ``rounds`` rounds
    in Round tasks of the default budget, and the Round function running for the slowest
    worker's time per round (an upper bound on its wait)."""
    from coordinator.control import cost
    from coordinator.control.runner import rounds_per_task
    from coordinator.replay.traces import LatencyModel
    from coordinator.workflow import resources

    if not TRACE.exists():
        return {}
    times = LatencyModel.from_parquet(TRACE).round_times(load, rounds,
                                                         rng=np.random.default_rng(0))
    times = np.tile(times, (1, -(-workers // times.shape[1])))[:, :workers]
    total = cost.estimate(
        worker_seconds=float(times.sum()), worker_invocations=workers * rounds,
        worker_memory_mb=resources.WORKER_MEMORY_MB,
        step_seconds=float(times.max(axis=1).sum()) + 0.5 * rounds,
        step_memory_mb=resources.STEP_MEMORY_MB, rounds=rounds,
        rounds_per_task=rounds_per_task())
    per_round = {"worker_gb_s": total["worker_gb_s"] / rounds,
                 "coordinator_gb_s": total["coordinator_gb_s"] / rounds,
                 "usd": total["usd_per_round"]}
    return {"aws_gb_s_per_round": round(per_round["worker_gb_s"]
                                        + per_round["coordinator_gb_s"], 3),
            "aws_usd_per_round": per_round["usd"]}


def _write(report: dict, out: Path, echo: Callable[[str], None]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    columns = ["scheme", "load", "wall_s", "rounds", "stragglers", "flagged", "final_loss",
               "accuracy", "max_param_diff_vs_numpy", "overhead_s_per_round",
               "emulator_s_per_round", "aws_gb_s_per_round", "aws_usd_per_round"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in report["rows"]:
        lines.append("| " + " | ".join(_cell(row.get(c)) for c in columns) + " |")
    table = "\n".join(lines)
    path = {ext: out / f"demo.{ext}" for ext in ("md", "json", "png")}
    path["md"].write_text(f"# sgc demo ({report['workers']} workers)\n\n{table}\n")
    path["json"].write_text(json.dumps(report, indent=1, default=str))
    _plot(report, path["png"])
    echo(table)
    echo(f"wrote {', '.join(str(p) for p in path.values())}")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return " / ".join(_cell(v) for v in value)
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e-2 and value else f"{value}"
    return str(value)


def _plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (losses, timeline) = plt.subplots(1, 2, figsize=(13, 4.8))
    names = [model_name(model) for model in report["models"]]
    styles = {"M-SGC": "-", "GC": "--"}
    for name, per_model in report["loss_at"].items():
        for m, points in enumerate(per_model):
            if not points:
                continue  # nothing drawn, no legend entry
            losses.plot(*zip(*points, strict=True), styles.get(name, "-"), color=f"C{m}",
                        label=f"{name}: {names[m]}", marker="o" if name == "M-SGC" else None,
                        markersize=3)
    losses.set(xlabel="seconds since the job's first round (wall clock, emulated)",
               ylabel="training loss (mean over rows)",
               title="loss per model (equal to numpy's full-batch reference: see the table)")
    losses.legend(fontsize=7)
    for offset, (name, rounds) in zip((-0.15, 0.15), report["observed"].items(), strict=False):
        xs = [t + 1 + offset for t, s in enumerate(rounds) for _ in s]
        ys = [w for s in rounds for w in s]
        if xs:
            timeline.scatter(xs, ys, s=14, marker="s" if name == "GC" else "o", label=name)
    timeline.set(xlabel="round", ylabel="worker", title="observed stragglers (injected bursty)")
    if timeline.get_legend_handles_labels()[0]:
        timeline.legend(fontsize=8)
    fig.suptitle(f"sgc demo: {report['workers']} workers, {len(report['models'])} models at once")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def measure_overhead(worker_counts: list[int], rounds: int = 4,
                     echo: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Per-round coordinator overhead vs workers: one GC job per count, no stragglers.

    Coordinator = dispatch (async invokes) + collect CPU (polls, result checks, decodability)
    + update (decode + step); the emulator's own cost = round wall time minus the wait for the
    workers and minus the update (moto's transitions and Lambda plumbing).
    """
    quiet_handler_logs()
    import functions.worker  # noqa: F401
    from coordinator.backends import emulator_backend
    from coordinator.emulator import Emulator

    rows = []
    with Emulator() as emulator:
        backend = emulator_backend(emulator)
        for n in worker_counts:
            spec = {"name": f"overhead-{n}", "workers": n, "iterations": rounds,
                    "dataset": {"name": "synthetic", "rows": 64 * n, "features": 16,
                                "classes": 4, "seed": 1},
                    "models": [{"kind": "softmax", "lr": 0.1}],
                    "scheme": {"name": "gc", "s": 1}, "wait": {"deadline_s": 600.0}}
            run_id = backend.submit(validate(spec))
            emulator.wait(backend.store.job(run_id)["execution_arn"], 3600)
            log = round_rows(backend.store.rounds(run_id))[1:]  # round 1 warms caches
            gaps = np.diff([r["dispatched_at"] for r in log])
            row = {"workers": n,
                   "dispatch_s": _mean(r["dispatch_s"] for r in log),
                   "collect_cpu_s": _mean(r["collect_busy_s"] for r in log),
                   "update_s": _mean(r["update_s"] for r in log),
                   "round_wall_s": float(np.mean(gaps)),
                   "worker_wait_s": _mean(r["wait_s"] for r in log[:-1])}
            row["coordinator_s"] = row["dispatch_s"] + row["collect_cpu_s"] + row["update_s"]
            row["emulator_s"] = row["round_wall_s"] - row["worker_wait_s"] - _mean(
                r["update_s"] for r in log[:-1])
            rows.append({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()})
            echo(json.dumps(rows[-1]))
    return rows


def _mean(values) -> float:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else 0.0


@click.command()
@click.option("--workers", type=click.IntRange(2, 1000), default=16, show_default=True,
              help="Workers per round (256 works too; slower on 2 cores).")
@click.option("--iterations", type=click.IntRange(1, 1000), default=None,
              help="Iterations per model (default 8, or 4 from 128 workers).")
@click.option("--out", type=click.Path(file_okay=False), default="data/demo", show_default=True,
              help="Folder for demo.{png,md,json} and replay.{png,md,json}.")
@click.option("--overhead", default=None, metavar="N,N,..",
              help="Instead: measure per-round coordinator overhead at these worker counts.")
@json_flag("Print the report as JSON.")
def demo(workers: int, iterations: int | None, out: str, overhead: str | None,
         as_json: bool) -> None:
    """Train several models at once with M-SGC and with GC on the same injected stragglers.

    Runs entirely locally (moto + the real handlers in-process), prints a side-by-side table
    with a full-batch numpy reference, and writes a PNG of loss curves and stragglers.

    \b
    Examples:
      sgc demo
      sgc demo --workers 256
      sgc demo --overhead 32,128,256   # coordinator overhead per round vs workers
    """
    if overhead:
        try:
            counts = [int(x) for x in overhead.split(",")]
        except ValueError:
            raise click.BadParameter(f"not a list of integers: {overhead[:80]!r}",
                                     param_hint="--overhead") from None
        if not 1 <= len(counts) <= 16 or not all(2 <= c <= 1000 for c in counts):
            raise click.BadParameter("give 1..16 worker counts, each in [2, 1000]",
                                     param_hint="--overhead")
        rows = measure_overhead(counts, echo=lambda s: click.echo(s, err=True))
        return stack.echo_json(rows) if as_json else stack.table(list(rows[0]), rows)

    report = run_demo(workers=workers, iterations=iterations, out=out,
                      echo=(lambda s: click.echo(s, err=True)) if as_json else click.echo,
                      watch=None if as_json else stack.watch)
    if as_json:
        stack.echo_json(report)

