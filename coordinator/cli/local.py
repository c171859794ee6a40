"""`sgc local up | down | status`: the moto emulator as a background server on 127.0.0.1.

What survives a crash of the server (even ``kill -9``): every object of the bucket and item of
the table as of the last request it answered (``coordinator.emulator.journal`` writes each
change to the local data directory, ``~/.sgcflow/local-data``, before answering), so `up`
restores every submitted job and every finished one with its result. What does not: the Step
Functions executions; jobs that were running are marked for ``sgc resume JOB --local``.

`up` waits for the server as long as it is alive and making progress (the first start on a
machine compiles the Numba kernels: minutes), showing what it does; ``--timeout`` bounds the
wait, and a server that fails to start is stopped, never left behind.
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
from coordinator.emulator.startup import progress_path, read_progress

STALL_S = 300.0  # a starting server that shows no progress this long is stuck
REMIND_S = 30.0  # how often `up` repeats what a slow start is doing
GRACE_S = 5.0  # SIGTERM to SIGKILL when stopping a server that failed to start


@click.group()
def local() -> None:
    """Run the AWS side locally: moto (S3, DynamoDB, Lambda, Step Functions) with the real
    handlers in-process, the same bucket, table, functions and state machine as the CDK app.

    \b
    Examples:
      sgc local up                       # start in the background (prints the endpoint)
      sgc submit job.yaml --local --watch
      sgc local down                     # stop it (its state is kept for the next `up`)
    """


@local.command()
@click.option("--port", type=click.IntRange(0, 65535), default=5055, show_default=True,
              help="Port on 127.0.0.1.")
@click.option("--log", "log_file", type=click.Path(dir_okay=False),
              default=str(LOCAL_STATE.with_suffix(".log")), show_default=True,
              help="Where the server's output goes.")
@click.option("--timeout", type=FiniteFloat(1, 24 * 3600), default=None,
              help="Give up after this many seconds (default: wait while the server makes "
                   "progress; the first start compiles kernels for minutes).")
@click.option("--fresh", is_flag=True, help="Start empty: forget the saved state.")
@json_flag("Print the server's state (endpoint_url, pid, state_machine_arn, restored) as JSON.")
def up(port: int, log_file: str, timeout: float | None, fresh: bool, as_json: bool) -> None:
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
    starting = _starting()
    if starting is not None:
        raise click.ClickException(f"a server is already starting (pid {starting['pid']}: "
                                   f"{starting['phase']}); `sgc local status` shows it, "
                                   "`sgc local down` stops it")
    from coordinator.emulator.serve import port_free

    if port and not port_free(port):
        raise click.BadParameter(f"{port} on 127.0.0.1 is in use (another server?): pass a "
                                 "free port", param_hint="--port")
    progress_path(LOCAL_STATE).unlink(missing_ok=True)  # a killed server's
    Path(log_file).parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "coordinator.emulator.serve", "--port", str(port),
             "--state", str(LOCAL_STATE), "--data", str(LOCAL_DATA),
             *(["--fresh"] if fresh else [])],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
    try:
        state = _wait_ready(process, timeout, log_file)
    except BaseException:  # a failed start, or Ctrl-C: never leave the process behind
        _abandon(process)
        raise
    if as_json:
        click.echo(json.dumps({**state, "already_running": False}))
        return
    _report(state)


def _wait_ready(process: subprocess.Popen, timeout: float | None, log_file: str) -> dict:
    """Wait for the state file ``process`` writes once ready, showing its progress; a
    ClickException when it exits, stalls (``STALL_S``) or outlasts ``timeout``."""
    started = changed = reminded = time.monotonic()
    seen: dict = {}
    while True:
        state = _state()
        if state is not None and state.get("pid") == process.pid:
            return state
        now = time.monotonic()
        phase = seen.get("phase", "starting")
        if process.poll() is not None:
            raise click.ClickException(f"the emulator exited during start-up (code "
                                       f"{process.returncode}) while {phase}; see {log_file}")
        if timeout is not None and now - started > timeout:
            raise click.ClickException(f"the emulator (pid {process.pid}) was not ready in "
                                       f"{timeout:g} s (it was {phase}); stopped it; see "
                                       f"{log_file}")
        progress = read_progress(progress_path(LOCAL_STATE)) or seen
        if progress != seen:
            if progress.get("phase") != seen.get("phase"):
                click.echo(f"starting (pid {process.pid}): {progress.get('phase')}", err=True)
                reminded = now
            seen, changed = progress, now
        elif now - changed > STALL_S:
            raise click.ClickException(f"the emulator (pid {process.pid}) made no progress in "
                                       f"{STALL_S:g} s while {phase}; stopped it; see {log_file}")
        if now - reminded > REMIND_S:
            click.echo(f"  ... still {phase} ({_duration(now - started)})", err=True)
            reminded = now
        time.sleep(0.2)


def _abandon(process: subprocess.Popen) -> None:
    """Stop a server that did not start (its whole session), and forget its files."""
    for sig, wait in ((signal.SIGTERM, GRACE_S), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    progress_path(LOCAL_STATE).unlink(missing_ok=True)
    state = _state()
    if state is not None and state.get("pid") == process.pid:
        LOCAL_STATE.unlink(missing_ok=True)


def _report(state: dict) -> None:
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


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


@local.command()
@click.option("--timeout", type=FiniteFloat(0, 3600), default=20.0, show_default=True,
              help="Seconds to wait for a clean stop before killing the server (its state is "
                   "kept either way).")
@json_flag('Print {"stopped": pid or null, "killed": bool, "data": the folder keeping its state}.')
def down(timeout: float, as_json: bool) -> None:
    """Stop the emulator server; its state is kept for the next `up` (`up --fresh` forgets it)."""
    state = _state() or _starting()
    pid = state.get("pid") if state else None
    killed = False
    if _alive(pid):
        os.kill(pid, signal.SIGTERM)
        if not _gone(pid, timeout):
            os.kill(pid, signal.SIGKILL)  # safe: every change it acknowledged is on disk
            killed = True
            _gone(pid, GRACE_S)
    LOCAL_STATE.unlink(missing_ok=True)
    progress_path(LOCAL_STATE).unlink(missing_ok=True)
    if as_json:
        click.echo(json.dumps({"stopped": pid, "killed": killed, "data": str(LOCAL_DATA)}))
    elif state is None:
        click.echo("not running")
    else:
        click.echo(f"stopped (pid {pid}"
                   + (f"; killed after {timeout:g} s without a clean stop" if killed else "")
                   + f"); its state is kept in {LOCAL_DATA} (`sgc local up --fresh` starts empty)")


@local.command("status")
@json_flag()
def status_(as_json: bool) -> None:
    """Whether the emulator server runs (or is starting), and where."""
    state = _state()
    running = bool(state and _alive(state.get("pid")))
    crashed = bool(state) and not running
    starting = None if running else _starting()
    if as_json:
        click.echo(json.dumps({"running": running, "crashed": crashed, "starting": starting,
                               **(state or {})}))
    elif running:
        click.echo(f"running: {state['endpoint_url']}")
    elif starting:
        click.echo(f"starting (pid {starting['pid']}): {starting['phase']}")
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


def _starting() -> dict | None:
    """A live server's start-up progress (pid, phase), if one is starting."""
    progress = read_progress(progress_path(LOCAL_STATE))
    return progress if progress and _alive(progress.get("pid")) else None


def _gone(pid: int, seconds: float) -> bool:
    """Wait up to ``seconds`` for process ``pid`` to end; whether it did."""
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _alive(pid) -> bool:
    return isinstance(pid, int) and pid > 0 and pid_alive(pid)
