"""`sgc submit | jobs | status | watch | logs | result | cancel | resume | demo`.

Every command talks to a Backend (``coordinator/cli/stack.py``): the deployed stack
(``--aws``, ``--region`` / ``--profile``), or the local emulator (``--local``, or ``SGC_LOCAL=1``:
the ``sgc local up`` server; ``submit --local`` without one runs an in-process emulator and
watches the job to the end). Every command takes ``--json``.
"""

from __future__ import annotations

import json
import time
from typing import Any

import click

from coordinator.backends.base import TERMINAL
from coordinator.cli import stack
from coordinator.cli.options import json_flag
from coordinator.cli.result import kind_label as _kind
from coordinator.cli.result import loss_text as _loss
from coordinator.cli.result import print_result as _print_result
from coordinator.cli.result import result  # noqa: F401  (`sgc result`, defined beside)
from coordinator.cli.stack import echo_json as _echo_json
from coordinator.cli.stack import record as _record
from coordinator.cli.stack import stack_options as _options
from coordinator.cli.stack import table as _table


def _json_option(function):
    return json_flag("Print JSON instead of tables.")(function)


def _watch(backend, run_id: str, poll_s: float = 0.5) -> dict:
    return stack.watch(backend, run_id, poll_s)


# --- submit / watch -------------------------------------------------------------------------------
@click.command()
@click.argument("spec_file", type=click.Path(exists=True, dir_okay=False))
@_options
@click.option("--watch", is_flag=True, help="Show a live progress bar until the job ends.")
@click.option("--start-at", "start_at", default=None, metavar="TIME",
              help="Start later, with notice for the warm pool: ISO 8601 with a timezone "
                   "(2026-03-01T09:30:00Z) or an offset (+15m, +2h, +1d), at most 7 days "
                   "ahead. The workers are warm before round 1.")
@click.option("--learn-from", "learn_from", default=None, metavar="JOB",
              help="Start from what an earlier sgcflow job on this stack learned (done or "
                   "cancelled; same dataset, workers, models and batching) instead of "
                   "exploring: sets (or replaces) the spec's scheme.learn_from.")
@_json_option
def submit(spec_file: str, local: bool | None, region: str | None, profile: str | None,
           watch: bool, start_at: str | None, learn_from: str | None, as_json: bool) -> None:
    """Submit the job described by SPEC_FILE (YAML or JSON) and print its id.

    Every field is checked first (`sgc validate` runs the same checks); a dataset.path is read,
    cut into the scheme's partitions and uploaded into the stack's bucket. With --json:
    {"run_id": ..., "status": ...} (the final status with --watch).

    \b
    Examples:
      sgc submit job.yaml --local --watch     # emulated with moto, no AWS account
      sgc submit job.yaml --region eu-west-1  # on the deployed stack
      sgc submit job.yaml --local --json
    \b
    A job spec (`sgc init` writes a commented one; docs/cli.md has every field):
      dataset: {path: data/patients.csv, label_column: diagnosis, standardize: true}
      models: [{kind: logreg, lr: 0.5}, {kind: mlp, hidden: 16, lr: 0.3}]
      iterations: 50
      workers: 16
      scheme: {name: sgcflow}      # or {name: m-sgc, B: 1, W: 2, lam: 2}, {name: gc, s: 3}
      wait: {deadline_s: 2.0}
      stragglers: {model: bursty, B: 1, W: 2, lam: 2, seed: 7}   # emulation only
    """
    from coordinator.spec import jobspec

    try:
        spec = jobspec.load(spec_file)
    except jobspec.JobSpecError as error:
        raise click.ClickException(str(error)) from error
    spec = _with_notice(spec, start_at)
    spec = _with_learn_from(spec, learn_from)
    local = stack.wants_local(local)
    if not local and (spec.raw["faults"] or spec.raw["stragglers"].get("model", "trace")
                      != "none"):
        raise click.ClickException("stragglers/faults: injection is for emulation only "
                                   "(use --local, or remove them)")
    backend, emulator = _submit_backend(local, region, profile)
    watch = watch or emulator is not None
    try:
        try:
            run_id = _submit(backend, spec)
        except jobspec.JobSpecError as error:
            raise click.ClickException(str(error)) from None
        if not as_json:
            click.echo(run_id)
        final = None
        if watch:
            final = stack.wait_quietly(backend, run_id) if as_json else _watch(backend, run_id)
            if emulator is not None and not as_json:
                _print_result(backend, run_id, as_json=False)
        if as_json:
            final = final or _record(backend, run_id)
            _echo_json({"run_id": run_id, "status": final.get("status")})
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


def _with_learn_from(spec, source: str | None):
    """The spec with ``scheme.learn_from`` from ``--learn-from``, checked like the file's."""
    if source is None:
        return spec
    from coordinator.spec import jobspec

    scheme = spec.raw["scheme"]
    if scheme["name"] != "sgcflow":
        raise click.BadParameter(f"only an sgcflow job starts from an earlier one; the spec's "
                                 f"scheme is {scheme['name']}", param_hint="--learn-from")
    try:
        return jobspec.validate({**spec.raw, "scheme": {**scheme, "learn_from": source}})
    except jobspec.JobSpecError as error:
        raise click.ClickException(str(error)) from None


def _check_learn_from_now(backend, spec) -> None:
    """A job with notice: its ``learn_from`` is checked before it is scheduled or waited for,
    not when it starts (the Plan step checks again then; a local file's dataset then)."""
    source = spec.raw["scheme"].get("learn_from")
    if source is not None:
        from coordinator.control.prior import check_before_upload

        check_before_upload(backend.store, source, spec.raw)


def _submit(backend, spec) -> str:
    """Submit now, or with notice (coordinator/warmpool/notice.py: on AWS recorded
    ``scheduled`` for the warm-pool manager; the local emulator has no manager: wait)."""
    if "start_at" not in spec.raw:
        return backend.submit(spec)
    _check_learn_from_now(backend, spec)
    from coordinator.backends.base import new_run_id
    from coordinator.warmpool import notice, spares

    if backend.kind == "aws":
        run_id = new_run_id()
        notice.schedule(backend.store, run_id, spec.raw,
                        spares.spare_environments(spec.workers), time.time(), backend.kind)
        return run_id
    notice.wait_until(spec.raw["start_at"], lambda line: click.echo(line, err=True))
    return backend.submit(spec)


def _submit_backend(local: bool, region: str | None, profile: str | None):
    """(backend, in-process emulator or None): `submit --local` without a server runs one."""
    if not local:
        return stack.backend(False, region, profile), None
    from coordinator.backends.connect import LOCAL_STATE

    if LOCAL_STATE.exists():
        return stack.backend(True, region, profile), None
    from coordinator.backends import emulator_backend
    from coordinator.emulator import Emulator

    click.echo("no `sgc local up` server: running an in-process emulator (the job lives as "
               "long as this command; `sgc local up` keeps jobs for `sgc result` and "
               "`sgc eval`)", err=True)
    emulator = Emulator().start()
    return emulator_backend(emulator), emulator


@click.command()
@click.argument("run_id", metavar="JOB")
@_options
@_json_option
def watch(run_id: str, local: bool | None, region: str | None, profile: str | None,
          as_json: bool) -> None:
    """Live progress of JOB: round, decoded jobs, stragglers this round, loss.

    With --json: no bar; one JSON line per round until the job ends.

    \b
    Example:
      sgc watch run-20261125-101500-ab12cd --local
    """
    backend = stack.backend(local, region, profile)
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


# --- read commands ---------------------------------------------------------------------------
@click.command()
@_options
@_json_option
def jobs(local: bool | None, region: str | None, profile: str | None, as_json: bool) -> None:
    """List the jobs, oldest first.

    \b
    Example:
      sgc jobs --local --json
    """
    backend = stack.backend(local, region, profile)
    rows = []
    for run_id in backend.store.jobs():
        record = backend.store.job(run_id)
        rows.append({"job": run_id, "name": record["spec"].get("name"),
                     "status": record.get("status"),
                     "round": record.get("round", 0),
                     "rounds": stack.rounds_of(record),
                     "scheme": record["spec"]["scheme"]["name"],
                     "workers": record["spec"]["workers"]})
    if as_json:
        return _echo_json(rows)
    _table(["job", "name", "status", "round", "rounds", "scheme", "workers"], rows)


@click.command()
@click.argument("run_id", metavar="JOB")
@_options
@_json_option
def status(run_id: str, local: bool | None, region: str | None, profile: str | None,
           as_json: bool) -> None:
    """Where JOB stands: status, round, decoded jobs, last losses, errors, each model's status.

    \b
    Example:
      sgc status run-20261125-101500-ab12cd --local
    """
    from coordinator.backends.outcome import job_status

    backend = stack.backend(local, region, profile)
    record = _record(backend, run_id)
    out = job_status(run_id, record)
    if as_json:
        return _echo_json(out)
    _status_table(out, record)


def _status_table(out: dict, record: dict) -> None:
    progress = out["progress"] or {}
    scheme = dict(out["scheme"])
    name = scheme.pop("name")
    rows = [("job", out["job"]), ("status", out["status"]),
            ("round", f"{out['round']} of {out['rounds'] or '?'}"),
            ("scheme", f"{name} ({', '.join(f'{k}={v}' for k, v in scheme.items())})"
             if scheme else name),
            ("workers", out["workers"]),
            *([("started from", _started_from(out["prior"]))]
              if isinstance(out.get("prior"), dict) else []),
            ("decoded gradients", progress.get("decoded", 0)),
            ("stragglers (last round)", progress.get("stragglers", 0)),
            ("execution", out["execution"] or "-")]
    if out["error"]:
        error = out["error"]
        rows.append(("error", f"{error.get('type')}: {error.get('message')}"
                     if isinstance(error, dict) else error))
    _pairs(rows)
    models = record["spec"]["models"]
    losses = progress.get("losses") or {}
    _table(["model", "kind", "status", "last loss", "why"], [
        {"model": m["model"], "kind": _kind(models[m["model"]]) if m["model"] < len(models)
         else "-", "status": m["status"], "last loss": _loss(losses.get(str(m["model"]))),
         "why": m["reason"] or ""} for m in out["models"]])


def _started_from(prior: dict) -> str:
    """`sgc status`'s line for a job with ``learn_from`` (the record's ``prior``)."""
    how = ("explored anyway: its state gave no estimate" if prior.get("explores")
           else "no exploring jobs")
    return (f"what job {prior.get('from')} learned in {prior.get('rounds')} rounds (a window "
            f"of {prior.get('window')} rounds and its load fit; {how})")


def _pairs(rows: list[tuple[str, Any]]) -> None:
    width = max(len(key) for key, _ in rows)
    for key, value in rows:
        click.echo(f"{key:>{width}}  {value}")


@click.command()
@click.argument("run_id", metavar="JOB")
@_options
@_json_option
def logs(run_id: str, local: bool | None, region: str | None, profile: str | None,
         as_json: bool) -> None:
    """Per-round timeline of JOB: the scheme each round ran (sgcflow's online choice), who
    straggled and why, flags, what was decoded.

    \b
    Example:
      sgc logs run-20261125-101500-ab12cd --local
    """
    from coordinator.control.summary import round_rows

    backend = stack.backend(local, region, profile)
    fixed = _record(backend, run_id)["spec"]["scheme"]["name"]  # one scheme every round
    rows = round_rows(backend.store.rounds(run_id))
    if as_json:
        return _echo_json(rows)
    table = []
    for row in rows:
        reasons = "; ".join(f"w{w}: {r}" for w, r in sorted(row["reasons"].items(),
                                                              key=lambda x: int(x[0])))
        table.append({"round": row["round"], "scheme": row["scheme"] or fixed,
                      "workers": row["workers"],
                      "wait_s": f"{row['wait_s']:.2f}" if row["wait_s"] is not None else "-",
                      "stragglers": ",".join(map(str, row["stragglers"])) or "-",
                      "decoded": ",".join(map(str, row["decoded"])) or "-",
                      "why": (reasons + (" | " if reasons and row["flags"] else "")
                              + " | ".join(row["flags"]))[:160] or "-"})
    _table(["round", "scheme", "workers", "wait_s", "stragglers", "decoded", "why"], table)


# --- control ---------------------------------------------------------------------------------
@click.command()
@click.argument("run_id", metavar="JOB")
@_options
@click.option("--now", "immediately", is_flag=True, help="Stop the execution at once.")
@_json_option
def cancel(run_id: str, local: bool | None, region: str | None, profile: str | None,
           immediately: bool, as_json: bool) -> None:
    """Cancel JOB after its current round (``--now``: stop the execution at once).

    Prints the job's status (cancelling, or cancelled); --json: {"run_id", "status"}.

    \b
    Example:
      sgc cancel run-20261125-101500-ab12cd --local
    """
    backend = stack.backend(local, region, profile)
    _record(backend, run_id)
    if immediately:
        backend.kill(run_id)
    outcome = backend.cancel(run_id)
    if as_json:
        return _echo_json({"run_id": run_id, "status": outcome})
    click.echo(outcome)


@click.command()
@click.argument("run_id", metavar="JOB")
@_options
@click.option("--watch", is_flag=True, help="Show a live progress bar until the job ends.")
@_json_option
def resume(run_id: str, local: bool | None, region: str | None, profile: str | None,
           watch: bool, as_json: bool) -> None:
    """Continue JOB in a fresh execution from its stored state (after a crash or a kill).

    Prints the new execution; --json: {"run_id", "status", "execution_arn"} (the final
    status with --watch).

    \b
    Example:
      sgc resume run-20261125-101500-ab12cd --local --watch
    """
    backend = stack.backend(local, region, profile)
    _record(backend, run_id)
    try:
        arn = backend.resume(run_id)
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    if not as_json:
        click.echo(arn)
    final = None
    if watch:
        final = stack.wait_quietly(backend, run_id) if as_json else _watch(backend, run_id)
    if as_json:
        final = final or _record(backend, run_id)
        _echo_json({"run_id": run_id, "status": final.get("status"), "execution_arn": arn})
