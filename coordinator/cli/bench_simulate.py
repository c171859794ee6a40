"""`sgc bench simulate`: sgcflow against the strongest GC, one-job and batched, on the real trace.

Per (M models, worker dealing, J, profile, region, mu), every scheme on the same measured rounds
with what Lambda does (stragglers run to their end and their late results count, busy workers'
tasks take other environments, the account's concurrency cap): the best one-job GC (``gc``) and
the best batched GC (``gc-batched``, all M models per invocation), both chosen in hindsight on
this very trace (s over 0..n-1, every policy, the top candidates replayed through the fleet),
M-SGC with the study's in-sample search, and sgcflow online. Every row twice: the measured
rounds replayed cyclically as measured, and with the workers dealt afresh each pass
(``--permute-workers``), so nothing learned about a worker in one pass is the next one's
answer. Then an out-of-sample block (gc-batched fitted on another profile) and the other
profiles (ResNet-18), reported apart.
"""

from __future__ import annotations

import click

from coordinator.cli.options import HiddenAliases
from coordinator.cli.types import finite_values

from . import benchio
from .benchio import geomean, json_option, markdown_table, out_option, setting_name, write_outputs

CNN = "cnn"
PERMUTE_SEED = 7  # the dealing of the "permuted" rows (any fixed seed: the same for every scheme)


def setting_row(model, mu: float, jobs: int, replay, online=None) -> dict:
    """One setting's runtimes and ratios (``online``: sgcflow's run, reused across mu)."""
    from coordinator.replay.bound import batched_gc_clairvoyant
    from coordinator.replay.comparison import compare, run_online

    runs = compare(model, ("gc", "gc-batched", "m-sgc"), mu, jobs, search=True, replay=replay)
    online = online or run_online(model, jobs, replay=replay)
    gc, batched = runs["gc"], runs["gc-batched"]
    clairvoyant = batched_gc_clairvoyant(model, jobs, replay)
    return {"profile": model.profile, "region": model.region, "mu": mu, "jobs": jobs,
            "models": replay.models, "permuted": replay.permute_workers is not None,
            "gc": f"s={gc.params['s']} {gc.policy.split('(')[0]}", "gc_runtime_s": gc.runtime_s,
            "gc_batched": f"s={batched.params['s']} {batched.policy.split('(')[0]}",
            "gc_batched_runtime_s": batched.runtime_s,
            "sgcflow_runtime_s": online.runtime_s,
            "sgcflow_to_gc": online.runtime_s / gc.runtime_s,
            "sgcflow_to_gc_batched": online.runtime_s / batched.runtime_s,
            "gc_batched_to_gc": batched.runtime_s / gc.runtime_s,
            # batched GC with the best s for every round, in hindsight: what any way of
            # choosing s online could win at most (bound.batched_gc_clairvoyant)
            "clairvoyant_to_gc_batched": clairvoyant / batched.runtime_s,
            "m_sgc_to_gc_batched": (runs["m-sgc"].runtime_s / batched.runtime_s
                                    if "m-sgc" in runs else None),
            "sgcflow_batches": online.batch, "sgcflow_late_results": online.late_results_used,
            "sgcflow_blocks": len(online.params), "sgcflow_late_jobs": online.late_jobs,
            "peak_concurrency": {"gc": gc.peak_concurrency, "gc_batched": batched.peak_concurrency,
                                 "sgcflow": online.peak_concurrency},
            "billed_gb_s": {"gc": gc.billed_gb_s, "gc_batched": batched.billed_gb_s,
                            "sgcflow": online.billed_gb_s},
            "_online": online}


def out_of_sample(models: list, mu: float, jobs: int, replay, online: dict) -> list[dict]:
    """gc-batched fitted on each model, evaluated on every other one; sgcflow beside it."""
    from coordinator.replay.round_simulator import run_scheme
    from coordinator.replay.search import best_gc

    batch = replay.models
    choices = [best_gc(model, mu, jobs, replay=replay, batch=batch) for model in models]
    in_sample = [c.estimate_s for c in choices]
    rows = []
    for fit, choice in zip(models, choices, strict=True):
        for model, best in zip(models, in_sample, strict=True):
            if model is fit:
                continue
            run = run_scheme(choice.scheme, model, jobs, choice.policy, replay=replay,
                             batch=batch)
            ours = online[setting_name(model)].runtime_s
            rows.append({"fit": setting_name(fit), "evaluate": setting_name(model),
                         "models": batch, "permuted": replay.permute_workers is not None,
                         "fitted": f"s={choice.scheme.s} {choice.policy.name}",
                         "fitted_to_in_sample": run.runtime_s / best,
                         "sgcflow_to_in_sample": ours / best,
                         "sgcflow_to_fitted": ours / run.runtime_s})
    return rows


@click.command()
@out_option
@json_option
@benchio.trace_option
@click.option("--gradients", "--jobs", "jobs_list", cls=HiddenAliases,
              type=click.IntRange(min=1, max=100_000),
              multiple=True, default=(400,), show_default=True,
              help="Gradients J in all (repeat for several).")
@click.option("--models", "models_list", type=click.IntRange(min=1, max=64), multiple=True,
              default=(2, 4), show_default=True, help="Models in flight M (repeat).")
@click.option("--mu", "mus", type=click.FloatRange(min=0), multiple=True,
              callback=finite_values, default=(0.5, 1.0), show_default=True)
def simulate(out, as_json, trace, jobs_list, models_list, mus):
    """sgcflow vs the best one-job and batched GC on every CNN profile, with the workers as
    measured and dealt afresh per pass; out of sample; ResNet-18 apart."""
    from coordinator.replay.round_simulator import Replay
    from coordinator.replay.traces import LatencyModel

    base = LatencyModel.from_parquet(trace)
    cnn = [LatencyModel.from_parquet(trace, profile=i.profile, region=i.region)
           for i in base.profiles if i.model == CNN]
    others = [LatencyModel.from_parquet(trace, profile=i.profile, region=i.region)
              for i in base.profiles if i.model != CNN]
    rows, oos, extra = [], [], []
    for jobs in jobs_list:
        for models in models_list:
            for permute in (None, PERMUTE_SEED):
                replay = Replay(models=models, permute_workers=permute)
                online = {}
                for model in cnn:
                    for mu in mus:
                        click.echo(f"  M={models} {'permuted ' if permute else ''}"
                                   f"{setting_name(model)} mu={mu} J={jobs}", err=True)
                        row = setting_row(model, mu, jobs, replay, online.get(setting_name(model)))
                        online[setting_name(model)] = row.pop("_online")
                        rows.append(row)
                click.echo(f"  M={models} out of sample J={jobs}", err=True)
                oos.extend(out_of_sample(cnn, max(mus), jobs, replay, online))
                for model in others:
                    click.echo(f"  M={models} other profile {setting_name(model)}", err=True)
                    row = setting_row(model, max(mus), jobs, replay)
                    row.pop("_online")
                    extra.append(row)
    summary = _summary(rows, extra)
    payload = {"settings": rows, "out_of_sample": oos, "other_profiles": extra,
               "summary": summary}
    command = ("sgc bench simulate " + " ".join(f"--gradients {j}" for j in jobs_list) + " "
               + " ".join(f"--models {m}" for m in models_list) + " "
               + " ".join(f"--mu {mu}" for mu in mus))
    write_outputs(out, "simulate", payload, _tables(rows, oos, extra, summary), command,
                  as_json)


def _summary(rows: list[dict], extra: list[dict]) -> dict:
    out = {}
    for key in sorted({(r["jobs"], r["models"], r["permuted"]) for r in rows}):
        jobs, models, permuted = key
        chosen = [r for r in rows if (r["jobs"], r["models"], r["permuted"]) == key]
        others = [r for r in extra if (r["jobs"], r["models"], r["permuted"]) == key]
        name = f"J={jobs} M={models}{' permuted' if permuted else ''}"
        out[name] = {
            "geomean_sgcflow_to_gc": geomean(r["sgcflow_to_gc"] for r in chosen),
            "geomean_sgcflow_to_gc_batched": geomean(r["sgcflow_to_gc_batched"] for r in chosen),
            "max_sgcflow_to_gc_batched": max(r["sgcflow_to_gc_batched"] for r in chosen),
            "geomean_gc_batched_to_gc": geomean(r["gc_batched_to_gc"] for r in chosen),
            "geomean_clairvoyant_to_gc_batched": geomean(r["clairvoyant_to_gc_batched"]
                                                         for r in chosen),
            **({"resnet18_max_sgcflow_to_best_gc": max(
                r["sgcflow_runtime_s"] / min(r["gc_runtime_s"], r["gc_batched_runtime_s"])
                for r in others)} if others else {}),
        }
    return out


def _ratio(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def _tables(rows, oos, extra, summary) -> str:
    def shown(r):
        return {**r, "profile": r["profile"].removeprefix("sam-gc-"),
                "permuted": "yes" if r["permuted"] else "no",
                "batches": ",".join(f"{b}x{c}" for b, c in r["sgcflow_batches"].items()),
                **{k: _ratio(r[k]) for k in ("sgcflow_to_gc", "sgcflow_to_gc_batched",
                                             "gc_batched_to_gc", "m_sgc_to_gc_batched",
                                             "clairvoyant_to_gc_batched")},
                **{k: f"{r[k]:.1f}" for k in ("gc_runtime_s", "gc_batched_runtime_s")}}

    columns = [("models", "M"), ("permuted", "dealt afresh"), ("profile", "profile"),
               ("region", "region"), ("mu", "μ"), ("jobs", "J"), ("gc", "best GC"),
               ("gc_runtime_s", "GC s"), ("gc_batched", "best batched GC"),
               ("gc_batched_runtime_s", "batched GC s"), ("gc_batched_to_gc", "batched ÷ GC"),
               ("m_sgc_to_gc_batched", "M-SGC ÷ batched"),
               ("sgcflow_to_gc", "sgcflow ÷ GC"), ("sgcflow_to_gc_batched", "sgcflow ÷ batched"),
               ("clairvoyant_to_gc_batched", "best s per round ÷ batched"),
               ("batches", "sgcflow batches"), ("sgcflow_late_results", "late results")]
    main = markdown_table([shown(r) for r in rows], columns)
    side = markdown_table([{**r, "permuted": "yes" if r["permuted"] else "no",
                            **{k: f"{r[k]:.3f}" for k in ("fitted_to_in_sample",
                                                          "sgcflow_to_in_sample",
                                                          "sgcflow_to_fitted")}} for r in oos], [
        ("models", "M"), ("permuted", "dealt afresh"), ("fit", "batched GC fitted on"),
        ("evaluate", "evaluated on"), ("fitted", "fitted"),
        ("fitted_to_in_sample", "fitted ÷ in-sample"),
        ("sgcflow_to_in_sample", "sgcflow ÷ in-sample"), ("sgcflow_to_fitted", "sgcflow ÷ fitted")])
    others = markdown_table([shown(r) for r in extra], columns)
    lines = [f"- {name}: " + ", ".join(f"{k} {v:.3f}" for k, v in s.items())
             for name, s in summary.items()]
    return (main + "\n\nRatios of runtimes on the same measured rounds (lower is faster).\n\n"
            "Out of sample (the batched GC's s and policy fitted on another profile):\n\n" + side
            + "\n\nOther profiles (ResNet-18), reported apart:\n\n" + others
            + "\n\nSummary:\n\n" + "\n".join(lines))
