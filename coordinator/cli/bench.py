"""`sgc bench …`: the benchmarks `make bench` runs; each writes a table and JSON under --out."""

from __future__ import annotations

import contextlib
import importlib
import json
import sys

import click

from coordinator.cli.options import json_flag

# name -> "module:attribute" of a click command; imported on use (see coordinator.cli).
BENCHMARKS: dict[str, str] = {
    "kernels": "coordinator.cli.bench_kernels:kernels",
    "targets": "coordinator.cli.bench_targets:targets",
    "decode": "coordinator.cli.bench_decode:decode",
    "simulate": "coordinator.cli.bench_simulate:simulate",
    "sensitivity": "coordinator.cli.bench_sensitivity:sensitivity",
    "round": "coordinator.cli.bench_round:round_",
    "warmpool": "coordinator.cli.bench_warmpool:warmpool",
    "warmstart": "coordinator.cli.bench_warmstart:warmstart",
}


class _LazyBench(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in BENCHMARKS if self.get_command(ctx, name) is not None] + ["all"]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name == "all":
            return super().get_command(ctx, name)
        target = BENCHMARKS.get(name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        try:
            return getattr(importlib.import_module(module_name), attribute)
        except ModuleNotFoundError as error:
            if error.name == module_name:
                return None
            raise


@click.group(cls=_LazyBench)
def bench() -> None:
    """Measure sgcflow: kernels vs numpy, decode latency, M-SGC vs GC on real Lambda traces."""


@bench.command("all")
@click.option("--out", type=click.Path(file_okay=False), default="data/bench", show_default=True,
              help="Folder for the tables (.md) and JSON results.")
@json_flag('Print {"out", "ran", "skipped"} (the tables go to stderr).')
@click.pass_context
def run_all(ctx: click.Context, out: str, as_json: bool) -> None:
    """Run every benchmark in turn, writing each one's table and JSON under OUT."""
    group = ctx.parent.command
    ran, skipped = [], []
    for name in BENCHMARKS:
        command = group.get_command(ctx, name)
        if command is None:
            click.echo(f"skipping {name}: not built yet", err=True)
            skipped.append(name)
            continue
        click.echo(f"== bench {name}", err=True)
        with contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext():
            ctx.invoke(command, out=out)
        ran.append(name)
    if as_json:
        click.echo(json.dumps({"out": out, "ran": ran, "skipped": skipped}))
