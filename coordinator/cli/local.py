"""`sgc local up | down | status`: the moto emulator as a background server on 127.0.0.1.

The server snapshots its S3 objects and DynamoDB items under the local data directory (beside the
state file, ``~/.sgcflow/local-data``) and `up` restores them, so a crash loses seconds, not jobs;
running executions cannot be restored and their jobs are marked (`sgc resume JOB --local`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click

from coordinator.backends.connect import LOCAL_DATA, LOCAL_STATE, pid_alive
from coordinator.cli.options import json_flag
from coordinator.cli.types import FiniteFloat


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
@click.option("--port", type=click.IntRange(0, 65535), default=5055, show_default=True,
              help="Port on 127.0.0.1.")
@click.option("--log", "log_file", type=click.Path(dir_okay=False),
              default=str(LOCAL_STATE.with_suffix(".log")), show_default=True,
              help="Where the server's output goes.")
@click.option("--timeout", type=FiniteFloat(1, 3600), default=120.0, show_default=True,
              help="Seconds to wait for the server to be ready.")
@click.option("--fresh", is_flag=True, help="Start empty: forget the saved state.")
@json_flag("Print the server's state (endpoint_url, pid, state_machine_arn, restored) as JSON.")
def up(port: int, log_file: str, timeout: float, fresh: bool, as_json: bool) -> None:
    """Start the emulator server in the background (restoring the saved state)."""
    state = _state()
    if state is not None:
        if _alive(state.get("pid")):
            if as_json:
                click.echo(json.dumps({**state, "already_running": True}))
                return
            click.echo(f"already running: {state['endpoint_url']} (pid {state['pid']})")
            return
        click.echo(f"the previous server (pid {state.get('pid')}) is gone (crashed or killed): "
                   "starting a new one", err=True)
        LOCAL_STATE.unlink()
    from coordinator.emulator.serve import port_free

    if port and not port_free(port):
        raise click.BadParameter(f"{port} on 127.0.0.1 is in use (another server?): pass a "
                                 "free port", param_hint="--port")
    Path(log_file).parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "coordinator.emulator.serve", "--port", str(port),
             "--state", str(LOCAL_STATE), "--data", str(LOCAL_DATA),
             *(["--fresh"] if fresh else [])],
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
    if as_json:
        click.echo(json.dumps({**state, "already_running": False}))
        return
    click.echo(f"sgcflow emulator up: {state['endpoint_url']} (pid {state['pid']})")
    click.echo(f"state machine: {state['state_machine_arn']}")
    restored = state.get("restored")
    if restored:
        click.echo(f"restored from {LOCAL_DATA}: {restored['objects']} objects, "
                   f"{restored['items']} records")
        for run_id, status in sorted(restored["interrupted"].items()):
            click.echo(f"  job {run_id} was running: its execution is lost, now {status}"
                       + (f" (`sgc resume {run_id} --local` continues it)"
                          if status == "failed" else ""))


@local.command()
@click.option("--timeout", type=FiniteFloat(0, 3600), default=20.0, show_default=True)
@json_flag('Print {"stopped": pid or null, "data": the folder keeping its state}.')
def down(timeout: float, as_json: bool) -> None:
    """Stop the emulator server (everything in it is gone)."""
    state = _state()
    if state is None:
        click.echo(json.dumps({"stopped": None, "data": str(LOCAL_DATA)}) if as_json
                   else "not running")
        return
    pid = state.get("pid")
    if _alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    LOCAL_STATE.unlink(missing_ok=True)
    if as_json:
        click.echo(json.dumps({"stopped": pid, "data": str(LOCAL_DATA)}))
        return
    click.echo(f"stopped (pid {pid}); its state is kept in {LOCAL_DATA} "
               "(`sgc local up --fresh` starts empty)")


@local.command("status")
@json_flag()
def status_(as_json: bool) -> None:
    """Whether the emulator server runs, and where."""
    state = _state()
    running = bool(state and _alive(state.get("pid")))
    crashed = bool(state) and not running
    if as_json:
        click.echo(json.dumps({"running": running, "crashed": crashed, **(state or {})}))
    elif running:
        click.echo(f"running: {state['endpoint_url']}")
    else:
        click.echo("not running" + (f" (pid {state.get('pid')} crashed or was killed; "
                                    "`sgc local up` restores its saved state)" if crashed
                                    else ""))


def _state() -> dict | None:
    """The state file's content; None when absent or unreadable (a crash mid-write)."""
    try:
        state = json.loads(LOCAL_STATE.read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def _alive(pid) -> bool:
    return isinstance(pid, int) and pid > 0 and pid_alive(pid)
