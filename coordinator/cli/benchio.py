"""Shared output of the `sgc bench` commands: a Markdown table and JSON under --out."""

from __future__ import annotations

import json
import math
from pathlib import Path

import click

from coordinator.cli.options import json_flag


def out_option(function):
    return click.option("--out", type=click.Path(file_okay=False), default="data/bench",
                        show_default=True, help="Folder for <name>.md and <name>.json.")(function)


def json_option(function):
    return json_flag("Print the JSON result to stdout.")(function)


def trace_option(function):
    """--trace: the measured Lambda delays the simulation benchmarks replay."""
    return click.option("--trace", type=click.Path(dir_okay=False, exists=True),
                        default="data/lambda_delays.parquet", show_default=True,
                        help="The delay trace (Parquet) to replay.")(function)


def markdown_table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    """Rows as a Markdown table; ``columns`` are (key, header) pairs, values formatted as given."""
    lines = ["| " + " | ".join(header for _, header in columns) + " |",
             "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(key, "")) for key, _ in columns) + " |")
    return "\n".join(lines)


def write_outputs(out: str, name: str, payload, table: str, command: str, as_json: bool) -> None:
    """Write <out>/<name>.json and <out>/<name>.md (table + the command that produced it)."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    (folder / f"{name}.md").write_text(f"{table}\n\nProduced by: `{command}`\n")
    click.echo(json.dumps(payload, indent=2) if as_json else table)


def setting_name(model) -> str:
    """A trace setting as the tables name it: ``profile/region`` without the trace's prefix."""
    return f"{model.profile.removeprefix('sam-gc-')}/{model.region}"


def geomean(values) -> float:
    values = list(values)
    return math.exp(sum(math.log(v) for v in values) / len(values))


def gradients_option(help_text: str):
    """--gradients (alias --jobs): J of a simulation benchmark's replays."""
    from coordinator.cli.options import HiddenAliases

    return click.option("--gradients", "--jobs", "jobs", cls=HiddenAliases,
                        type=click.IntRange(min=1, max=2000), default=400, show_default=True,
                        help=help_text)
