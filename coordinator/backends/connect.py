"""Build a Backend for AWS (from the stack's outputs), a local server, or an in-process emulator."""

from __future__ import annotations

import json
import os
from pathlib import Path

import botocore.session

from coordinator.backends.base import Backend
from coordinator.storage.state import Store
from coordinator.workflow import resources

LOCAL_STATE = Path(os.environ.get("SGC_LOCAL_STATE", Path.home() / ".sgcflow" / "local.json"))
# The `sgc local up` server's saved state (coordinator/emulator/persist.py), beside its state file.
LOCAL_DATA = LOCAL_STATE.parent / f"{LOCAL_STATE.stem}-data"


class EmulatorDown(FileNotFoundError):
    """The `sgc local up` server is not running (never started, stopped, or crashed)."""


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie child of ours counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        return waited == 0
    except ChildProcessError:  # not our child: a zombie nobody reaped yet is gone too
        return not _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return any(line.startswith("State:") and "Z" in line.split()[1:2]
               for line in status.splitlines())


def read_local_state(state_file: Path | None = None) -> dict:
    """The running server's state file, or EmulatorDown saying plainly what happened."""
    state_file = state_file or LOCAL_STATE
    if not state_file.exists():
        raise EmulatorDown(f"no local emulator running ({state_file} missing): start one with "
                           "`sgc local up`")
    try:
        state = json.loads(state_file.read_text())
        pid = int(state["pid"])
    except (ValueError, KeyError, TypeError):
        raise EmulatorDown(f"{state_file} is damaged: `sgc local up` starts a new server") \
            from None
    if not pid_alive(pid):
        raise EmulatorDown(f"the local emulator (pid {pid}) is not running: it crashed or was "
                           f"killed. {_saved_note(state_file)}")
    return state


def _saved_note(state_file: Path) -> str:
    data = state_file.parent / f"{state_file.stem}-data"
    if not (data / "meta.json").exists():
        return "`sgc local up` starts a new one; nothing was saved, its jobs are lost."
    return (f"`sgc local up` restarts it and restores everything it had stored ({data} keeps "
            "every change it acknowledged); executions that were running are lost: "
            "`sgc resume JOB --local` continues their jobs.")


def aws_backend(region: str | None = None, profile: str | None = None,
                stack: str = resources.STACK_NAME) -> Backend:
    """The deployed stack: names from its CloudFormation outputs."""
    session = botocore.session.Session(profile=profile)
    region = region or session.get_config_variable("region")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in session.create_client(
        "cloudformation", region_name=region).describe_stacks(StackName=stack)["Stacks"][0]
        .get("Outputs", [])}

    def output(name: str) -> str:
        key = resources.STACK_OUTPUTS[name]
        found = [v for k, v in outputs.items() if k == key or k.startswith(key)]
        if not found:
            raise ValueError(f"stack {stack} has no output {key} (outputs: {sorted(outputs)})")
        return found[0]

    store = Store(bucket=output("bucket"), table=output("table"), region=region,
                  profile=profile)
    return Backend("aws", store, session.create_client("stepfunctions", region_name=region),
                   output("state_machine"))


def emulator_backend(emulator) -> Backend:
    """An in-process emulator (already started)."""
    return Backend("emulator", Store(endpoint_url=emulator.endpoint_url),
                   emulator.client("stepfunctions"), emulator.state_machine_arn)


def local_backend(state_file: Path | None = None) -> Backend:
    """The `sgc local up` server described by its state file."""
    state = read_local_state(state_file or LOCAL_STATE)
    endpoint = state["endpoint_url"]
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        os.environ.setdefault(key, value)
    store = Store(endpoint_url=endpoint, region="us-east-1")
    sfn = botocore.session.get_session().create_client("stepfunctions", region_name="us-east-1",
                                                       endpoint_url=endpoint)
    return Backend("local", store, sfn, state["state_machine_arn"])
