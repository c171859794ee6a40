"""The warm-pool manager: a scheduled Lambda that keeps each job's workers warm.

It runs per region (each stack has its own worker pool) every ``warm_pool_minutes`` (1: the
lead times assume a tick a minute). On Lambda it may put, get and delete the provisioned
concurrency of this region's worker alias and invoke that alias (pre-warm pings), nothing else;
it reads the job plans, reads job records, round logs and completion records, marks a job
submitted with notice as started, and starts that job's first execution of this stack's state
machine once its capacity is READY. A tick that fails (the function raised, or EventBridge could
not deliver it) goes to the stack's failure queue (``infra.failures``).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from constructs import Construct

from coordinator.workflow.definition import WARMPOOL_HANDLER
from infra.config import (
    ENV_BUCKET,
    ENV_STATE_MACHINE,
    ENV_TABLE,
    ENV_WARMPOOL_PLANS_PREFIX,
    ENV_WARMPOOL_REGIONS,
    ENV_WORKER_ALIAS,
    ENV_WORKER_FUNCTION,
    WORKER_ALIAS,
    InfraConfig,
)
from infra.failures import FailedInvocations
from infra.lambda_base import LambdaBundle, SgcFunction
from infra.storage import Storage
from infra.workers import WorkerPool

WARM_POOL_FUNCTION = "sgcflow-warmpool"
# The accepted job plans the manager provisions for (written on submit; one exact key).
PLANS_PREFIX = "warmpool/plans/"  # one object per accepted job, written by the Plan step
PROVISIONED_CONCURRENCY_ACTIONS = (
    "lambda:PutProvisionedConcurrencyConfig",
    "lambda:GetProvisionedConcurrencyConfig",
    "lambda:DeleteProvisionedConcurrencyConfig",
)


class WarmPool(Construct):
    """Scheduled warm-pool function + its EventBridge rule."""

    def __init__(self, scope: Construct, construct_id: str, *, config: InfraConfig,
                 bundle: LambdaBundle, workers: WorkerPool, storage: Storage,
                 failures: FailedInvocations, state_machine_arn: str) -> None:
        super().__init__(scope, construct_id)
        self.manager = SgcFunction(
            self, "Manager",
            bundle=bundle,
            function_name=WARM_POOL_FUNCTION,
            handler=WARMPOOL_HANDLER,
            memory_mb=512,
            timeout_s=60,
            environment={ENV_WORKER_FUNCTION: workers.function.function_name,
                         ENV_WORKER_ALIAS: WORKER_ALIAS,
                         ENV_BUCKET: storage.bucket.bucket_name,
                         ENV_TABLE: storage.table.table_name,
                         ENV_STATE_MACHINE: state_machine_arn,
                         ENV_WARMPOOL_PLANS_PREFIX: PLANS_PREFIX,
                         ENV_WARMPOOL_REGIONS: cdk.Stack.of(self).region},
            log_retention_days=config.log_retention_days,
            description="sgcflow warm pool: provisioned concurrency and pings of the workers",
            retry_attempts=0,
            on_failure=failures.destination,
        )
        self.manager.role.add_to_principal_policy(iam.PolicyStatement(
            actions=[*PROVISIONED_CONCURRENCY_ACTIONS, "lambda:InvokeFunction"],
            resources=[workers.alias.function_arn]))
        self.manager.role.add_to_principal_policy(iam.PolicyStatement(
            actions=["states:StartExecution"], resources=[state_machine_arn]))
        storage.grant_warm_pool(self.manager.role)
        self.schedule = events.Rule(
            self, "Schedule",
            description="tick of the sgcflow warm-pool manager",
            schedule=events.Schedule.rate(cdk.Duration.minutes(config.warm_pool_minutes)),
            targets=[targets.LambdaFunction(self.manager.function, retry_attempts=0,
                                            dead_letter_queue=failures.queue)],
        )
