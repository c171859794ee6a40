"""`sgc audit iam`: the AWS calls the functions made in the end-to-end runs, against their roles."""

from __future__ import annotations

import json
from pathlib import Path

import click

from coordinator.cli.options import json_flag


@click.group()
def audit() -> None:
    """Check the deployment's design against what the code really does."""


@audit.command("iam")
@click.option("--runs", "run_files", multiple=True, type=click.Path(dir_okay=False),
              help="Audit run files (repeatable; default: every build/audit/*.json, written by "
                   "`make deploy-local`).")
@json_flag('Print {"calls": N, "denied": [...], "unused": [...]}.')
def iam(run_files: tuple[str, ...], as_json: bool) -> None:
    """Evaluate every recorded AWS call of every function against that function's role policy
    in the deployed template; list denied calls (exit 1) and grants no call used.

    \b
    Examples:
      make deploy-local            # deploys to moto, runs a job, records the calls
      sgc audit iam --json
    """
    from coordinator.audit.iam import DEFAULT_RUNS_DIR, audit, read_runs
    from coordinator.audit.policy import AuditError

    paths = [Path(p) for p in run_files] or sorted(DEFAULT_RUNS_DIR.glob("*.json"))
    if not paths:
        raise click.ClickException(f"no end-to-end run recorded in {DEFAULT_RUNS_DIR}/: run "
                                   "`make deploy-local` first, or pass --runs FILE")
    try:
        report = audit(read_runs(paths))
    except AuditError as error:
        raise click.ClickException(str(error)) from error
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=1))
    else:
        click.echo(f"{report.calls} calls in {len(paths)} run(s)")
        for function, count in sorted(report.calls_per_function.items()):
            click.echo(f"  {function:<24} {count:>6} calls")
        click.echo(f"denied: {len(report.denied)}")
        for entry in report.denied:
            click.echo(f"  {entry['function']}: {entry['action']} {entry['resource']} "
                       f"{entry['conditions'] or ''} (x{entry['count']})")
        click.echo(f"unused grants: {len(report.unused)}")
        for entry in report.unused:
            click.echo(f"  {entry['function']}: {entry['action']} {entry['resource']} "
                       f"{entry.get('condition', '')}")
    if report.denied:
        raise SystemExit(1)
