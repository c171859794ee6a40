"""The demo's second part: the live workflow replaying a measured Lambda trace, beside the
simulator (``sgc replay`` at a small default, with a plot).

The first part (``coordinator.cli.demo``) shows exact training under injected stragglers; this one
shows what the schemes' runtimes are on real Lambda delays and that the emulated system lands
where ``sgc simulate`` says it does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from coordinator.replay.traces import SHIPPED_TRACE as TRACE

DEFAULT_WORKERS = 32
DEFAULT_MODELS = 3  # as the demo's first part: the batched schemes carry all of them at once
DEFAULT_JOBS = 48  # gradients (16 per model): sgcflow explores first, fewer would show that
# M-SGC with one gradient per invocation takes half the replay's time and loses to GC here (1.77x
# in docs/benchmarks.md); `sgc replay --schemes gc,m-sgc,...` shows it on demand.
DEFAULT_SCHEMES = "gc,gc-batched,sgcflow"


def run_replay_demo(out: Path, echo: Callable[[str], None] = print,
                    workers: int = DEFAULT_WORKERS, jobs: int = DEFAULT_JOBS,
                    schemes: str = DEFAULT_SCHEMES,
                    models: int = DEFAULT_MODELS,
                    watch: Callable[[Any, str], Any] | None = None) -> dict[str, Any]:
    """Replay the trace through each scheme live and simulated; write replay.{md,json,png}.
    ``watch(backend, job)``, if given, shows each live run's progress."""
    from coordinator.replay.livereplay import Settings, parse_schemes, replay

    if not TRACE.exists():
        echo(f"replay skipped: {TRACE} is missing")
        return {}
    echo(f"sgc replay: {workers} workers, {models} models, {jobs} gradients, schemes {schemes}, "
         f"worker times from {TRACE.name} on a virtual clock")
    settings = Settings(trace=str(TRACE), profile=None, region=None, mu=1.0, jobs=jobs,
                        workers=workers, models=models)
    results = replay(settings, parse_schemes(schemes), echo=echo, watch=watch)
    out.mkdir(parents=True, exist_ok=True)
    table = _table(results)
    command = (f"sgc replay --workers {workers} --models {models} --gradients {jobs} "
               f"--schemes {schemes}")
    path = {ext: out / f"replay.{ext}" for ext in ("md", "json", "png")}
    path["md"].write_text(f"# sgc replay ({workers} workers)\n\n{table}\n\n"
                          f"Produced by: `{command}`\n")
    path["json"].write_text(json.dumps(results, indent=1))
    _plot(results, path["png"], workers)
    echo(table)
    echo(_verdict(results))
    echo(f"wrote {', '.join(str(p) for p in path.values())}")
    return results


def _verdict(results: dict) -> str:
    """What the table says, plainly, wins and losses alike."""
    lines = []
    if "gc" in results and "gc-batched" in results:
        ratio = results["gc-batched"]["runtime_s"] / results["gc"]["runtime_s"]
        lines.append(f"Batching: gc-batched computes all models' gradients in each invocation "
                     f"and takes {ratio:.2f}x the time of one gradient per invocation (gc).")
    if "sgcflow" in results and "gc-batched" in results:
        ratio = results["sgcflow"]["runtime_s"] / results["gc-batched"]["runtime_s"]
        word = "faster than" if ratio < 1 else "slower than"
        lines.append(f"sgcflow chooses online (batch included, exploring its first rounds) and "
                     f"is {ratio:.2f}x gc-batched, {word} the best batched GC chosen with "
                     f"hindsight on these very rounds.")
    lines.append("Over 400 gradients on every profile, permuted and out of sample: "
                 "sgc bench simulate.")
    return "\n".join(lines)


def _table(results: dict) -> str:
    columns = ["scheme", "load", "runtime_s", "simulated_runtime_s", "rounds", "fallbacks",
               "ratio_to_gc", "decoded_exactly"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for name, row in results.items():
        params = ",".join(f"{k}={v}" for k, v in row["params"].items())
        cells = [f"{name}({params})", f"{row['load']:.4f}", f"{row['runtime_s']:.2f}",
                 f"{row['simulated_runtime_s']:.2f}", str(row["rounds"]), str(row["fallbacks"]),
                 "-" if row["ratio_to_gc"] is None else f"{row['ratio_to_gc']:.3f}",
                 str(row["decoded_exactly"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _plot(results: dict, path: Path, workers: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, (rounds, totals) = plt.subplots(1, 2, figsize=(12, 4.5))
    for i, (name, row) in enumerate(results.items()):
        live, simulated = row["round_times_s"], row["simulated_round_times_s"]
        rounds.plot(range(1, len(simulated) + 1), np.cumsum(simulated), "-", color=f"C{i}",
                    label=f"{name} simulated")
        rounds.plot(range(1, len(live) + 1), np.cumsum(live), "o", color=f"C{i}",
                    markersize=4, label=f"{name} live (emulated)")
    rounds.set(xlabel="round", ylabel="elapsed (virtual s)",
               title="live workflow vs simulator, round by round")
    rounds.legend(fontsize=8)
    names = list(results)
    x = np.arange(len(names))
    totals.bar(x - 0.2, [results[n]["runtime_s"] for n in names], 0.4, label="live")
    totals.bar(x + 0.2, [results[n]["simulated_runtime_s"] for n in names], 0.4,
               label="simulated")
    totals.set_xticks(x, names)
    totals.set(ylabel="runtime (s)", title="total runtime on the measured trace")
    totals.legend(fontsize=8)
    fig.suptitle(f"sgc replay: {workers} workers on measured Lambda delays")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
