"""`sgc init [PATH]`: a commented starter job spec that runs as it is (`sgc validate` it, then
`sgc submit` it), with every field a first job needs explained where it stands."""

from __future__ import annotations

import json
from pathlib import Path

import click

from coordinator.cli.options import json_flag

STARTER = """\
# An sgcflow job: which models to train, on what data, over how many Lambda workers.
# Check it with `sgc validate {name}`; run it locally with `sgc submit {name} --local --watch`.
# Every field, with its limits: docs/cli.md ("The job spec").
name: my-first-job

# The data. A built-in dataset (digits: 1,797 8x8 images, 10 classes; digits-parity;
# synthetic), or your own with `path`: a .csv / .parquet file (numeric feature columns and one
# label column; string labels are fine), a .npz with arrays X and y, a folder written by
# `sgc data prepare`, or an s3://bucket/prefix. A local path is uploaded at submit.
dataset: {{name: digits}}
# dataset:
#   path: data/patients.csv
#   label_column: diagnosis      # default: label
#   standardize: true            # rescale features; applied again at prediction

# Models trained at the same time (one gradient of each per step). Kinds: logreg (two
# classes), softmax, mlp (hidden: a width, or a list of widths; activation: relu or tanh).
models:
  - {{kind: softmax, lr: 0.5}}
  - {{kind: mlp, hidden: 32, activation: relu, lr: 0.3, seed: 1}}

iterations: 20            # gradient steps per model
workers: 16               # Lambda workers per round (up to 1000)

# How the gradient work is coded across workers so stragglers do not hold a round up:
# sgcflow (the default) chooses online; or e.g. {{name: gc, s: 3}},
# {{name: m-sgc, B: 1, W: 2, lam: 2}}.
scheme: {{name: sgcflow}}

# When a round stops waiting: deadline_s seconds after dispatch (or mu: wait (1 + mu) x the
# fastest worker's time), never beyond hard_limit_s.
wait: {{deadline_s: 2.0, hard_limit_s: 30}}

# Emulation only (--local): inject stragglers to see the scheme at work. Remove for AWS.
stragglers: {{model: bursty, B: 1, W: 2, lam: 2, rate: 0.5, seed: 7}}
"""


@click.command()
@click.argument("path", default="job.yaml", required=False)
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
@json_flag('Print {"path": PATH} (the spec itself with PATH "-").')
def init(path: str, force: bool, as_json: bool) -> None:
    """Write a commented starter job spec to PATH (default job.yaml; "-" prints it).

    \b
    Examples:
      sgc init                      # job.yaml here
      sgc init jobs/first.yaml
      sgc init - > job.yaml
    """
    if path == "-":
        click.echo(STARTER.format(name="job.yaml"), nl=False)
        return
    target = Path(path)
    if target.is_dir():
        raise click.BadParameter(f"{path} is a folder: give a file name, e.g. "
                                 f"{target / 'job.yaml'}", param_hint="PATH")
    if target.exists() and not force:
        raise click.BadParameter(f"{path} exists: pass --force to overwrite it",
                                 param_hint="PATH")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(STARTER.format(name=path))
    except OSError as error:
        raise click.BadParameter(f"cannot write {path}: {error.strerror or error}",
                                 param_hint="PATH") from None
    if as_json:
        return click.echo(json.dumps({"path": path}))
    click.echo(f"wrote {path}: check it with `sgc validate {path}`, run it with "
               f"`sgc submit {path} --local --watch`")
