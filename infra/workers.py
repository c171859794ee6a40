"""The worker pool: one Lambda that every worker of every round invokes, behind a live alias.

Reserved concurrency equals the number of workers (256 by default) so a run always gets its
n environments and cannot starve the rest of the account. Asynchronous invokes are never retried
(``MaximumRetryAttempts=0`` on the function and on the alias): a late worker is a straggler the
code tolerates, while a retry would only arrive after the round is decided; the failed invocation
goes to the stack's failure queue instead (``infra.failures``, on the function and the alias),
with its event and error. Provisioned
concurrency is set on the alias (never on $LATEST), by the warm-pool manager or ``-c provisioned``.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from coordinator.workflow import resources
from coordinator.workflow.definition import WORKER_HANDLER
from infra.config import ENV_BUCKET, ENV_TABLE, ENV_WORKER_FUNCTION, WORKER_ALIAS, InfraConfig
from infra.failures import FailedInvocations
from infra.lambda_base import LambdaBundle, SgcFunction
from infra.storage import Storage


class WorkerPool(Construct):
    """Worker function, its published version and the ``live`` alias the coordinator invokes."""

    def __init__(self, scope: Construct, construct_id: str, *, config: InfraConfig,
                 bundle: LambdaBundle, storage: Storage, failures: FailedInvocations) -> None:
        super().__init__(scope, construct_id)
        # Built from the known names, not from the alias construct: the worker's own role and
        # environment naming its alias would otherwise be a dependency cycle.
        self.alias_arn = cdk.Stack.of(self).format_arn(
            service="lambda", resource="function",
            resource_name=f"{resources.WORKER_FUNCTION}:{WORKER_ALIAS}",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)
        self.worker = SgcFunction(
            self, "Worker",
            bundle=bundle,
            function_name=resources.WORKER_FUNCTION,
            handler=WORKER_HANDLER,
            memory_mb=config.worker_memory_mb,
            timeout_s=config.worker_timeout_s,
            environment={ENV_BUCKET: storage.bucket.bucket_name,
                         ENV_TABLE: storage.table.table_name,
                         **({ENV_WORKER_FUNCTION: self.alias_arn} if config.relays else {})},
            log_retention_days=config.log_retention_days,
            description="sgcflow worker: coded partial gradients for one worker and round",
            reserved_concurrency=config.workers,
            retry_attempts=0,
            on_failure=failures.destination,
        )
        storage.grant_worker(self.worker.role)
        if config.relays:  # a relay invocation invokes its share of the workers (tree fan-out)
            self.worker.role.add_to_principal_policy(iam.PolicyStatement(
                actions=["lambda:InvokeFunction"], resources=[self.alias_arn]))
        self.function = self.worker.function
        self.alias = lambda_.Alias(
            self, "Live",
            alias_name=WORKER_ALIAS,
            version=self.function.current_version,
            description="what the coordinator invokes and the warm pool provisions",
            provisioned_concurrent_executions=config.provisioned or None,
            retry_attempts=0,
            max_event_age=cdk.Duration.minutes(5),
            on_failure=failures.destination,  # what the coordinator invokes: the alias
        )
