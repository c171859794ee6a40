"""Build a Backend for AWS (from the stack's outputs), a local server, or an in-process emulator."""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3

from coordinator.backends.base import Backend
from coordinator.state import Store
from coordinator.workflow import resources

LOCAL_STATE = Path(os.environ.get("SGC_LOCAL_STATE", Path.home() / ".sgcflow" / "local.json"))


def aws_backend(region: str | None = None, profile: str | None = None,
                stack: str = resources.STACK_NAME) -> Backend:
    """The deployed stack: names from its CloudFormation outputs."""
    session = boto3.session.Session(region_name=region, profile_name=profile)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in session.client(
        "cloudformation").describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])}

    def output(name: str) -> str:
        key = resources.STACK_OUTPUTS[name]
        found = [v for k, v in outputs.items() if k == key or k.startswith(key)]
        if not found:
            raise ValueError(f"stack {stack} has no output {key} (outputs: {sorted(outputs)})")
        return found[0]

    store = Store(bucket=output("bucket"), table=output("table"), region=session.region_name)
    return Backend("aws", store, session.client("stepfunctions"), output("state_machine"))


def emulator_backend(emulator) -> Backend:
    """An in-process emulator (already started)."""
    return Backend("emulator", Store(endpoint_url=emulator.endpoint_url),
                   emulator.client("stepfunctions"), emulator.state_machine_arn)


def local_backend(state_file: Path = LOCAL_STATE) -> Backend:
    """The `sgc local up` server described by its state file."""
    if not state_file.exists():
        raise FileNotFoundError(f"no local emulator running ({state_file} missing): "
                                "start one with `sgc local up`")
    state = json.loads(state_file.read_text())
    endpoint = state["endpoint_url"]
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        os.environ.setdefault(key, value)
    store = Store(endpoint_url=endpoint, region="us-east-1")
    sfn = boto3.session.Session().client("stepfunctions", region_name="us-east-1",
                                         endpoint_url=endpoint)
    return Backend("local", store, sfn, state["state_machine_arn"])
