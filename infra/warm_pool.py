"""The warm-pool manager: a scheduled Lambda that sets provisioned concurrency on the worker alias.

It runs per region (each stack has its own worker pool) every ``warm_pool_minutes``. It may put,
get and delete the provisioned-concurrency config of this region's worker alias and nothing
else on Lambda, and read exactly one object: the job plans it provisions for. A tick that fails
(the function raised, or EventBridge could not deliver it) goes to the stack's failure queue
(``infra.failures``).
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
                 failures: FailedInvocations) -> None:
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
                         ENV_WARMPOOL_PLANS_PREFIX: PLANS_PREFIX,
                         ENV_WARMPOOL_REGIONS: cdk.Stack.of(self).region},
            log_retention_days=config.log_retention_days,
            description="sgcflow warm pool: provisioned concurrency of the worker alias",
            retry_attempts=0,
            on_failure=failures.destination,
        )
        self.manager.role.add_to_principal_policy(iam.PolicyStatement(
            actions=list(PROVISIONED_CONCURRENCY_ACTIONS),
            resources=[workers.alias.function_arn]))
        storage.grant_read_job_plans(self.manager.role)
        self.schedule = events.Rule(
            self, "Schedule",
            description="tick of the sgcflow warm-pool manager",
            schedule=events.Schedule.rate(cdk.Duration.minutes(config.warm_pool_minutes)),
            targets=[targets.LambdaFunction(self.manager.function, retry_attempts=0,
                                            dead_letter_queue=failures.queue)],
        )
