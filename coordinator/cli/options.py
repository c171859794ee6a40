"""Options every command shares, defined once."""

from __future__ import annotations

import click


def json_flag(help_text: str = "Print JSON for scripts instead of a table."):
    """``--json``: machine-readable output (stored as ``as_json``)."""
    return click.option("--json", "as_json", is_flag=True, help=help_text)


class HiddenAliases(click.Option):
    """An option whose first spelling is the one `--help` shows; the others still work (older
    spellings: ``--profile`` for ``--trace-profile``, ``--jobs`` for ``--gradients``)."""

    def get_help_record(self, ctx: click.Context):
        shown = [self.opts[0]]
        opts, self.opts = self.opts, shown
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = opts


class Choice(click.Choice):
    """click.Choice that answers a near miss with "did you mean"."""

    def convert(self, value, param, ctx):
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter as error:
            from coordinator.spec.speccheck import did_you_mean

            hint = did_you_mean(value, self.choices)
            if not hint:
                raise
            self.fail(f"{error.message}{hint}", param, ctx)
