"""Names and settings of the AWS resources one sgcflow stack holds (one home for both backends).

The CDK app may let CloudFormation name things; the AWS backend then reads the stack outputs
(``STACK_OUTPUTS``). The emulator creates exactly these, with these names.
"""

from __future__ import annotations

STACK_NAME = "SgcflowStack"
BUCKET = "sgcflow-data"
TABLE = "sgcflow-jobs"
STATE_MACHINE = "sgcflow-job"
WORKER_FUNCTION = "sgcflow-worker"
STEP_FUNCTION_PREFIX = "sgcflow-step-"
# Lambda memory (MB) and timeout (s): the worker, then the coordinator steps.
WORKER_MEMORY_MB = 1769
WORKER_TIMEOUT_S = 60
STEP_MEMORY_MB = 1024
# CloudFormation output keys the AWS backend looks for.
STACK_OUTPUTS = {
    "bucket": "BucketName",
    "table": "TableName",
    "state_machine": "StateMachineArn",
    "worker": "WorkerFunctionName",
}
# DynamoDB key schema (string partition key "pk", string sort key "sk"), shared with the workers.
TABLE_KEYS = {"partition": "pk", "sort": "sk"}


def step_function_name(step: str) -> str:
    """Lambda function name of a coordinator step (``plan``, ``dispatch``, ...)."""
    return f"{STEP_FUNCTION_PREFIX}{step}"
