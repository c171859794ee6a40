"""`sgc result JOB [--download DIR]`: a job's losses, metrics and cost; its trained models as
files (``coordinator/backends/model_export.py``, the files in
``coordinator/contract/trained.py``)."""

from __future__ import annotations

from typing import Any

import click

from coordinator.cli import stack
from coordinator.cli.options import json_flag
from coordinator.cli.stack import stack_options


@click.command()
@click.argument("run_id", metavar="JOB")
@stack_options
@click.option("--download", "folder", type=click.Path(file_okay=False), default=None,
              metavar="DIR", help="Write every model to DIR: model-<i>.npz (named arrays) and "
                                  "model-<i>.json (its card), checked against the job's "
                                  "record.")
@json_flag("Print JSON instead of tables.")
def result(run_id: str, local: bool | None, region: str | None, profile: str | None,
           folder: str | None, as_json: bool) -> None:
    """JOB's result: per-model losses and final parameters (s3:// URIs), metrics, cost
    estimate; with --download DIR, the trained models as files.

    A downloaded parameter file must hash to the digest the job recorded when it wrote it,
    else nothing is written. `sgc eval JOB --data FILE` scores the models on new data;
    `sgcflow.load_models(DIR)` loads them in Python (docs/python.md).

    \b
    Examples:
      sgc result run-20261125-101500-ab12cd --local --json
      sgc result run-20261125-101500-ab12cd --local --download models/
    """
    backend = stack.backend(local, region, profile)
    if folder is None:
        return print_result(backend, run_id, as_json)
    from coordinator.backends.model_export import download

    paths = download(backend.store, run_id, stack.record(backend, run_id), folder)
    if as_json:
        return stack.echo_json({"run_id": run_id, "files": [str(p) for p in paths]})
    for path in paths:
        click.echo(str(path))


def print_result(backend, run_id: str, as_json: bool) -> None:
    from coordinator.backends.outcome import NoResult, job_result

    record = stack.record(backend, run_id)
    try:
        full = job_result(backend.store, run_id, record)
    except NoResult as error:
        raise click.ClickException(str(error)) from None
    bucket = backend.store.bucket
    for m in full["models"]:
        key = m.get("final_params_key")
        m["final_params_uri"] = f"s3://{bucket}/{key}" if key else None
    if as_json:
        return stack.echo_json({"bucket": bucket,
                           **{k: v for k, v in full.items() if k != "rounds"}})
    summary = full.get("summary") or {}
    click.echo(f"{'status':>22}: {full['status']}" + (" (partial: no result.json; summarized "
                                                      "from the round log)"
                                                      if full.get("partial") else ""))
    for key in ("rounds", "decoded_jobs", "skipped_jobs", "stragglers", "flagged_rounds",
                "wall_s", "overhead_s_per_round"):
        click.echo(f"{key:>22}: {summary.get(key)}")
    click.echo(f"{'cost (AWS estimate)':>22}: {summary.get('cost')}")
    losses = summary.get("final_losses") or []
    stack.table(["model", "kind", "lr", "status", "final loss", "iteration", "params"], [
        {"model": m["model"], "kind": kind_label(m), "lr": m["lr"],
         "status": m.get("status") or full["status"],
         "final loss": loss_text(losses[m["model"]] if m["model"] < len(losses) else None),
         "iteration": m.get("final_iteration"), "params": m["final_params_uri"] or "-"}
        for m in full["models"]])
    for m in full["models"]:
        if m.get("reason"):
            click.echo(f"model {m['model']} {m['status']}: {m['reason']}")
        if m.get("params_problem"):
            click.echo(f"model {m['model']} parameters withheld: {m['params_problem']}")
        elif m.get("final_params_sha256"):
            click.echo(f"model {m['model']} parameters: sha256 {m['final_params_sha256']}"
                       + (f", S3 version {m['final_params_version']}"
                          if m.get("final_params_version") else ""))


def loss_text(value: Any) -> str:
    return f"{value:.6f}" if isinstance(value, int | float) and not isinstance(value, bool) \
        else "-"


def kind_label(model: dict) -> str:
    """``softmax``, ``mlp 256-256 tanh``: a model named by its kind."""
    if model.get("kind") != "mlp":
        return model.get("kind", "-")
    hidden = model.get("hidden")
    widths = "-".join(map(str, hidden)) if isinstance(hidden, list) else str(hidden)
    return f"mlp {widths} {model.get('activation', 'relu')}"
