"""`sgc bench sensitivity`: how much sgcflow's result depends on each of its chooser's constants.

Every constant of ``coordinator.adaptive.Tuning`` is moved to each side of its shipped value,
one at a time, and sgcflow is replayed on every profile of the trace under several round orders
(the simulator's ``seed``), each against the best GC in-sample on the same order. A default
that only works at its exact constants was fitted to the data; one whose result barely moves
was not. CNN (the issue's targets) and the other profiles are summarized apart.
"""

from __future__ import annotations

import math
from dataclasses import replace

import click

from coordinator.cli.options import Choice

from . import benchio
from .benchio import geomean, json_option, markdown_table, out_option, setting_name, write_outputs

# (label, change from the shipped Tuning); the first row is the shipped default.
VARIANTS = [("as shipped", {}),
            ("hysteresis 0.5%", {"hysteresis": 0.005}), ("hysteresis 2%", {"hysteresis": 0.02}),
            ("re-choice at +10%", {"abort": 0.1}), ("re-choice at +50%", {"abort": 0.5}),
            ("reach x1.5", {"reach": 1.5}), ("reach x4", {"reach": 4.0}),
            ("reach unlimited", {"reach": math.inf}),
            ("window 50 rounds", {"window": 50}), ("blocks of 40 jobs", {"every": 40})]
SEEDS = ("none", "1", "2")


def run(trace: str, jobs: int, seeds, echo=lambda _: None) -> dict:
    """Every variant on every profile and round order; ratios to the best GC on the same one."""
    from coordinator.replay.comparison import compare, run_online
    from coordinator.replay.traces import LatencyModel

    from ..adaptive import Tuning

    base = LatencyModel.from_parquet(trace)
    models = [LatencyModel.from_parquet(trace, profile=i.profile, region=i.region)
              for i in base.profiles]
    orders = [None if s == "none" else int(s) for s in seeds]
    cases = [(model, seed) for model in models for seed in orders]
    best = [compare(model, ("gc",), 1.0, jobs, seed=seed)["gc"].runtime_s
            for model, seed in cases]
    rows = []
    for label, change in VARIANTS:
        echo(f"  {label}")
        tuning = replace(Tuning(), **change)
        ratios = [run_online(model, jobs, seed, tuning).runtime_s / gc
                  for (model, seed), gc in zip(cases, best, strict=True)]
        cnn = ["cnn" in model.profile for model, _ in cases]
        rows.append({"variant": label, "tuning": {**vars(tuning)},
                     **_group("cnn", [r for r, c in zip(ratios, cnn, strict=True) if c]),
                     **_group("other", [r for r, c in zip(ratios, cnn, strict=True) if not c]),
                     "ratios": {f"{setting_name(m)}|seed={seed}": r
                                for (m, seed), r in zip(cases, ratios, strict=True)}})
    return {"jobs": jobs, "seeds": list(seeds), "variants": rows}


def _group(name: str, ratios: list[float]) -> dict:
    return {f"{name}_geomean": geomean(ratios), f"{name}_max": max(ratios)} if ratios else {}


@click.command()
@out_option
@json_option
@benchio.trace_option
@benchio.gradients_option("Gradients per replay (J).")
@click.option("--seed", "seeds", multiple=True, default=SEEDS, show_default=True,
              type=Choice(["none", *map(str, range(10))]),
              help="Round orders: 'none' keeps the measured order, an integer shuffles it.")
def sensitivity(out, as_json, trace, jobs, seeds):
    """How sgcflow's ratio to the best GC moves with each of its chooser's constants."""
    payload = run(trace, jobs, seeds, echo=lambda line: click.echo(line, err=True))
    rows = [{"variant": r["variant"],
             "cnn": f"{r['cnn_geomean']:.3f} ({r['cnn_max']:.3f})",
             "other": f"{r['other_geomean']:.3f} ({r['other_max']:.3f})"
             if "other_geomean" in r else "-"} for r in payload["variants"]]
    table = markdown_table(rows, [("variant", "chooser constants"),
                                  ("cnn", "CNN: geomean (worst) sgcflow ÷ best GC"),
                                  ("other", "other profiles: geomean (worst)")])
    write_outputs(out, "sensitivity", payload, table,
                  f"sgc bench sensitivity --jobs {jobs} "
                  + " ".join(f"--seed {s}" for s in seeds), as_json)
