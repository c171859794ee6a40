"""Which stack a job command talks to, and the output helpers the job commands share.

``--local`` (the `sgc local up` server, or an in-process emulator for `submit`) or ``--aws``
(the deployed stack, ``--region`` / ``--profile``). Without either flag: ``SGC_LOCAL=1`` in the
environment, else ``local: true`` in the config file (``SGC_CONFIG``, default
``~/.sgcflow/config.yaml``), whose ``region`` and ``profile`` are defaults too; else AWS.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

CONFIG_KEYS = ("local", "region", "profile")
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


def stack_options(function):
    """``--local/--aws``, ``--region``, ``--profile`` (one definition for every job command)."""
    function = click.option(
        "--local/--aws", "local", default=None,
        help="The local emulator (`sgc local up`) or the deployed stack on AWS [default: "
             "SGC_LOCAL=1 or `local: true` in ~/.sgcflow/config.yaml means --local, else "
             "--aws].")(function)
    function = click.option("--region", default=None, help="AWS region of the stack.")(function)
    return click.option("--profile", default=None, help="AWS profile to use.")(function)


def config_path() -> Path:
    return Path(os.environ.get("SGC_CONFIG") or Path.home() / ".sgcflow" / "config.yaml")


def config() -> dict[str, Any]:
    """The config file's settings ({} without a file); an error names the file and the key."""
    path = config_path()
    if not path.is_file():
        return {}
    from coordinator.spec import safeload

    try:
        data = safeload.load_file(path)
    except safeload.LoadError as error:
        raise click.ClickException(f"{path}: {error}") from None
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise click.ClickException(f"{path}: must be a mapping with keys {list(CONFIG_KEYS)}")
    for key, value in data.items():
        if key not in CONFIG_KEYS:
            from coordinator.spec.speccheck import did_you_mean

            raise click.ClickException(f"{path}: unknown key {str(key)[:40]!r}; allowed "
                                       f"{list(CONFIG_KEYS)}{did_you_mean(key, CONFIG_KEYS)}")
        if key == "local" and not isinstance(value, bool):
            raise click.ClickException(f"{path}: local: must be true or false, got {value!r}")
        if key != "local" and not (isinstance(value, str) and 0 < len(value) <= 64):
            raise click.ClickException(f"{path}: {key}: must be a name, got {str(value)[:40]!r}")
    return data


def wants_local(local: bool | None) -> bool:
    """The flag if given, else SGC_LOCAL, else the config file's ``local``."""
    if local is not None:
        return local
    value = os.environ.get("SGC_LOCAL")
    if value is not None:
        if value.strip().lower() not in TRUE + FALSE:
            raise click.ClickException(f"SGC_LOCAL: must be 1 or 0 (true or false), got "
                                       f"{value[:20]!r}")
        return value.strip().lower() in TRUE
    return bool(config().get("local", False))


def backend(local: bool | None, region: str | None, profile: str | None):
    """The Backend the options select."""
    from coordinator.backends import aws_backend, local_backend

    if wants_local(local):
        try:
            return local_backend()
        except FileNotFoundError as error:
            raise click.ClickException(str(error)) from error
    settings = config()
    try:
        return aws_backend(region or settings.get("region"), profile or settings.get("profile"))
    except Exception as error:  # no credentials, no stack
        raise click.ClickException(f"cannot reach the sgcflow stack on AWS: {error} "
                                   "(use --local for the emulator)") from error


def record(stack, run_id: str) -> dict:
    """The job's record, corrected if its execution died silently (Backend.refresh)."""
    from coordinator.storage.state import JobNotFound

    try:
        return stack.refresh(run_id)
    except JobNotFound as error:
        raise click.ClickException(str(error)) from error


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=1, default=str))


def table(columns: list[str], rows: list[dict], title: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    shown = Table(*columns, title=title)
    for row in rows:
        shown.add_row(*(str(row.get(c, "")) for c in columns))
    Console(file=sys.stdout, width=200).print(shown)


def watch(stack, run_id: str, poll_s: float = 0.5) -> dict:
    """A live progress bar until the job ends (``backends.runs.watch``); its final record."""
    from coordinator.backends.runs import watch as bar

    current = bar(stack, run_id, poll_s)
    if current.get("status") == "failed":
        error = current.get("error")
        if isinstance(error, dict):
            error = f"{error.get('type')}: {error.get('message')}"
        raise click.ClickException(f"job {run_id} failed: {error}")
    return current


def wait_quietly(stack, run_id: str, poll_s: float = 0.5) -> dict:
    """Until the job ends, printing nothing (``--json``); its final record."""
    from coordinator.backends.runs import wait_for_end

    return wait_for_end(stack, run_id, poll_s)


def rounds_of(current: dict) -> int | None:
    plan = current.get("plan") or {}
    return int(current.get("rounds") or 0) or (plan.get("jobs", 0) + plan.get("T", 0)) or None
