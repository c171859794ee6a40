"""Where failed asynchronous invocations go: one encrypted SQS queue per stack.

Lambda retries nothing here (``MaximumRetryAttempts=0``: a failed worker is a straggler the
rounds absorb), so without a destination a failed invocation leaves only a log line. With one,
each failed worker invocation and each failed warm-pool tick (the function raised, or
EventBridge could not deliver the tick) lands in this queue with its event and error, kept for
14 days, and the ``FailedInvocations`` alarm (``infra.alarms``) fires on the first message.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.nag import acknowledge

RETENTION = cdk.Duration.days(14)  # SQS's maximum


class FailedInvocations(Construct):
    """The queue, and the Lambda on-failure destination that sends to it."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.queue = sqs.Queue(self, "Queue", encryption=sqs.QueueEncryption.SQS_MANAGED,
                               enforce_ssl=True, retention_period=RETENTION)
        acknowledge(self.queue, "AwsSolutions-SQS3",
                    "This queue is itself the dead-letter destination of the stack's failed "
                    "asynchronous invocations; nothing consumes it, so it needs no DLQ.")
        self.destination = destinations.SqsDestination(self.queue)
