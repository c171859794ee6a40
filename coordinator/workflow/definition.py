"""The job state machine (Amazon States Language), built once as a plain dict.

The same definition runs in AWS (``infra/`` passes CDK tokens as ARNs and ``json.dumps`` it) and in
moto's interpreter (``coordinator.emulator`` passes the emulator's ARNs).

Shape (a Standard workflow; every Task is a thin Lambda in ``functions/coordinator_steps.py``)::

    Plan -> Route --done--> Finalize -> Done
              |--cancelled--> Finalize
              |--stale--> Done (a newer execution of the same job runs it)
              |--steps >= budget--> ContinueAsNew (Plan starts a new execution) -> Continued
              '--> Round -> Route

Why this shape: every state transition and every dependent AWS call is paid by every round, so
one Task does the whole round loop (``coordinator.control.runner``): it collects round t, decodes
and steps the models, commits the round in one DynamoDB transaction and dispatches round t + 1
at once, then goes on with round t + 1 in the same invocation until the job is done or the
Lambda's time (or ``SGC_ROUNDS_PER_TASK``) is spent. A round thus costs at most 2 transitions
(Round + Route, when one invocation runs one round), usually far fewer. An inline Map runs at
most 40 items at once and cannot stop at "the first decodable set", so the workers are invoked
asynchronously (``InvocationType=Event``) and Collect polls their completion records. Route hands
over to a fresh execution of the same machine (same job, state in DynamoDB/S3) before the
25,000-event limit. Every step is idempotent (conditional writes, deterministic S3 keys), so
Retry may re-run any of them.

The state passed between steps is small: ``{"job", "round", "rounds", "steps", "execution",
"status", "next_execution", "next_name"}``; everything else lives in DynamoDB and S3.

Environment the coordinator functions need (infra sets it; names in ``coordinator.contract.env``):
``SGC_TABLE``, ``SGC_BUCKET``, ``SGC_WORKER_FUNCTION`` (name or ARN of the worker Lambda).
Permissions: S3 read/write on the bucket, DynamoDB read/write on the table (the round commit is
a TransactWriteItems of UpdateItems), ``lambda:InvokeFunction`` on the worker for the *round*
function; the *plan* function also needs ``states:StartExecution`` on the state machine
(continue-as-new); the state machine role needs ``lambda:InvokeFunction`` on the step functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Logical Lambda name -> handler path (module.function) of the thin handler in functions/.
STEP_HANDLERS: dict[str, str] = {
    "plan": "functions.coordinator_steps.plan",
    "round": "functions.coordinator_steps.round_task",
    "finalize": "functions.coordinator_steps.finalize",
}
WORKER_HANDLER = "functions.worker.handler"
WARMPOOL_HANDLER = "functions.warmpool_handler.handler"

# Steps (Lambda tasks) one execution may run before continuing as new: ~6 events per task,
# so 2,500 steps stay well under the 25,000-event history limit.
STEP_BUDGET = 2_500
# Timeout (seconds) the infra gives each step function; Round stops starting rounds before it.
STEP_TIMEOUTS: dict[str, int] = {"plan": 300, "round": 900, "finalize": 120}

_TRANSIENT = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.Unknown",
    "States.Timeout",
    "TransientStepError",
]


def _task(arn: str, next_state: str, *, result_path: str | None = "$") -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Task",
        "Resource": arn,
        "Retry": [{"ErrorEquals": _TRANSIENT, "IntervalSeconds": 1, "MaxAttempts": 3,
                   "BackoffRate": 2.0}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                   "Next": "RecordFailure"}],
        "Next": next_state,
    }
    if result_path != "$":
        state["ResultPath"] = result_path
    return state


def build_definition(function_arns: Mapping[str, str], *,
                     step_budget: int = STEP_BUDGET) -> dict[str, Any]:
    """The ASL for one job, with ``function_arns[name]`` for every name in ``STEP_HANDLERS``.

    ``step_budget``: Lambda steps per execution before continuing as new (tests lower it).
    """
    missing = sorted(set(STEP_HANDLERS) - set(function_arns))
    if missing:
        raise ValueError(f"function_arns: missing {missing}; needs every key of STEP_HANDLERS "
                         f"({sorted(STEP_HANDLERS)})")
    arn = dict(function_arns)
    states: dict[str, Any] = {
        "Plan": {**_task(arn["plan"], "Route"), "Parameters": {
            "job.$": "$.job", "execution.$": "$.execution", "execution_arn.$": "$$.Execution.Id"}},
        "Route": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.status", "StringEquals": "done", "Next": "Finalize"},
                {"Variable": "$.status", "StringEquals": "cancelled", "Next": "Finalize"},
                {"Variable": "$.status", "StringEquals": "stale", "Next": "Done"},
                {"Variable": "$.steps", "NumericGreaterThanEquals": step_budget,
                 "Next": "ContinueAsNew"},
            ],
            "Default": "Round",
        },
        "Round": _task(arn["round"], "Route"),
        # The Plan function starts the next execution (moto's states:startExecution integration
        # fails, and one definition must run in both places).
        "ContinueAsNew": {**_task(arn["plan"], "Continued", result_path="$.continued"),
                          "Parameters": {"job.$": "$.job", "continue_as.$": "$.next_execution",
                                         "name.$": "$.next_name",
                                         "state_machine_arn.$": "$$.StateMachine.Id"}},
        "Continued": {"Type": "Succeed"},
        "Finalize": _task(arn["finalize"], "Done"),
        "Done": {"Type": "Succeed"},
        "RecordFailure": {
            "Type": "Task",
            "Resource": arn["finalize"],
            "Parameters": {"job.$": "$.job", "error.$": "$.error", "status": "failed",
                           "execution_arn.$": "$$.Execution.Id"},
            "ResultPath": "$.recorded",
            "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 2}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.recorded",
                       "Next": "Failed"}],
            "Next": "Failed",
        },
        "Failed": {"Type": "Fail", "Error": "JobFailed",
                   "Cause": "a coordinator step failed; see the job record (sgc status JOB)"},
    }
    return {
        "Comment": "sgcflow job: a Round task runs collect + update + dispatch, continue-as-new",
        "StartAt": "Plan",
        "TimeoutSeconds": 7 * 24 * 3600,
        "States": states,
    }
