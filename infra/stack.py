"""One sgcflow stack: everything a region needs to run jobs on its own worker pool."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from coordinator.workflow import resources
from infra.alarms import Alarms
from infra.config import WORKER_ALIAS, InfraConfig
from infra.coordinator import Coordinator
from infra.failures import FailedInvocations
from infra.lambda_base import LambdaBundle
from infra.storage import Storage
from infra.warm_pool import WarmPool
from infra.workers import WorkerPool


class SgcflowStack(cdk.Stack):
    """Storage, worker pool, coordinator (state machine), warm pool and alarms for one region."""

    def __init__(self, scope: Construct, construct_id: str, *, config: InfraConfig,
                 **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.storage = Storage(self, "Storage", results_expire_days=config.results_expire_days)
        self.bundle = LambdaBundle(self, "Bundle", config=config)
        self.failures = FailedInvocations(self, "FailedInvocations")
        self.workers = WorkerPool(self, "Workers", config=config, bundle=self.bundle,
                                  storage=self.storage, failures=self.failures)
        self.coordinator = Coordinator(self, "Coordinator", config=config, bundle=self.bundle,
                                       storage=self.storage, workers=self.workers)
        self.warm_pool = WarmPool(self, "WarmPool", config=config, bundle=self.bundle,
                                  workers=self.workers, storage=self.storage,
                                  failures=self.failures,
                                  state_machine_arn=self.coordinator.state_machine_arn)
        self.alarms = Alarms(self, "Alarms", state_machine=self.coordinator.state_machine,
                             worker=self.workers.function, failures=self.failures.queue,
                             email=config.alarm_email)
        self._outputs()

    def _outputs(self) -> None:
        names = resources.STACK_OUTPUTS
        values = {
            names["bucket"]: self.storage.bucket.bucket_name,
            names["table"]: self.storage.table.table_name,
            names["state_machine"]: self.coordinator.state_machine.state_machine_arn,
            names["worker"]: self.workers.function.function_name,
            "WorkerAlias": WORKER_ALIAS,
            "AlarmTopic": self.alarms.topic.topic_arn,
            "FailedInvocationsQueue": self.failures.queue.queue_url,
        }
        for key, value in values.items():
            cdk.CfnOutput(self, key, value=value)
