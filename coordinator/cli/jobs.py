"""`sgc submit | jobs | status | watch | logs | result | cancel | resume | demo`.

Every command talks to a Backend: the deployed stack (``--region`` / ``--profile``), or the local
emulator (``--local``: the ``sgc local up`` server; ``submit --local`` without one runs an
in-process emulator and watches the job to the end). Read commands take ``--json``.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click

from coordinator.backends.base import TERMINAL
from coordinator.cli.options import json_flag

_backend_cache: dict[str, Any] = {}


def _options(function):
    function = click.option("--local", is_flag=True,
                            help="Use the local emulator (`sgc local up`), not AWS.")(function)
    function = click.option("--region", default=None, help="AWS region of the stack.")(function)
    return click.option("--profile", default=None, help="AWS profile to use.")(function)


def _json_option(function):
    return json_flag("Print JSON instead of tables.")(function)


def _backend(local: bool, region: str | None, profile: str | None):
    from coordinator.backends import aws_backend, local_backend

    try:
        return local_backend() if local else aws_backend(region, profile)
    except FileNotFoundError as error:
        raise click.ClickException(str(error)) from error
    except Exception as error:  # no credentials, no stack
        raise click.ClickException(f"cannot reach the sgcflow stack on AWS: {error} "
                                   "(use --local for the emulator)") from error


def _record(backend, run_id: str) -> dict:
    """The job's record, corrected if its execution died silently (Backend.refresh)."""
    from coordinator.storage.state import JobNotFound

    try:
        return backend.refresh(run_id)
    except JobNotFound as error:
        raise click.ClickException(str(error)) from error


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=1, default=str))


# --- submit / watch -------------------------------------------------------------------------------
@click.command()
@click.argument("spec_file", type=click.Path(exists=True, dir_okay=False))
@_options
@click.option("--watch", is_flag=True, help="Show a live progress bar until the job ends.")
@click.option("--start-at", "start_at", default=None, metavar="TIME",
              help="Start later, with notice for the warm pool: ISO 8601 with a timezone "
                   "(2026-03-01T09:30:00Z) or an offset (+15m, +2h, +1d), at most 7 days "
                   "ahead. The workers are warm before round 1.")
def submit(spec_file: str, local: bool, region: str | None, profile: str | None,
           watch: bool, start_at: str | None) -> None:
    """Submit the job described by SPEC_FILE (YAML or JSON) and print its id.

    \b
    Examples:
      sgc submit job.yaml --local --watch     # emulated with moto, no AWS account
      sgc submit job.yaml --region eu-west-1  # on the deployed stack
    \b
    A job spec (see coordinator/spec/jobspec.py for every field):
      dataset: {name: synthetic, rows: 4096, classes: 4}
      models: [{kind: softmax, lr: 0.5}, {kind: mlp, hidden: 16, lr: 0.3}]
      iterations: 10
      workers: 16
      scheme: {name: m-sgc, B: 1, W: 2, lam: 2}
      wait: {deadline_s: 2.0}
      stragglers: {model: bursty, B: 1, W: 2, lam: 2, seed: 7}   # emulation only
    """
    from coordinator.spec import jobspec

    try:
        spec = jobspec.load(spec_file)
    except jobspec.JobSpecError as error:
        raise click.ClickException(str(error)) from error
    spec = _with_notice(spec, start_at)
    if not local and (spec.raw["faults"] or spec.raw["stragglers"].get("model", "trace")
                      != "none"):
        raise click.ClickException("stragglers/faults: injection is for emulation only "
                                   "(use --local, or remove them)")
    emulator = None
    if local:
        from coordinator.backends.connect import LOCAL_STATE

        if not LOCAL_STATE.exists():
            from coordinator.backends import emulator_backend
            from coordinator.emulator import Emulator

            click.echo("no `sgc local up` server: running an in-process emulator "
                       "(the job lives as long as this command)", err=True)
            emulator = Emulator().start()
            backend = emulator_backend(emulator)
            watch = True
        else:
            backend = _backend(True, region, profile)
    else:
        backend = _backend(False, region, profile)
    try:
        run_id = _submit(backend, spec)
        click.echo(run_id)
        if watch:
            _watch(backend, run_id)
            if emulator is not None:
                _print_result(backend, run_id, as_json=False)
    finally:
        if emulator is not None:
            emulator.stop()


def _with_notice(spec, start_at: str | None):
    """The spec with ``start_at`` from ``--start-at`` (or its own), checked against the clock."""
    from dataclasses import replace

    from coordinator.warmpool import notice

    try:
        start = notice.start_of(spec.raw, start_at, time.time())
    except notice.NoticeError as error:
        raise click.BadParameter(error.reason, param_hint=error.where) from error
    return spec if start is None else replace(spec, raw={**spec.raw, "start_at": start})


def _submit(backend, spec) -> str:
    """Submit now, or with notice (coordinator/warmpool/notice.py: on AWS recorded
    ``scheduled`` for the warm-pool manager; the local emulator has no manager: wait)."""
    if "start_at" not in spec.raw:
        return backend.submit(spec)
    from coordinator.backends.base import new_run_id
    from coordinator.warmpool import notice, spares

    if backend.kind == "aws":
        run_id = new_run_id()
        notice.schedule(backend.store, run_id, spec.raw,
                        spares.spare_environments(spec.workers), time.time(), backend.kind)
        return run_id
    notice.wait_until(spec.raw["start_at"], lambda line: click.echo(line, err=True))
    return backend.submit(spec)


@click.command()
@click.argument("run_id", metavar="JOB")
@_options
@_json_option
def watch(run_id: str, local: bool, region: str | None, profile: str | None,
          as_json: bool) -> None:
    """Live progress of JOB: round, decoded jobs, stragglers this round, loss.

    With --json: no bar; one JSON line per round until the job ends.

    \b
    Example:
      sgc watch run-20261125-101500-ab12cd --local
    """
    backend = _backend(local, region, profile)
    if not as_json:
        _watch(backend, run_id)
        return
    last = None
    while True:
        record = _record(backend, run_id)
        line = {"job": run_id, "status": record.get("status"), "round": record.get("round", 0),
                "progress": record.get("progress")}
        if line != last:
            click.echo(json.dumps(line))
            last = line
        if record.get("status") in TERMINAL:
            return
        time.sleep(0.5)


def _watch(backend, run_id: str, poll_s: float = 0.5) -> dict:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    record = _record(backend, run_id)
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[info]}"), TimeElapsedColumn()]
    with Progress(*columns, transient=False, console=None) as progress:
        progress.console.print(f"job {run_id}")
        task = progress.add_task("rounds", total=None, info="submitted")
        while True:
            record = _record(backend, run_id)
            plan = record.get("plan") or {}
            total = (plan.get("jobs", 0) + plan.get("T", 0)) or None
            info = _progress_line(record)
            progress.update(task, total=total, completed=int(record.get("round", 0)), info=info)
            if record.get("status") in TERMINAL:
                break
            time.sleep(poll_s)
    if record.get("status") == "failed":
        raise click.ClickException(f"job {run_id} failed: {record.get('error')}")
    return record


def _progress_line(record: dict) -> str:
    progress = record.get("progress") or {}
    losses = progress.get("losses") or {}
    loss = " ".join(f"m{m}={v:.4f}" if isinstance(v, int | float) else f"m{m}={v}"
                    for m, v in sorted(losses.items(), key=lambda item: str(item[0])))
    return (f"{record.get('status')} | decoded {progress.get('decoded', 0)} | stragglers "
            f"{progress.get('stragglers', 0)} | loss {loss or '-'}")[:120]


# --- read commands ---------------------------------------------------------------------------
@click.command()
@_options
@_json_option
def jobs(local: bool, region: str | None, profile: str | None, as_json: bool) -> None:
    """List the jobs, oldest first.

    \b
    Example:
      sgc jobs --local --json
    """
    backend = _backend(local, region, profile)
    rows = []
    for run_id in backend.store.jobs():
        record = backend.store.job(run_id)
        plan = record.get("plan") or {}
        rows.append({"job": run_id, "name": record["spec"].get("name"),
                     "status": record.get("status"),
                     "round": record.get("round", 0),
                     "rounds": (plan.get("jobs", 0) + plan.get("T", 0)) or None,
                     "scheme": record["spec"]["scheme"]["name"],
                     "workers": record["spec"]["workers"]})
    if as_json:
        return _echo_json(rows)
    _table(["job", "name", "status", "round", "rounds", "scheme", "workers"], rows)


@click.command()
@click.argument("run_id", metavar="JOB")
@_options
@_json_option
def status(run_id: str, local: bool, region: str | None, profile: str | None,
           as_json: bool) -> None:
    """Where JOB stands: status, round, decoded jobs, last losses, errors, each model's status.

    \b
    Example:
      sgc status run-20261125-101500-ab12cd --local
    """
    from coordinator.control.divergence import model_statuses

    backend = _backend(local, region, profile)
    record = _record(backend, run_id)
    plan = record.get("plan") or {}
    out = {"job": run_id, "status": record.get("status"), "round": record.get("round", 0),
           "rounds": (plan.get("jobs", 0) + plan.get("T", 0)) or None,
           "execution": record.get("execution"), "execution_arn": record.get("execution_arn"),
           "progress": record.get("progress"), "error": record.get("error") or None,
           "scheme": record["spec"]["scheme"], "workers": record["spec"]["workers"],
           "models": model_statuses(len(plan.get("models") or record["spec"]["models"]),
                                    (record.get("progress") or {}).get("stopped") or {},
                                    record.get("status"))}
    if as_json:
        return _echo_json(out)
    for key, value in out.items():
        click.echo(f"{key:>14}: {value}")


@click.command()
@click.argument("run_id", metavar="JOB")
@_options
@_json_option
def logs(run_id: str, local: bool, region: str | None, profile: str | None, as_json: bool) -> None:
    """Per-round timeline of JOB: who straggled and why, flags, what was decoded.

    \b
    Example:
      sgc logs run-20261125-101500-ab12cd --local
    """
    from coordinator.control.summary import round_rows

    backend = _backend(local, region, profile)
    _record(backend, run_id)
    rows = round_rows(backend.store.rounds(run_id))
    if as_json:
        return _echo_json(rows)
    table = []
    for row in rows:
        reasons = "; ".join(f"w{w}: {r}" for w, r in sorted(row["reasons"].items(),
                                                              key=lambda x: int(x[0])))
        table.append({"round": row["round"], "workers": row["workers"],
                      "wait_s": f"{row['wait_s']:.2f}" if row["wait_s"] is not None else "-",
                      "stragglers": ",".join(map(str, row["stragglers"])) or "-",
                      "decoded": ",".join(map(str, row["decoded"])) or "-",
                      "why": (reasons + (" | " if reasons and row["flags"] else "")
                              + " | ".join(row["flags"]))[:160] or "-"})
    _table(["round", "workers", "wait_s", "stragglers", "decoded", "why"], table)


@click.command()
@click.argument("run_id", metavar="JOB")
@_options
@_json_option
def result(run_id: str, local: bool, region: str | None, profile: str | None,
           as_json: bool) -> None:
    """JOB's result: per-model losses and final parameter keys, metrics, cost estimate.

    \b
    Example:
      sgc result run-20261125-101500-ab12cd --local --json
    """
    _print_result(_backend(local, region, profile), run_id, as_json)


def _print_result(backend, run_id: str, as_json: bool) -> None:
    from coordinator.backends.outcome import NoResult, job_result

    record = _record(backend, run_id)
    try:
        full = job_result(backend.store, run_id, record)
    except NoResult as error:
        raise click.ClickException(str(error)) from None
    if as_json:
        return _echo_json({k: v for k, v in full.items() if k != "rounds"})
    summary = full.get("summary") or {}
    click.echo(f"{'status':>22}: {full['status']}" + (" (partial: no result.json; summarized "
                                                      "from the round log)"
                                                      if full.get("partial") else ""))
    for key in ("rounds", "decoded_jobs", "skipped_jobs", "stragglers", "flagged_rounds",
                "wall_s", "overhead_s_per_round"):
        click.echo(f"{key:>22}: {summary.get(key)}")
    click.echo(f"{'cost (AWS estimate)':>22}: {summary.get('cost')}")
    losses = summary.get("final_losses") or []
    _table(["model", "kind", "lr", "status", "final loss", "iteration", "params"], [
        {"model": m["model"], "kind": m["kind"], "lr": m["lr"],
         "status": m.get("status") or full["status"],
         "final loss": _loss(losses[m["model"]] if m["model"] < len(losses) else None),
         "iteration": m.get("final_iteration"),
         "params": f"s3://{backend.store.bucket}/{m['final_params_key']}"
         if m.get("final_params_key") else "-"}
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


def _loss(value: Any) -> str:
    return f"{value:.6f}" if isinstance(value, int | float) and not isinstance(value, bool) \
        else "-"


# --- control ---------------------------------------------------------------------------------
@click.command()
@click.argument("run_id", metavar="JOB")
@_options
@click.option("--now", "immediately", is_flag=True, help="Stop the execution at once.")
def cancel(run_id: str, local: bool, region: str | None, profile: str | None,
           immediately: bool) -> None:
    """Cancel JOB after its current round (``--now``: stop the execution at once).

    \b
    Example:
      sgc cancel run-20261125-101500-ab12cd --local
    """
    backend = _backend(local, region, profile)
    _record(backend, run_id)
    if immediately:
        backend.kill(run_id)
    click.echo(backend.cancel(run_id))


@click.command()
@click.argument("run_id", metavar="JOB")
@_options
@click.option("--watch", is_flag=True, help="Show a live progress bar until the job ends.")
def resume(run_id: str, local: bool, region: str | None, profile: str | None, watch: bool) -> None:
    """Continue JOB in a fresh execution from its stored state (after a crash or a kill).

    \b
    Example:
      sgc resume run-20261125-101500-ab12cd --local --watch
    """
    backend = _backend(local, region, profile)
    _record(backend, run_id)
    try:
        click.echo(backend.resume(run_id))
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    if watch:
        _watch(backend, run_id)


@click.command()
@click.option("--workers", type=click.IntRange(2, 1000), default=16, show_default=True,
              help="Workers per round (256 works too; slower on 2 cores).")
@click.option("--iterations", type=click.IntRange(1, 1000), default=None,
              help="Iterations per model (default 8, or 4 from 128 workers).")
@click.option("--out", type=click.Path(file_okay=False), default="data/demo", show_default=True,
              help="Folder for demo.{png,md,json} and replay.{png,md,json}.")
@click.option("--overhead", default=None, metavar="N,N,..",
              help="Instead: measure per-round coordinator overhead at these worker counts.")
@_json_option
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
    from coordinator.cli.demo import measure_overhead, run_demo

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
        return _echo_json(rows) if as_json else _table(list(rows[0]), rows)

    report = run_demo(workers=workers, iterations=iterations, out=out,
                      echo=(lambda s: click.echo(s, err=True)) if as_json else click.echo,
                      watch=None if as_json else _watch)
    if as_json:
        _echo_json(report)


def _table(columns: list[str], rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns)
    for row in rows:
        table.add_row(*(str(row.get(c, "")) for c in columns))
    Console(file=sys.stdout, width=200).print(table)
