"""Every resource of the stack, checked on the synthesized template (aws_cdk.assertions)."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match, Template
from infra_helpers import (
    REGIONS,
    cfn_lint,
    function_by_handler,
    only,
    resources_of,
    synthesize,
)

from coordinator.workflow import resources
from coordinator.workflow.definition import (
    STEP_HANDLERS,
    STEP_TIMEOUTS,
    WARMPOOL_HANDLER,
    WORKER_HANDLER,
    build_definition,
)
from infra.config import InfraConfig
from infra.render import render_definition

# One synthesis per session: keep its users on one xdist worker (make test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("infra-synth")


@pytest.fixture(scope="module")
def assertions(template) -> Template:
    return Template.from_json(template)


def test_one_stack_per_region_from_context(synth):
    assert sorted(synth.templates) == sorted(REGIONS)
    for region, stack in synth.stacks.items():
        assert stack.region == region
        assert stack.stack_name == resources.STACK_NAME
        # Each region has its own worker pool and warm-pool manager.
        function_by_handler(synth.templates[region], WORKER_HANDLER)
        function_by_handler(synth.templates[region], WARMPOOL_HANDLER)


def test_bucket_encrypted_private_tls_only_with_run_expiry(assertions):
    assertions.resource_count_is("AWS::S3::Bucket", 1)
    assertions.has_resource("AWS::S3::Bucket", {
        "DeletionPolicy": "Retain",
        "Properties": {
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True, "BlockPublicPolicy": True,
                "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
            "LifecycleConfiguration": {"Rules": [
                {"Id": "expire-run-data", "Prefix": "runs/", "ExpirationInDays": 14,
                 "Status": "Enabled"},
                {"Id": "expire-job-plans", "Prefix": "warmpool/plans/", "ExpirationInDays": 14,
                 "Status": "Enabled"},
                {"Id": "abort-incomplete-uploads", "Status": "Enabled",
                 "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}},
                {"Id": "expire-old-versions", "Status": "Enabled",
                 "NoncurrentVersionExpiration": {"NoncurrentDays": 14}}]},
            "VersioningConfiguration": {"Status": "Enabled"},
        },
    })
    assertions.has_resource_properties("AWS::S3::BucketPolicy", {"PolicyDocument": {
        "Statement": Match.array_with([Match.object_like({
            "Effect": "Deny", "Action": "s3:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}})])}})


def test_table_keys_billing_and_point_in_time_recovery(assertions):
    assertions.resource_count_is("AWS::DynamoDB::Table", 1)
    assertions.has_resource("AWS::DynamoDB::Table", {
        "DeletionPolicy": "Retain",
        "Properties": {
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                          {"AttributeName": "sk", "KeyType": "RANGE"}],
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
        },
    })


def test_worker_function_settings(template):
    worker_id, worker = function_by_handler(template, WORKER_HANDLER)
    props = worker["Properties"]
    bucket_id, _ = only(template, "AWS::S3::Bucket")
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    layer_id, _ = only(template, "AWS::Lambda::LayerVersion")
    assert props["FunctionName"] == resources.WORKER_FUNCTION
    assert props["Runtime"] == "python3.12"
    assert props["Architectures"] == ["x86_64"]
    assert props["MemorySize"] == resources.WORKER_MEMORY_MB
    assert props["Timeout"] == resources.WORKER_TIMEOUT_S
    assert props["ReservedConcurrentExecutions"] == 256
    assert props["EphemeralStorage"] == {"Size": 1024}
    assert props["Layers"] == [{"Ref": layer_id}]
    assert props["Environment"]["Variables"] == {
        "SGC_BUCKET": {"Ref": bucket_id}, "SGC_TABLE": {"Ref": table_id},
        "NUMBA_CACHE_DIR": "/tmp/numba-cache", "POWERTOOLS_SERVICE_NAME": "sgcflow-worker",
        # a relay invokes its share of the workers through the live alias (tree fan-out)
        "SGC_WORKER_FUNCTION": {"Fn::Join": ["", [
            "arn:", {"Ref": "AWS::Partition"}, ":lambda:us-east-1:", {"Ref": "AWS::AccountId"},
            ":function:sgcflow-worker:live"]]}}


def test_worker_async_retries_zero_on_function_and_alias(template):
    worker_id, _ = function_by_handler(template, WORKER_HANDLER)
    configs = resources_of(template, "AWS::Lambda::EventInvokeConfig").values()
    alias_id, _ = only(template, "AWS::Lambda::Alias")
    alias_qualifier = {"Fn::Select": [7, {"Fn::Split": [":", {"Ref": alias_id}]}]}
    worker_configs = [c["Properties"] for c in configs
                      if c["Properties"]["FunctionName"] == {"Ref": worker_id}]
    assert [c["Qualifier"] for c in worker_configs] == ["$LATEST", alias_qualifier]
    assert [c["MaximumRetryAttempts"] for c in worker_configs] == [0, 0]


def test_failed_async_invocations_go_to_an_encrypted_queue(template):
    """Workers (function and live alias) and the warm-pool tick (its function, and the rule
    that delivers it) send what failed to one SQS queue, kept 14 days, TLS only."""
    queue_id, queue = only(template, "AWS::SQS::Queue")
    assert queue["Properties"] == {"MessageRetentionPeriod": 14 * 86400,
                                   "SqsManagedSseEnabled": True}
    destination = {"OnFailure": {"Destination": {"Fn::GetAtt": [queue_id, "Arn"]}}}
    configs = [c["Properties"] for c in
               resources_of(template, "AWS::Lambda::EventInvokeConfig").values()]
    worker_id, _ = function_by_handler(template, WORKER_HANDLER)
    manager_id, _ = function_by_handler(template, WARMPOOL_HANDLER)
    assert sorted(c["FunctionName"]["Ref"] for c in configs) == sorted(
        [worker_id, worker_id, manager_id])  # function + alias, and the manager
    assert all(c["DestinationConfig"] == destination and c["MaximumRetryAttempts"] == 0
               for c in configs)
    [target] = only(template, "AWS::Events::Rule")[1]["Properties"]["Targets"]
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
    _, policy = only(template, "AWS::SQS::QueuePolicy")
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statements[0]["Effect"] == "Deny" and statements[0]["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}}
    assert statements[1]["Principal"] == {"Service": "events.amazonaws.com"}


def test_worker_version_and_live_alias(template):
    worker_id, _ = function_by_handler(template, WORKER_HANDLER)
    version_id, version = only(template, "AWS::Lambda::Version")
    assert version["Properties"]["FunctionName"] == {"Ref": worker_id}
    _, alias = only(template, "AWS::Lambda::Alias")
    assert alias["Properties"]["Name"] == "live"
    assert alias["Properties"]["FunctionName"] == {"Ref": worker_id}
    assert alias["Properties"]["FunctionVersion"] == {"Fn::GetAtt": [version_id, "Version"]}
    assert "ProvisionedConcurrencyConfig" not in alias["Properties"]  # the warm pool sets it


def test_coordinator_step_functions(template):
    alias_id, _ = only(template, "AWS::Lambda::Alias")
    bucket_id, _ = only(template, "AWS::S3::Bucket")
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    for step, handler in STEP_HANDLERS.items():
        _, function = function_by_handler(template, handler)
        props = function["Properties"]
        assert props["FunctionName"] == resources.step_function_name(step)
        assert props["Runtime"] == "python3.12"
        assert props["Timeout"] == STEP_TIMEOUTS[step]
        assert props["MemorySize"] == resources.STEP_MEMORY_MB
        assert props["Environment"]["Variables"] == {
            "SGC_BUCKET": {"Ref": bucket_id}, "SGC_TABLE": {"Ref": table_id},
            "SGC_WORKER_FUNCTION": {"Ref": alias_id}, "SGC_WORKER_ALIAS": "live",
            "SGC_FANOUT": "auto", "NUMBA_CACHE_DIR": "/tmp/numba-cache",
            "POWERTOOLS_SERVICE_NAME": resources.step_function_name(step)}


def test_state_machine_is_the_shared_definition(template, assertions):
    assertions.has_resource_properties("AWS::StepFunctions::StateMachine", {
        "StateMachineName": resources.STATE_MACHINE,
        "StateMachineType": "STANDARD",
        "TracingConfiguration": {"Enabled": True},
        "LoggingConfiguration": {"Level": "ALL", "IncludeExecutionData": True,
                                 "Destinations": [Match.any_value()]},
    })
    arns = {step: f"arn:aws:lambda:us-east-1:123456789012:function:test-{step}"
            for step in STEP_HANDLERS}
    assert render_definition(template, arns) == build_definition(arns)


def test_warm_pool_schedule_and_environment(template):
    manager_id, manager = function_by_handler(template, WARMPOOL_HANDLER)
    worker_id, _ = function_by_handler(template, WORKER_HANDLER)
    bucket_id, _ = only(template, "AWS::S3::Bucket")
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    assert manager["Properties"]["Environment"]["Variables"] == {
        "SGC_WORKER_FUNCTION": {"Ref": worker_id}, "SGC_WORKER_ALIAS": "live",
        "SGC_BUCKET": {"Ref": bucket_id}, "SGC_TABLE": {"Ref": table_id},
        "SGC_STATE_MACHINE": {"Fn::Join": ["", [
            "arn:", {"Ref": "AWS::Partition"}, ":states:us-east-1:", {"Ref": "AWS::AccountId"},
            ":stateMachine:sgcflow-job"]]},
        "SGC_WARMPOOL_PLANS_PREFIX": "warmpool/plans/",
        "SGC_WARMPOOL_REGIONS": "us-east-1", "NUMBA_CACHE_DIR": "/tmp/numba-cache",
        "POWERTOOLS_SERVICE_NAME": "sgcflow-warmpool"}
    _, rule = only(template, "AWS::Events::Rule")
    assert rule["Properties"]["ScheduleExpression"] == "rate(1 minute)"
    assert rule["Properties"]["State"] == "ENABLED"
    [target] = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [manager_id, "Arn"]}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 0}
    permissions = [p["Properties"] for p in
                   resources_of(template, "AWS::Lambda::Permission").values()]
    assert permissions == [{"Action": "lambda:InvokeFunction",
                            "FunctionName": {"Fn::GetAtt": [manager_id, "Arn"]},
                            "Principal": "events.amazonaws.com",
                            "SourceArn": {"Fn::GetAtt": [next(iter(resources_of(
                                template, "AWS::Events::Rule"))), "Arn"]}}]


def test_every_function_logs_to_its_own_group_with_retention(template):
    functions = resources_of(template, "AWS::Lambda::Function")
    groups = resources_of(template, "AWS::Logs::LogGroup")
    assert len(functions) == len(STEP_HANDLERS) + 2
    assert len(groups) == len(functions) + 1  # + the state machine's execution log
    assert {g["Properties"]["RetentionInDays"] for g in groups.values()} == {30}
    used = [f["Properties"]["LoggingConfig"]["LogGroup"]["Ref"] for f in functions.values()]
    assert len(set(used)) == len(functions) and set(used) < set(groups)


def test_alarms_on_failed_executions_worker_errors_throttles_and_failed_invocations(template):
    machine_id, _ = only(template, "AWS::StepFunctions::StateMachine")
    worker_id, _ = function_by_handler(template, WORKER_HANDLER)
    queue_id, _ = only(template, "AWS::SQS::Queue")
    topic_id, _ = only(template, "AWS::SNS::Topic")  # always: alarms notify someone
    alarms = {a["Properties"]["MetricName"]: a["Properties"]
              for a in resources_of(template, "AWS::CloudWatch::Alarm").values()}
    assert set(alarms) == {"ExecutionsFailed", "ExecutionsTimedOut", "Errors", "Throttles",
                           "ApproximateNumberOfMessagesVisible"}
    for name in ("ExecutionsFailed", "ExecutionsTimedOut"):
        assert alarms[name]["Namespace"] == "AWS/States"
        assert alarms[name]["Dimensions"] == [{"Name": "StateMachineArn",
                                               "Value": {"Ref": machine_id}}]
    for name in ("Errors", "Throttles"):
        assert alarms[name]["Namespace"] == "AWS/Lambda"
        assert alarms[name]["Dimensions"] == [{"Name": "FunctionName",
                                               "Value": {"Ref": worker_id}}]
    queued = alarms.pop("ApproximateNumberOfMessagesVisible")
    assert queued["Namespace"] == "AWS/SQS" and queued["Statistic"] == "Maximum"
    assert queued["Dimensions"] == [{"Name": "QueueName",
                                     "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]
    for alarm in [*alarms.values(), queued]:
        assert alarm["Threshold"] == 1 and alarm["Period"] == 300
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"
    assert {a["Statistic"] for a in alarms.values()} == {"Sum"}
    assert not resources_of(template, "AWS::SNS::Subscription")  # no alarm_email given
    assert template["Outputs"]["AlarmTopic"]["Value"] == {"Ref": topic_id}


def test_outputs_name_what_the_aws_backend_reads(template):
    assert set(template["Outputs"]) == set(resources.STACK_OUTPUTS.values()) | {
        "WorkerAlias", "AlarmTopic", "FailedInvocationsQueue"}


def test_context_sets_memory_architecture_workers_provisioning_and_alarm_mail(tmp_path):
    synth = synthesize(tmp_path / "cdk.out", regions="eu-west-1", workers="64",
                       worker_memory_mb="3008", architecture="arm64", provisioned="8",
                       alarm_email="ops@example.org")
    template = synth.templates["eu-west-1"]
    _, worker = function_by_handler(template, WORKER_HANDLER)
    assert worker["Properties"]["MemorySize"] == 3008
    assert worker["Properties"]["Architectures"] == ["arm64"]
    assert worker["Properties"]["ReservedConcurrentExecutions"] == 64
    _, alias = only(template, "AWS::Lambda::Alias")
    assert alias["Properties"]["ProvisionedConcurrencyConfig"] == {
        "ProvisionedConcurrentExecutions": 8}
    _, layer = only(template, "AWS::Lambda::LayerVersion")
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    key_id, key = only(template, "AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    topic_id, topic = only(template, "AWS::SNS::Topic")
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    _, subscription = only(template, "AWS::SNS::Subscription")
    assert (subscription["Properties"]["Protocol"], subscription["Properties"]["Endpoint"]) == (
        "email", "ops@example.org")
    alarms = resources_of(template, "AWS::CloudWatch::Alarm").values()
    assert [a["Properties"]["AlarmActions"] for a in alarms] == [[{"Ref": topic_id}]] * 5
    code, output = cfn_lint(synth.outdir)  # cdk-nag already passed inside synthesize()
    assert code == 0, output


@pytest.mark.parametrize(("field", "value", "message"), [
    ("architecture", "sparc", "architecture: must be one of ['x86_64', 'arm64']"),
    ("workers", 0, "workers: must be between 1 and 1000"),
    ("provisioned", 300, "provisioned: must be between 0 and 256"),
    ("bundle", "docker", "bundle: must be one of ['auto', 'full', 'source']"),
    ("log_retention_days", 31, "log_retention_days: must be one of"),
    ("alarm_email", "ops", "alarm_email: expected an e-mail address, got 'ops'"),
    ("step_budget", 2, "step_budget: must be between 4 and 4000, got 2"),
])
def test_config_errors_name_the_field_and_allowed_values(field, value, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        InfraConfig(**{field: value})


def test_config_parses_context_strings():
    context = {"regions": "us-east-1, eu-west-1", "workers": "128", "bundle": "full",
               "step_budget": "6"}
    config = InfraConfig.from_context(context.get)
    assert (config.regions, config.workers, config.bundle, config.step_budget) == (
        ("us-east-1", "eu-west-1"), 128, "full", 6)
    with pytest.raises(ValueError, match="worker_memory_mb: expected an integer, got 'big'"):
        InfraConfig.from_context({"worker_memory_mb": "big"}.get)
