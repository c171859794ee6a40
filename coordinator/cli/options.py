"""Options every command shares, defined once."""

from __future__ import annotations

import click


def json_flag(help_text: str = "Print JSON for scripts instead of a table."):
    """``--json``: machine-readable output (stored as ``as_json``)."""
    return click.option("--json", "as_json", is_flag=True, help=help_text)
