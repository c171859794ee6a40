"""`sgc bench warmstart`: sgcflow's second job on a workload, starting from what the first job
learned, against starting afresh and the best batched GC in hindsight (coordinator/replay/
warmstart.py: out of sample in time, the first job on the trace's first half of measured
rounds, the second scored on the second half). Every CNN setting, M = 2 and 4, the workers as
measured and dealt afresh per pass; ResNet-18 apart."""

from __future__ import annotations

import click

from . import benchio
from .bench_simulate import CNN, PERMUTE_SEED
from .benchio import geomean, json_option, markdown_table, out_option, setting_name, write_outputs


def rows_for(models_list, jobs: int, trace: str, echo=lambda _: None) -> list[dict]:
    from coordinator.replay.round_simulator import Replay
    from coordinator.replay.traces import LatencyModel
    from coordinator.replay.warmstart import second_job

    base = LatencyModel.from_parquet(trace)
    settings = [LatencyModel.from_parquet(trace, profile=i.profile, region=i.region)
                for i in base.profiles]
    rows = []
    for models in models_list:
        for permute in (None, PERMUTE_SEED):
            for latency in settings:
                echo(f"  M={models} {'permuted ' if permute else ''}{setting_name(latency)}")
                result = second_job(latency, jobs, Replay(models=models, permute_workers=permute))
                base_s = result["gc_batched"]["runtime_s"]
                rows.append({"setting": setting_name(latency), "cnn": CNN in latency.profile,
                             "models": models, "permuted": permute is not None, "jobs": jobs,
                             **result,
                             "afresh_to_gc_batched": result["afresh"]["runtime_s"] / base_s,
                             "learned_to_gc_batched": result["learned"]["runtime_s"] / base_s})
    return rows


def summary(rows: list[dict]) -> list[dict]:
    out = []
    for cnn in (True, False):
        for models in sorted({r["models"] for r in rows}):
            for permuted in (False, True):
                group = [r for r in rows if (r["cnn"], r["models"], r["permuted"]) ==
                         (cnn, models, permuted)]
                if group:
                    out.append({"profiles": "CNN" if cnn else "ResNet-18", "models": models,
                                "permuted": permuted, "rows": len(group), **{
                                    f"{k}_{stat.__name__}": stat(r[f"{k}_to_gc_batched"]
                                                                 for r in group)
                                    for k in ("afresh", "learned") for stat in (geomean, max)}})
    return out


def tables(rows: list[dict], groups: list[dict]) -> str:
    head = markdown_table([{**g, "workers": "dealt afresh" if g["permuted"] else "as measured",
                            "afresh": f"{g['afresh_geomean']:.3f} ({g['afresh_max']:.3f})",
                            "learned": f"{g['learned_geomean']:.3f} ({g['learned_max']:.3f})"}
                           for g in groups],
                          [("profiles", "profiles"), ("models", "M"), ("workers", "workers"),
                           ("rows", "settings"),
                           ("afresh", "first job (exploring) ÷ gc-batched: geomean (worst)"),
                           ("learned", "second job (learned) ÷ gc-batched: geomean (worst)")])
    body = markdown_table([{**r, "workers": "dealt afresh" if r["permuted"] else "as measured",
                            "halves": f"{r['rounds'][0]} + {r['rounds'][1]}",
                            "base": f"GC({r['gc_batched']['s']}): "
                                    f"{r['gc_batched']['runtime_s']:.1f} s",
                            "afresh": f"{r['afresh_to_gc_batched']:.3f}",
                            "learned": f"{r['learned_to_gc_batched']:.3f}",
                            "start": _start(r["learned"]["blocks"])} for r in rows],
                          [("setting", "setting"), ("models", "M"), ("workers", "workers"),
                           ("halves", "rounds (first + second half)"),
                           ("base", "best batched GC"), ("afresh", "afresh ÷ it"),
                           ("learned", "learned ÷ it"), ("start", "second job starts with")])
    return head + "\n\n" + body


def _start(blocks: list[dict]) -> str:
    first = blocks[0]
    if first["kind"] == "gc":
        return f"gc(s={first['s']})"
    return f"replicated(group={first['group']}, q={first['min_fraction']:g})"


@click.command()
@out_option
@json_option
@benchio.trace_option
@benchio.gradients_option("Gradients per job (J).")
@click.option("--models", "models_list", type=click.IntRange(min=1, max=64), multiple=True,
              default=(2, 4), show_default=True, help="Models in flight M (repeat).")
def warmstart(out, as_json, trace, jobs, models_list):
    """sgcflow's second job on the same workload, learned from the first, against exploring
    afresh and the best batched GC in hindsight (out of sample in time)."""
    rows = rows_for(models_list, jobs, trace, echo=lambda line: click.echo(line, err=True))
    groups = summary(rows)
    command = (f"sgc bench warmstart --gradients {jobs} "
               + " ".join(f"--models {m}" for m in models_list))
    write_outputs(out, "warmstart", {"rows": rows, "summary": groups}, tables(rows, groups),
                  command, as_json)
