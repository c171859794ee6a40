"""The coordinator: one Lambda per workflow step and the Step Functions state machine.

The state machine's definition is ``coordinator.workflow.definition.build_definition`` with CDK
tokens for the step ARNs, the very function the emulator runs under moto, so the cloud and the
local backend execute one definition. Only the steps that dispatch workers may invoke the worker,
and only through the exact ARN of its live alias; only the Plan step (continue-as-new) may start
executions, and only of this state machine. Each step has its own role with only what that
step does to the bucket and the table (``infra.storage.STEP_ACCESS``).
"""

from __future__ import annotations

import json

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from coordinator.workflow import resources
from coordinator.workflow.definition import STEP_HANDLERS, STEP_TIMEOUTS, build_definition
from infra.config import (
    ENV_BUCKET,
    ENV_FANOUT,
    ENV_TABLE,
    ENV_WORKER_ALIAS,
    ENV_WORKER_FUNCTION,
    WORKER_ALIAS,
    InfraConfig,
)
from infra.lambda_base import LambdaBundle, SgcFunction
from infra.nag import acknowledge
from infra.storage import Storage
from infra.workers import WorkerPool

# Steps that invoke the worker (asynchronously, one invoke per worker and round).
INVOKES_WORKER = frozenset({"round"})
# Steps that start the job's next execution of this state machine (continue-as-new).
STARTS_EXECUTIONS = frozenset({"plan"})
START_EXECUTION_TASK = "arn:aws:states:::states:startExecution"
DEFAULT_STEP_TIMEOUT_S = 300


class Coordinator(Construct):
    """Step Lambdas + the job state machine (Standard, logged at ALL, X-Ray traced)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: InfraConfig,
                 bundle: LambdaBundle, storage: Storage, workers: WorkerPool) -> None:
        super().__init__(scope, construct_id)
        environment = {
            ENV_BUCKET: storage.bucket.bucket_name,
            ENV_TABLE: storage.table.table_name,
            # The alias ARN: an invoke without Qualifier then still reaches the live alias.
            ENV_WORKER_FUNCTION: workers.alias.function_arn,
            ENV_WORKER_ALIAS: WORKER_ALIAS,
            ENV_FANOUT: config.fanout,
        }
        stack = cdk.Stack.of(self)
        # Known name, so roles can name the machine before it exists (no dependency cycle).
        self.state_machine_arn = stack.format_arn(
            service="states", resource="stateMachine", resource_name=resources.STATE_MACHINE,
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)
        self.steps: dict[str, SgcFunction] = {}
        for step, handler in STEP_HANDLERS.items():
            function = SgcFunction(
                self, f"Step-{step}",
                bundle=bundle,
                function_name=resources.step_function_name(step),
                handler=handler,
                memory_mb=config.step_memory_mb,
                timeout_s=STEP_TIMEOUTS.get(step, DEFAULT_STEP_TIMEOUT_S),
                environment=environment,
                log_retention_days=config.log_retention_days,
                description=f"sgcflow coordinator step: {step}",
            )
            storage.grant_step(function.role, step)
            if step in INVOKES_WORKER:
                function.role.add_to_principal_policy(iam.PolicyStatement(
                    actions=["lambda:InvokeFunction"],
                    resources=[workers.alias.function_arn]))
            if step in STARTS_EXECUTIONS:
                function.role.add_to_principal_policy(iam.PolicyStatement(
                    actions=["states:StartExecution"], resources=[self.state_machine_arn]))
            self.steps[step] = function
        self.state_machine = self._state_machine(config)

    def _state_machine(self, config: InfraConfig) -> sfn.StateMachine:
        arns = {step: function.function.function_arn for step, function in self.steps.items()}
        definition = build_definition(arns, step_budget=config.step_budget)
        role = iam.Role(self, "StateMachineRole",
                        assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
                        description="sgcflow job state machine: invokes its step functions")
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["lambda:InvokeFunction"], resources=sorted(arns.values())))
        if _has_task(definition, START_EXECUTION_TASK):  # continue-as-new done by the machine
            role.add_to_principal_policy(iam.PolicyStatement(
                actions=["states:StartExecution"], resources=[self.state_machine_arn]))
        log_group = logs.LogGroup(self, "ExecutionLogs",
                                  removal_policy=cdk.RemovalPolicy.DESTROY)
        log_group.node.default_child.retention_in_days = config.log_retention_days
        machine = sfn.StateMachine(
            self, "StateMachine",
            state_machine_name=resources.STATE_MACHINE,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_string(json.dumps(definition)),
            role=role,
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL,
                                include_execution_data=True),
        )
        acknowledge(role, "AwsSolutions-IAM5[Resource::*]",
                    "CloudWatch Logs vended delivery (logs:*LogDelivery*, DescribeLogGroups) and "
                    "X-Ray (PutTraceSegments, GetSampling*) accept only Resource '*'.")
        return machine


def _has_task(definition: dict, resource: str) -> bool:
    """Whether any Task state of the ASL uses the service integration ``resource``."""
    states = definition.get("States", {}).values()
    return any(state.get("Resource", "").startswith(resource) for state in states)
