"""`sgc validate SPEC`: every submit-time check, nothing run, nothing uploaded.

The spec's fields (``coordinator/spec/jobspec.py``), the dataset read as submit reads it (a
``dataset.path``: its values, labels and real shape; ``coordinator/backends/dataset_upload.py``)
and the resource estimate on that shape. An ``s3://`` dataset is read only when a stack is named
(``--local`` / ``--aws``, or ``SGC_LOCAL=1``).
"""

from __future__ import annotations

import click

from coordinator.cli import stack
from coordinator.cli.options import json_flag


@click.command()
@click.argument("spec_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--local/--aws", "local", default=None,
              help="Also read an s3:// dataset, and check scheme.learn_from's job, on this "
                   "stack (the emulator or AWS).")
@click.option("--region", default=None, help="AWS region of the stack.")
@click.option("--profile", default=None, help="AWS profile to use.")
@json_flag('Print {"valid": true, "spec": ..., "estimate": ...} or {"valid": false, '
           '"errors": [{"field", "message"}]}.')
def validate(spec_file: str, local: bool | None, region: str | None, profile: str | None,
             as_json: bool) -> None:
    """Check SPEC_FILE as `sgc submit` would, without submitting: every field, the dataset
    (read, labels, real shape) and the resources the job needs.

    \b
    Examples:
      sgc validate job.yaml
      sgc validate job.yaml --json
    """
    from coordinator.backends.dataset_upload import resolve
    from coordinator.spec import budget, jobspec

    notes = []
    try:
        spec = jobspec.load(spec_file)
        store = None
        if spec.raw["dataset"].get("path", "").startswith("s3://"):
            if local is None and not stack.wants_local(None):
                notes.append("dataset.path is on S3: not read (give --local or --aws to read "
                             "it from a stack)")
            else:
                store = stack.backend(local, region, profile).store
        spec = resolve(spec, store, upload=False)
        source = spec.raw["scheme"].get("learn_from")
        if source is not None:
            if local is None and not stack.wants_local(None):
                notes.append(f"scheme.learn_from: job {source} not checked (give --local or "
                             "--aws to check it on a stack)")
            else:
                from coordinator.control.prior import check_before_upload

                note = check_before_upload(store or stack.backend(local, region, profile).store,
                                           source, spec.raw)
                notes += [f"{note}, at submit"] if note else []
    except jobspec.JobSpecError as error:
        if as_json:
            stack.echo_json({"valid": False, "errors": [{"field": f, "message": m}
                                                        for f, m in error.errors]})
            raise SystemExit(1) from None
        raise click.ClickException(str(error)) from None
    built = spec.scheme()
    found = budget.estimate(spec.raw, load=built.load, T=built.T)
    estimate = found.to_dict() if found else None
    if as_json:
        return stack.echo_json({"valid": True, "spec": spec.raw, "estimate": estimate,
                                "notes": notes})
    raw = spec.raw
    click.echo(f"{spec_file}: valid. {spec.jobs} gradients ({len(raw['models'])} models x "
               f"{raw['iterations']} iterations) on {raw['workers']} workers, scheme "
               f"{raw['scheme']['name']}")
    if found:
        click.echo(f"  data: {found.rows} rows x {found.features} features, {found.classes} "
                   f"classes; largest model {found.params:,} parameters")
        click.echo(f"  estimate: worker {found.worker_bytes / 2**20:,.0f} MB, coordinator "
                   f"{found.step_bytes / 2**20:,.0f} MB, S3 traffic "
                   f"{found.s3_bytes / 2**30:,.2f} GiB over {found.rounds} rounds")
    for note in notes:
        click.echo(f"  note: {note}")
