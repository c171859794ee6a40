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
