"""The `sgc` command line: one group, each subcommand in its own module, imported on use.

Lazy loading keeps `sgc --help` fast (no numba/pyarrow/moto import) and lets each concern own
its module without touching this file beyond one line in ``SUBCOMMANDS``.

Every command runs under one error boundary (``LazyGroup.invoke``): known errors (bad values,
files, AWS/emulator answers) print ``error: ...`` and exit 1; anything else prints one line
naming the error type and exits 2, and ``SGC_DEBUG=1`` shows the traceback instead. A reader
that closes the pipe early (`sgc status JOB | head`) ends the command quietly.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

# name -> "module:attribute" of a click command or group.
SUBCOMMANDS: dict[str, str] = {
    "simulate": "coordinator.cli.simulate:simulate",
    "replay": "coordinator.cli.replay:replay",
    "bench": "coordinator.cli.bench:bench",
    "data": "coordinator.cli.data:data",
    "warmpool": "coordinator.cli.warmpool:warmpool",
    "demo": "coordinator.cli.demo:demo",
    "init": "coordinator.cli.init:init",
    "validate": "coordinator.cli.validate:validate",
    "submit": "coordinator.cli.jobs:submit",
    "jobs": "coordinator.cli.jobs:jobs",
    "status": "coordinator.cli.jobs:status",
    "watch": "coordinator.cli.jobs:watch",
    "logs": "coordinator.cli.jobs:logs",
    "result": "coordinator.cli.result:result",
    "eval": "coordinator.cli.eval:evaluate",
    "cancel": "coordinator.cli.jobs:cancel",
    "resume": "coordinator.cli.jobs:resume",
    "local": "coordinator.cli.local:local",
    "audit": "coordinator.cli.audit:audit",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when they are run or listed."""

    def invoke(self, ctx: click.Context):
        if os.environ.get("SGC_DEBUG"):
            return super().invoke(ctx)
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:  # `sgc ... | head`: the reader left; click exits quietly
            raise
        except KeyboardInterrupt:
            raise click.ClickException("interrupted") from None
        except Exception as error:  # the boundary: a message, never a traceback
            raise _as_click_error(error) from None

    def main(self, *args, **kwargs):
        """click's main; output still buffered for a reader that has gone (`| head`) is
        dropped quietly instead of a BrokenPipeError at exit."""
        try:
            return super().main(*args, **kwargs)
        finally:
            _flush_quietly()

    def resolve_command(self, ctx: click.Context, args: list[str]):
        """Like click's, with "did you mean" for a near miss of a command name."""
        name = args[0] if args else ""
        if args and self.get_command(ctx, name) is None and not name.startswith("-"):
            from coordinator.spec.speccheck import did_you_mean

            hint = did_you_mean(name, list(SUBCOMMANDS))
            if hint:
                ctx.fail(f"No such command {name[:40]!r}.{hint}")
        return super().resolve_command(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in SUBCOMMANDS if self._load(name) is not None)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return self._load(name)

    @staticmethod
    def _load(name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name == module_name:
                return None  # not built yet
            raise
        return getattr(module, attribute, None)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sgcflow")
def main() -> None:
    """sgcflow: sequential gradient coding (GC, SR-SGC, M-SGC) on 256 AWS Lambda workers.

    \b
    Examples:
      sgc demo                                  # local moto-emulated training run, no AWS needed
      sgc simulate --trace data/lambda_delays.parquet --mu 1.0 --jobs 100 --search
      sgc bench kernels --json
      sgc --help / sgc COMMAND --help
    """


def _flush_quietly() -> None:
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):  # ValueError: already closed
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass


class _InternalError(click.ClickException):
    exit_code = 2


def _as_click_error(error: Exception) -> click.ClickException:
    """A one-line ``error: ...`` for any exception a command lets through."""
    message = " ".join(str(error).split())[:2000] or type(error).__name__
    name = type(error).__name__
    if name in ("EndpointConnectionError", "ConnectionClosedError", "ReadTimeoutError",
                "ConnectTimeoutError"):
        return click.ClickException(
            f"cannot reach the service ({message}); with --local: is `sgc local up` running? "
            "(`sgc local status`)")
    if name in ("NoCredentialsError", "PartialCredentialsError", "NoRegionError",
                "ProfileNotFound"):
        return click.ClickException(f"AWS configuration: {message} (or use --local)")
    if name == "ClientError" or isinstance(error, ValueError | OSError | KeyError | LookupError):
        return click.ClickException(message if name in ("ClientError", "JobNotFound")
                                    or isinstance(error, ValueError) else f"{name}: {message}")
    if isinstance(error, MemoryError):
        return click.ClickException("out of memory: the input is too large for this machine")
    return _InternalError(f"internal error ({name}): {message} (SGC_DEBUG=1 shows the "
                          "traceback; please report it)")
