"""The IAM audit: every recorded call of every end-to-end run against its caller's role.

A run file (written by `make deploy-local`, see ``write_run``) holds the synthesized template it
deployed, the physical id of each resource, and the calls its callers made (each Lambda
function, and the state machine invoking its steps). For each call the request(s) IAM would see
(``actions``) are evaluated against the statements of the caller's role (``policy``): a request
no Allow covers, or a Deny covers, is *denied*; an Allow grant (action x resource of a statement)
that no request used is *unused*. The grants the services use on a caller's behalf
(``RUNTIME_ACTIONS``) are never reported unused.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coordinator.audit.actions import Authorization
from coordinator.audit.policy import (
    AuditError,
    Resolver,
    Statement,
    decide,
    function_roles,
    matches,
    role_statements,
)

# Grants a service uses on the caller's behalf, never through a recorded call: Lambda writing
# the function's logs and sending a failed asynchronous invocation to its on-failure queue; Step
# Functions delivering the machine's logs and traces. Never reported unused.
RUNTIME_ACTIONS = frozenset({
    "logs:CreateLogStream", "logs:PutLogEvents", "sqs:SendMessage",
    "logs:CreateLogDelivery", "logs:DeleteLogDelivery", "logs:DescribeLogGroups",
    "logs:DescribeResourcePolicies", "logs:GetLogDelivery", "logs:ListLogDeliveries",
    "logs:PutResourcePolicy", "logs:UpdateLogDelivery", "xray:GetSamplingRules",
    "xray:GetSamplingTargets", "xray:PutTelemetryRecords", "xray:PutTraceSegments"})
DEFAULT_RUNS_DIR = Path("build") / "audit"


@dataclass
class AuditReport:
    calls: int = 0
    denied: list[dict] = field(default_factory=list)
    unused: list[dict] = field(default_factory=list)
    calls_per_function: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Exactly what `sgc audit iam --json` prints."""
        return {"calls": self.calls, "denied": self.denied, "unused": self.unused}

    @property
    def silent_functions(self) -> list[str]:
        return sorted(f for f, n in self.calls_per_function.items() if n == 0)


def write_run(path: Path, *, name: str, template: Mapping, physical: Mapping[str, str],
              region: str, account: str, calls: list[dict]) -> None:
    """One end-to-end run's audit input (read back by ``read_runs``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"name": name, "region": region, "account": account,
                                "physical": dict(physical), "template": template,
                                "calls": calls}))


def read_runs(paths: Iterable[Path]) -> list[dict]:
    runs = []
    for path in paths:
        try:
            run = json.loads(Path(path).read_text())
        except (OSError, ValueError) as error:
            raise AuditError(f"{path}: not an audit run file ({error})") from None
        missing = {"template", "physical", "region", "account", "calls"} - set(run)
        if missing:
            raise AuditError(f"{path}: missing {sorted(missing)}")
        runs.append(run)
    return runs


def audit(runs: Iterable[Mapping[str, Any]]) -> AuditReport:
    """Denied calls and unused grants over all runs (grants count as used in any run)."""
    report = AuditReport()
    denied: Counter = Counter()
    grants: dict[tuple[str, str, str, str], bool] = {}
    for run in runs:
        resolve = Resolver(run["template"], run["physical"], region=run["region"],
                           account=run["account"])
        roles = function_roles(run["template"])
        statements = {f: role_statements(run["template"], resolve, r) for f, r in roles.items()}
        for function, found in statements.items():
            report.calls_per_function.setdefault(function, 0)
            for statement in found:
                for action, resource in _allow_grants(statement):
                    grants.setdefault((function, action, resource, _condition_text(statement)),
                                      False)
        for call in run["calls"]:
            function = call["function"]
            report.calls += 1
            report.calls_per_function[function] = report.calls_per_function.get(function, 0) + 1
            if function not in statements:
                denied[(function, call["call"], "(any)", "(function not in the template)",
                        "{}")] += 1
                continue
            for raw in call["requests"]:
                request = Authorization(raw["action"], raw["resource"], raw.get("conditions", {}))
                allowed, by = decide(statements[function], request)
                if not allowed:
                    denied[(function, call["call"], request.action, request.resource,
                            json.dumps(dict(request.conditions), sort_keys=True))] += 1
                for index in by:
                    _mark_used(grants, function, statements[function][index], request)
    report.denied = [{"function": f, "call": c, "action": a, "resource": r,
                      "conditions": json.loads(k), "count": n}
                     for (f, c, a, r, k), n in sorted(denied.items())]
    report.unused = [{"function": f, "action": a, "resource": r,
                      **({"condition": c} if c else {})}
                     for (f, a, r, c), used in sorted(grants.items())
                     if not used and a not in RUNTIME_ACTIONS]
    return report


def _allow_grants(statement: Statement) -> list[tuple[str, str]]:
    return statement.grants() if statement.effect == "Allow" else []


def _condition_text(statement: Statement) -> str:
    return json.dumps(statement.conditions, sort_keys=True) if statement.conditions else ""


def _mark_used(grants: dict, function: str, statement: Statement,
               request: Authorization) -> None:
    for action, resource in _allow_grants(statement):
        if matches(action, request.action, case_insensitive=True) and \
                matches(resource, request.resource):
            grants[(function, action, resource, _condition_text(statement))] = True
