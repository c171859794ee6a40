"""Alarms on what needs a human, and the topic that tells someone.

- failed or timed-out job executions;
- worker errors: a straggler is not an error (the code absorbs it); a worker *error* (bad input,
  crash, timeout) is, so any in a 5-minute window raises the alarm;
- worker throttles: an invocation refused for want of concurrency (the reserved n, or the
  account's quota) is a worker that never ran;
- failed invocations: any message in the failure queue (``infra.failures``: a failed worker
  invocation or warm-pool tick).

Every alarm notifies one SNS topic (stack output ``AlarmTopic``: subscribe whoever should know).
It is encrypted with a customer-managed key with rotation (CloudWatch cannot publish to a topic
under the AWS-managed SNS key). ``-c alarm_email=ADDRESS`` subscribes ADDRESS to it at deploy.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

PERIOD = cdk.Duration.minutes(5)


class Alarms(Construct):
    """CloudWatch alarms for the state machine, the worker function and the failure queue, all
    notifying one topic (+ an optional e-mail subscription)."""

    def __init__(self, scope: Construct, construct_id: str, *, state_machine: sfn.StateMachine,
                 worker: lambda_.IFunction, failures: sqs.IQueue, email: str = "") -> None:
        super().__init__(scope, construct_id)
        self.topic = self._topic()
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        self.failed_executions = self._alarm(
            "FailedExecutions", state_machine.metric_failed(period=PERIOD, statistic="Sum"),
            "an sgcflow job execution failed (see `sgc status JOB`)")
        self.timed_out_executions = self._alarm(
            "TimedOutExecutions", state_machine.metric_timed_out(period=PERIOD, statistic="Sum"),
            "an sgcflow job execution timed out")
        self.worker_errors = self._alarm(
            "WorkerErrors", worker.metric_errors(period=PERIOD, statistic="Sum"),
            "sgcflow workers raised errors (bad input, crash or timeout)")
        self.worker_throttles = self._alarm(
            "WorkerThrottles", worker.metric_throttles(period=PERIOD, statistic="Sum"),
            "sgcflow worker invocations were throttled (reserved concurrency or the account's "
            "Lambda quota): those workers never ran")
        self.failed_invocations = self._alarm(
            "FailedInvocations", failures.metric_approximate_number_of_messages_visible(
                period=PERIOD, statistic="Maximum"),
            "failed asynchronous invocations (workers or warm-pool ticks) are waiting in the "
            "failure queue (stack output FailedInvocationsQueue)")

    def _topic(self) -> sns.Topic:
        key = kms.Key(self, "TopicKey", enable_key_rotation=True,
                      removal_policy=cdk.RemovalPolicy.DESTROY,
                      description="sgcflow alarm topic encryption")
        key.add_to_resource_policy(iam.PolicyStatement(
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            resources=["*"]))  # in a key policy, "*" means this key
        return sns.Topic(self, "Topic", master_key=key, enforce_ssl=True,
                         display_name="sgcflow alarms")

    def _alarm(self, name: str, metric: cloudwatch.Metric, description: str) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self, name,
            metric=metric,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        return alarm
