"""`sgc local up | down | status`: the moto emulator as a background server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click

from coordinator.backends.connect import LOCAL_STATE


@click.group()
def local() -> None:
    """Run the AWS side locally: moto (S3, DynamoDB, Lambda, Step Functions) with the real
    handlers in-process, the same bucket, table, functions and state machine as the CDK app.

    \b
    Examples:
      sgc local up                       # start in the background (prints the endpoint)
      sgc submit job.yaml --local --watch
      sgc local down                     # stop it
    """


@local.command()
@click.option("--port", type=int, default=5055, show_default=True, help="Port on 127.0.0.1.")
@click.option("--log", "log_file", type=click.Path(dir_okay=False),
              default=str(LOCAL_STATE.with_suffix(".log")), show_default=True,
              help="Where the server's output goes.")
@click.option("--timeout", type=float, default=120.0, show_default=True,
              help="Seconds to wait for the server to be ready.")
def up(port: int, log_file: str, timeout: float) -> None:
    """Start the emulator server in the background."""
    if LOCAL_STATE.exists():
        state = json.loads(LOCAL_STATE.read_text())
        if _alive(state["pid"]):
            click.echo(f"already running: {state['endpoint_url']} (pid {state['pid']})")
            return
        LOCAL_STATE.unlink()
    Path(log_file).parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "coordinator.emulator.serve", "--port", str(port),
             "--state", str(LOCAL_STATE)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
    deadline = time.monotonic() + timeout
    while not LOCAL_STATE.exists():
        if process.poll() is not None:
            raise click.ClickException(f"the emulator exited ({process.returncode}); "
                                       f"see {log_file}")
        if time.monotonic() > deadline:
            process.terminate()
            raise click.ClickException(f"the emulator was not ready in {timeout} s; "
                                       f"see {log_file}")
        time.sleep(0.2)
    state = json.loads(LOCAL_STATE.read_text())
    click.echo(f"sgcflow emulator up: {state['endpoint_url']} (pid {state['pid']})")
    click.echo(f"state machine: {state['state_machine_arn']}")


@local.command()
@click.option("--timeout", type=float, default=20.0, show_default=True)
def down(timeout: float) -> None:
    """Stop the emulator server (everything in it is gone)."""
    if not LOCAL_STATE.exists():
        click.echo("not running")
        return
    pid = json.loads(LOCAL_STATE.read_text())["pid"]
    if _alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    LOCAL_STATE.unlink(missing_ok=True)
    click.echo(f"stopped (pid {pid})")


@local.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status_(as_json: bool) -> None:
    """Whether the emulator server runs, and where."""
    state = json.loads(LOCAL_STATE.read_text()) if LOCAL_STATE.exists() else None
    running = bool(state and _alive(state["pid"]))
    if as_json:
        click.echo(json.dumps({"running": running, **(state or {})}))
    else:
        click.echo(f"running: {state['endpoint_url']}" if running else "not running")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as gone
        waited, _ = os.waitpid(pid, os.WNOHANG)
        return waited == 0
    except ChildProcessError:
        return True
