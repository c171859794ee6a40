"""Render the state machine of a synthesized template back to plain ASL for the emulator.

CDK writes the definition as ``Fn::Join`` of strings and ``Fn::GetAtt [<Function>, Arn]``. We
resolve each function reference through its ``Handler`` (``STEP_HANDLERS`` maps handler to step)
to the ARN the emulator gives that step, and the pseudo parameters to fixed values, so the
exact definition CloudFormation would deploy runs under moto.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from coordinator.workflow.definition import STEP_HANDLERS

PSEUDO = {"AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}
STATE_MACHINE_TYPE = "AWS::StepFunctions::StateMachine"


class RenderError(ValueError):
    """The template holds something the renderer cannot resolve to a plain value."""


def state_machine(template: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    """(logical id, resource) of the template's only state machine."""
    found = [(lid, r) for lid, r in template.get("Resources", {}).items()
             if r.get("Type") == STATE_MACHINE_TYPE]
    if len(found) != 1:
        raise RenderError(f"template: expected one {STATE_MACHINE_TYPE}, found {len(found)}")
    return found[0]


def render_definition(template: Mapping[str, Any], step_arns: Mapping[str, str], *,
                      region: str = "us-east-1", account: str = "123456789012") -> dict:
    """The state machine's ASL with ``step_arns[step]`` for each step function reference."""
    resources = template.get("Resources", {})
    by_handler = {handler: step for step, handler in STEP_HANDLERS.items()}
    pseudo = {**PSEUDO, "AWS::Region": region, "AWS::AccountId": account}

    def function_arn(logical_id: str) -> str:
        resource = resources.get(logical_id, {})
        handler = resource.get("Properties", {}).get("Handler")
        step = by_handler.get(handler)
        if resource.get("Type") != "AWS::Lambda::Function" or step not in step_arns:
            raise RenderError(f"Fn::GetAtt {logical_id}.Arn: not a step function with an ARN "
                              f"(handler {handler!r}; steps {sorted(step_arns)})")
        return step_arns[step]

    def resolve(value: Any) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and len(value) == 1:
            (name, argument), = value.items()
            if name == "Fn::Join":
                separator, parts = argument
                return separator.join(resolve(part) for part in parts)
            if name == "Fn::GetAtt" and argument[1] == "Arn":
                return function_arn(argument[0])
            if name == "Ref" and argument in pseudo:
                return pseudo[argument]
        raise RenderError(f"cannot resolve {json.dumps(value)[:200]}")

    _, machine = state_machine(template)
    return json.loads(resolve(machine["Properties"]["DefinitionString"]))
