"""IAM policy evaluation for the audit: a function's role statements from a synthesized template,
resolved to plain ARNs, and the decision IAM would take on one request.

Supported, because the template uses them: Allow/Deny, Action and Resource lists with ``*`` and
``?`` wildcards, and the condition operators in ``OPERATORS`` (with ``ForAllValues:`` /
``ForAnyValue:`` set qualifiers and the ``...IfExists`` suffix). Anything else in a statement
(NotAction, NotResource, another operator) raises ``AuditError`` naming it, so a new kind of
grant cannot slip past unchecked.
Evaluation follows IAM: an explicit Deny wins, else any Allow, else denied by default.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from coordinator.audit.actions import Authorization


class AuditError(ValueError):
    """The template or a recorded call holds something the audit cannot evaluate."""


@dataclass(frozen=True)
class Statement:
    """One resolved policy statement of a role."""

    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def grants(self) -> list[tuple[str, str]]:
        return [(a, r) for a in self.actions for r in self.resources]


# --- template resolution ------------------------------------------------------------------------
ARN_FORMATS = {
    "AWS::S3::Bucket": "arn:aws:s3:::{id}",
    "AWS::DynamoDB::Table": "arn:aws:dynamodb:{region}:{account}:table/{id}",
    "AWS::Lambda::Function": "arn:aws:lambda:{region}:{account}:function:{id}",
    "AWS::Logs::LogGroup": "arn:aws:logs:{region}:{account}:log-group:{id}:*",
    "AWS::IAM::Role": "arn:aws:iam::{account}:role/{id}",
    "AWS::SNS::Topic": "{id}",
    "AWS::KMS::Key": "arn:aws:kms:{region}:{account}:key/{id}",
    "AWS::StepFunctions::StateMachine": "{id}",
    "AWS::Lambda::Alias": "{id}",
    "AWS::Events::Rule": "arn:aws:events:{region}:{account}:rule/{id}",
    "AWS::SQS::Queue": "arn:aws:sqs:{region}:{account}:{id}",
}


class Resolver:
    """Plain values for a template's intrinsic functions, from the deployed physical ids."""

    def __init__(self, template: Mapping[str, Any], physical: Mapping[str, str], *,
                 region: str, account: str):
        self.resources = template.get("Resources", {})
        self.physical, self.region, self.account = physical, region, account
        self.pseudo = {"AWS::Partition": "aws", "AWS::Region": region,
                       "AWS::AccountId": account, "AWS::URLSuffix": "amazonaws.com"}

    def _physical(self, logical_id: str) -> str:
        if logical_id not in self.physical:
            raise AuditError(f"resource {logical_id}: no physical id (not deployed?)")
        return self.physical[logical_id]

    def _arn(self, logical_id: str) -> str:
        kind = self.resources.get(logical_id, {}).get("Type", "")
        if kind not in ARN_FORMATS:
            raise AuditError(f"Fn::GetAtt {logical_id}.Arn: no ARN format for {kind!r}")
        physical = self._physical(logical_id)
        if kind == "AWS::SQS::Queue":  # its physical id is the queue URL; the name ends it
            physical = physical.rstrip("/").rsplit("/", 1)[-1]
        return ARN_FORMATS[kind].format(id=physical, region=self.region, account=self.account)

    def __call__(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (name, argument), = value.items()
            if name == "Ref":
                return self.pseudo.get(argument) or self._physical(argument)
            if name == "Fn::GetAtt":
                if argument[1] != "Arn":
                    raise AuditError(f"Fn::GetAtt {argument}: only .Arn is resolved")
                return self._arn(argument[0])
            if name == "Fn::Join":
                return argument[0].join(str(self(part)) for part in argument[1])
            if name == "Fn::Select":
                return self(argument[1])[int(argument[0])]
            if name == "Fn::Split":
                return str(self(argument[1])).split(argument[0])
        return {k: self(v) for k, v in value.items()}


def _listed(value: Any) -> tuple[str, ...]:
    return tuple(value) if isinstance(value, list) else (value,)


def role_statements(template: Mapping[str, Any], resolve: Resolver,
                    role_id: str) -> list[Statement]:
    """Every statement of the inline policies (AWS::IAM::Policy and the role's own) of a role."""
    documents = []
    for policy in template.get("Resources", {}).values():
        props = policy.get("Properties", {})
        if policy.get("Type") == "AWS::IAM::Policy" and {"Ref": role_id} in props.get("Roles", []):
            documents.append(props["PolicyDocument"])
    role = template["Resources"][role_id]
    documents += [p["PolicyDocument"] for p in role.get("Properties", {}).get("Policies", [])]
    if role.get("Properties", {}).get("ManagedPolicyArns"):
        raise AuditError(f"role {role_id}: managed policies are not evaluated")
    statements = []
    for document in documents:
        for raw in _listed(document["Statement"]):
            unknown = set(raw) - {"Effect", "Action", "Resource", "Condition", "Sid"}
            if unknown:
                raise AuditError(f"role {role_id}: statement uses {sorted(unknown)}, which the "
                                 "audit does not evaluate")
            statements.append(Statement(raw["Effect"], _listed(raw["Action"]),
                                        tuple(resolve(list(_listed(raw["Resource"])))),
                                        raw.get("Condition", {})))
    return statements


def function_roles(template: Mapping[str, Any]) -> dict[str, str]:
    """Caller name -> logical id of its role, for every caller of the template: each Lambda
    function (by FunctionName) and each state machine (by StateMachineName), whose own role
    invokes the steps and starts executions."""
    kinds = {"AWS::Lambda::Function": ("FunctionName", "Role"),
             "AWS::StepFunctions::StateMachine": ("StateMachineName", "RoleArn")}
    out = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") in kinds:
            name_key, role_key = kinds[resource["Type"]]
            props = resource["Properties"]
            role = props.get(role_key, {})
            if not (isinstance(role, dict) and "Fn::GetAtt" in role):
                raise AuditError(f"{logical_id}: role is not a role of the template")
            out[props.get(name_key, logical_id)] = role["Fn::GetAtt"][0]
    return out


# --- evaluation ---------------------------------------------------------------------------------
def _plain_like(pattern: str, value: str) -> bool:
    """IAM wildcards are only * and ?; brackets are literal."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def matches(pattern: str, value: str, *, case_insensitive: bool = False) -> bool:
    if case_insensitive:
        pattern, value = pattern.lower(), value.lower()
    return _plain_like(pattern, value)


OPERATORS = {
    "StringEquals": lambda p, v: p == v,
    "StringNotEquals": lambda p, v: p != v,
    "StringLike": _plain_like,
    "StringNotLike": lambda p, v: not _plain_like(p, v),
    "Bool": lambda p, v: str(p).lower() == str(v).lower(),
    "ArnLike": _plain_like,
    "ArnEquals": lambda p, v: p == v,
}


def _condition_holds(operator: str, key: str, patterns: Any, context: Mapping[str, Any]) -> bool:
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    if base not in OPERATORS or qualifier not in ("", "ForAllValues", "ForAnyValue"):
        raise AuditError(f"condition operator {operator!r} is not evaluated by the audit "
                         f"(known: {sorted(OPERATORS)}, with ForAllValues:/ForAnyValue: and "
                         "...IfExists)")
    test, patterns = OPERATORS[base], _listed(patterns)
    negated = base.startswith("StringNot")
    if key not in context:  # IAM: an empty set satisfies "for all", never "for any"
        if if_exists:  # ...IfExists: a request without the key passes
            return True
        return {"ForAllValues": True, "ForAnyValue": False}.get(qualifier, negated)
    values = _listed(context[key])

    def one(value: str) -> bool:
        results = [test(p, value) for p in patterns]
        return all(results) if negated else any(results)

    if qualifier == "ForAllValues":
        return all(one(v) for v in values)
    if qualifier == "ForAnyValue":
        return any(one(v) for v in values)
    return any(one(v) for v in values)


def applies(statement: Statement, request: Authorization) -> bool:
    """Whether the statement covers the request (action, resource and every condition)."""
    if not any(matches(a, request.action, case_insensitive=True) for a in statement.actions):
        return False
    if not any(matches(r, request.resource) for r in statement.resources):
        return False
    return all(_condition_holds(op, key, patterns, request.conditions)
               for op, block in statement.conditions.items() for key, patterns in block.items())


def decide(statements: list[Statement], request: Authorization) -> tuple[bool, list[int]]:
    """(allowed, indexes of the Allow statements that granted it)."""
    matched = [i for i, s in enumerate(statements) if applies(s, request)]
    if any(statements[i].effect == "Deny" for i in matched):
        return False, []
    allowing = [i for i in matched if statements[i].effect == "Allow"]
    return bool(allowing), allowing
