"""`sgc eval JOB --data FILE`: each trained model's loss and accuracy on new data.

The models come out of the bucket checked against the job's record
(``coordinator/backends/model_export.py``); FILE's rows get the training data's
standardization and its labels the training data's mapping, as a downloaded model's
``predict`` does (``coordinator/contract/trained.py``).
"""

from __future__ import annotations

import click

from coordinator.cli import stack
from coordinator.cli.options import json_flag
from coordinator.cli.result import kind_label


@click.command()
@click.argument("run_id", metavar="JOB")
@stack.stack_options
@click.option("--data", "data_file", required=True, type=click.Path(dir_okay=False),
              help="A .csv / .parquet file with the training data's feature columns and a "
                   "label column, or a .npz with X and y.")
@click.option("--label-column", default=None,
              help="FILE's label column [default: the training data's].")
@json_flag('Print {"models": [{"index": i, "accuracy": a, "loss": l}, ...]}.')
def evaluate(run_id: str, local: bool | None, region: str | None, profile: str | None,
             data_file: str, label_column: str | None, as_json: bool) -> None:
    """Score JOB's trained models on FILE: accuracy and mean cross-entropy per model.

    \b
    Examples:
      sgc eval run-20261125-101500-ab12cd --local --data test.csv
      sgc eval run-20261125-101500-ab12cd --local --data test.csv --label-column diagnosis --json
    """
    from coordinator.backends.model_export import evaluate, trained_models
    from coordinator.backends.outcome import NoResult
    from coordinator.storage.dataset_prep import DatasetError

    if label_column is not None and not label_column.strip():
        raise click.BadParameter("must be a column name", param_hint="--label-column")
    backend = stack.backend(local, region, profile)
    record = stack.record(backend, run_id)
    try:
        models = trained_models(backend.store, run_id, record)
    except NoResult as error:
        raise click.ClickException(str(error)) from None
    try:
        rows, count = evaluate(models, data_file, label_column)
    except DatasetError as error:
        hint = "--label-column" if error.field == "label_column" else "--data"
        raise click.BadParameter(str(error), param_hint=hint) from None
    except ValueError as error:  # a label the training data never had
        raise click.BadParameter(str(error), param_hint="--data") from None
    if as_json:
        return stack.echo_json({"run_id": run_id, "rows": count, "models": rows})
    stack.table(["model", "kind", "accuracy", "loss"], [
        {"model": row["index"], "kind": kind_label(model.card),
         "accuracy": f"{row['accuracy']:.4f}", "loss": f"{row['loss']:.4f}"}
        for row, model in zip(rows, models, strict=True)],
        title=f"{run_id} on {data_file} ({count} rows)")
