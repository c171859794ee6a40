"""Alarms on what needs a human: failed or timed-out job executions, and worker errors.

A straggler is not an error (the code absorbs it); a worker *error* (bad input, crash, timeout)
is, so any in a 5-minute window raises the alarm. With ``-c alarm_email=ADDRESS`` the alarms also
notify an encrypted SNS topic (customer-managed key with rotation: CloudWatch cannot publish to a
topic under the AWS-managed SNS key) that mails ADDRESS; without it, no topic and no key cost.
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
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

PERIOD = cdk.Duration.minutes(5)


class Alarms(Construct):
    """CloudWatch alarms for the state machine and the worker function (+ optional e-mail)."""

    def __init__(self, scope: Construct, construct_id: str, *, state_machine: sfn.StateMachine,
                 worker: lambda_.IFunction, email: str = "") -> None:
        super().__init__(scope, construct_id)
        self.topic = self._topic(email) if email else None
        self.failed_executions = self._alarm(
            "FailedExecutions", state_machine.metric_failed(period=PERIOD, statistic="Sum"),
            "an sgcflow job execution failed (see `sgc status JOB`)")
        self.timed_out_executions = self._alarm(
            "TimedOutExecutions", state_machine.metric_timed_out(period=PERIOD, statistic="Sum"),
            "an sgcflow job execution timed out")
        self.worker_errors = self._alarm(
            "WorkerErrors", worker.metric_errors(period=PERIOD, statistic="Sum"),
            "sgcflow workers raised errors (bad input, crash or timeout)")

    def _topic(self, email: str) -> sns.Topic:
        key = kms.Key(self, "TopicKey", enable_key_rotation=True,
                      removal_policy=cdk.RemovalPolicy.DESTROY,
                      description="sgcflow alarm topic encryption")
        key.add_to_resource_policy(iam.PolicyStatement(
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            resources=["*"]))  # in a key policy, "*" means this key
        topic = sns.Topic(self, "Topic", master_key=key, enforce_ssl=True,
                          display_name="sgcflow alarms")
        topic.add_subscription(subscriptions.EmailSubscription(email))
        return topic

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
        if self.topic is not None:
            alarm.add_alarm_action(actions.SnsAction(self.topic))
        return alarm
