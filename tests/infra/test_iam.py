"""Least privilege: every statement of every role, exactly; no wildcard action anywhere."""

from __future__ import annotations

import json

import pytest
from infra_helpers import function_by_handler, only, resources_of, role_statements

from coordinator.workflow.definition import STEP_HANDLERS, WARMPOOL_HANDLER, WORKER_HANDLER

# One synthesis per session: keep its users on one xdist worker (make test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("infra-synth")


OWN_STATE_MACHINE = {"Fn::Join": ["", [
    "arn:", {"Ref": "AWS::Partition"}, ":states:us-east-1:", {"Ref": "AWS::AccountId"},
    ":stateMachine:sgcflow-job"]]}


def _bucket_object(bucket_id: str, suffix: str) -> dict:
    return {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, suffix]]}


def _log_statement(template: dict, function: dict) -> dict:
    group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    return {"Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [group, "Arn"]}}


def _listing(bucket_id: str, *patterns: str) -> dict:
    """s3:ListBucket so that a missing key under ``patterns`` reads as 404, not 403."""
    return {"Action": "s3:ListBucket", "Effect": "Allow",
            "Condition": {"StringLikeIfExists": {"s3:prefix": list(patterns)}},
            "Resource": {"Fn::GetAtt": [bucket_id, "Arn"]}}


def _failure_queue(template: dict) -> dict:
    """What an on-failure destination grants the function (Lambda sends the failed event)."""
    queue_id, _ = only(template, "AWS::SQS::Queue")
    return {"Action": ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"],
            "Effect": "Allow", "Resource": {"Fn::GetAtt": [queue_id, "Arn"]}}


def _role_of(function: dict) -> str:
    return function["Properties"]["Role"]["Fn::GetAtt"][0]


def _ids(template):
    return (only(template, "AWS::S3::Bucket")[0], only(template, "AWS::DynamoDB::Table")[0],
            only(template, "AWS::Lambda::Alias")[0])


def test_no_wildcard_actions_and_no_star_action_on_star_resource(template):
    for policy in resources_of(template, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) \
                else [statement["Action"]]
            assert statement["Effect"] == "Allow"
            assert set(statement.get("Condition", {})) <= {"ForAllValues:StringLike",
                                                            "StringLike", "StringLikeIfExists"}
            assert all("*" not in action for action in actions), statement
    assert not resources_of(template, "AWS::IAM::ManagedPolicy")
    for role in resources_of(template, "AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]
        [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"]["Service"] in ("lambda.amazonaws.com", "states.amazonaws.com")


def _items(table: str, actions, keys: str) -> dict:
    return {"Action": actions, "Condition": {"ForAllValues:StringLike": {
        "dynamodb:LeadingKeys": [keys]}}, "Effect": "Allow",
        "Resource": {"Fn::GetAtt": [table, "Arn"]}}


def test_worker_reads_datasets_and_params_writes_results_and_only_its_records(template):
    bucket, table, _ = _ids(template)
    _, worker = function_by_handler(template, WORKER_HANDLER)
    assert role_statements(template, _role_of(worker)) == [
        _log_statement(template, worker),
        _failure_queue(template),  # failed invocations (function and alias) go there
        {"Action": "s3:GetObject", "Effect": "Allow",
         "Resource": [_bucket_object(bucket, "/datasets/*"),
                      _bucket_object(bucket, "/runs/*/params/*")]},
        {"Action": "s3:PutObject", "Effect": "Allow",
         "Resource": _bucket_object(bucket, "/runs/*/results/*")},
        _listing(bucket, "datasets/*", "runs/*/params/*"),
        # completion records only (pk "<run>#round#<t>"), never job records or the job index
        _items(table, "dynamodb:PutItem", "run-*#round#*"),
        # a relay (tree fan-out, the default) invokes its workers: only the live alias
        {"Action": "lambda:InvokeFunction", "Effect": "Allow", "Resource": {"Fn::Join": ["", [
            "arn:", {"Ref": "AWS::Partition"}, ":lambda:us-east-1:", {"Ref": "AWS::AccountId"},
            ":function:sgcflow-worker:live"]]}},
    ]


def test_flat_fanout_deploys_a_worker_that_cannot_invoke():
    from infra.config import InfraConfig

    assert not InfraConfig(fanout="flat").relays and InfraConfig().relays
    with pytest.raises(ValueError, match="fanout: must be one of"):
        InfraConfig(fanout="star")


def test_job_ids_and_worker_records_match_the_leading_key_patterns():
    from coordinator.audit.policy import matches
    from coordinator.backends.base import new_run_id
    from coordinator.contract.keys import record_keys
    from infra.storage import COMPLETION_ITEMS, JOB_ITEMS

    run_id = new_run_id()
    assert matches(COMPLETION_ITEMS, record_keys(run_id, 3, 7)["pk"])
    assert matches(JOB_ITEMS, f"job#{run_id}") and not matches(COMPLETION_ITEMS, f"job#{run_id}")
    assert not matches(COMPLETION_ITEMS, "jobs") and not matches(JOB_ITEMS, "jobs")


def test_each_step_has_its_own_role_with_only_what_it_does(template):
    bucket, table, alias = _ids(template)
    job_items = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"]
    expected = {
        # The Plan step prepares datasets/<hash>/ (deletes the old manifest, writes parts and
        # manifest: coordinator/storage/dataset_prep.py), parameters, injection and
        # the warm-pool plan; with learn_from it reads the earlier job's record, round log and
        # prior (coordinator/control/prior.py) and writes the job's own prior.
        "plan": [
            {"Action": "s3:GetObject", "Effect": "Allow",
             "Resource": [_bucket_object(bucket, "/datasets/*"),
                          _bucket_object(bucket, "/runs/*/prior.npy")]},
            {"Action": "s3:PutObject", "Effect": "Allow",
             "Resource": [_bucket_object(bucket, p) for p in (
                 "/datasets/*", "/runs/*/inject/*", "/runs/*/params/*", "/runs/*/prior.npy",
                 "/warmpool/plans/*")]},
            {"Action": "s3:DeleteObject", "Effect": "Allow",
             "Resource": _bucket_object(bucket, "/datasets/*")},
            _listing(bucket, "datasets/*", "runs/*/prior.npy"),
            _items(table, job_items, "job#*"),
            {"Action": "states:StartExecution", "Effect": "Allow",
             "Resource": OWN_STATE_MACHINE}],
        # The Round task: collect (polls the completion records), update (reads results and
        # parameters, writes parameters and the decoded gradient), commit and dispatch; reads
        # the job's prior (learn_from) when it rebuilds sgcflow's controller.
        "round": [
            {"Action": "s3:GetObject", "Effect": "Allow",
             "Resource": [_bucket_object(bucket, "/runs/*/params/*"),
                          _bucket_object(bucket, "/runs/*/prior.npy"),
                          _bucket_object(bucket, "/runs/*/results/*")]},
            {"Action": "s3:PutObject", "Effect": "Allow",
             "Resource": [_bucket_object(bucket, "/runs/*/decoded/*"),
                          _bucket_object(bucket, "/runs/*/params/*")]},
            # a result deleted since its worker wrote it reads as missing (404), not 403
            _listing(bucket, "runs/*/results/*", "runs/*/params/*", "runs/*/prior.npy"),
            _items(table, job_items, "job#*"),
            _items(table, "dynamodb:Query", "run-*#round#*"),
            {"Action": "lambda:InvokeFunction", "Effect": "Allow", "Resource": {"Ref": alias}}],
        "finalize": [
            {"Action": "s3:PutObject", "Effect": "Allow",
             "Resource": _bucket_object(bucket, "/runs/*/result.json")},
            _items(table, job_items, "job#*")],
    }
    roles = set()
    for step, handler in STEP_HANDLERS.items():
        _, function = function_by_handler(template, handler)
        roles.add(_role_of(function))
        assert role_statements(template, _role_of(function)) == [
            _log_statement(template, function), *expected[step]], step
    assert len(roles) == len(STEP_HANDLERS)


def test_warm_pool_only_manages_provisioned_concurrency_and_pings_of_the_alias(template):
    bucket, table, alias = _ids(template)
    _, manager = function_by_handler(template, WARMPOOL_HANDLER)
    assert role_statements(template, _role_of(manager)) == [
        _log_statement(template, manager),
        _failure_queue(template),  # a failed tick goes there
        {"Action": ["lambda:DeleteProvisionedConcurrencyConfig",
                    "lambda:GetProvisionedConcurrencyConfig", "lambda:InvokeFunction",
                    "lambda:PutProvisionedConcurrencyConfig"],
         "Effect": "Allow", "Resource": {"Ref": alias}},
        # a job submitted with notice: its first execution, once its capacity is READY
        {"Action": "states:StartExecution", "Effect": "Allow", "Resource": OWN_STATE_MACHINE},
        {"Action": "s3:GetObject", "Effect": "Allow",
         "Resource": _bucket_object(bucket, "/warmpool/plans/*")},
        {"Action": "s3:ListBucket", "Condition": {"StringLike": {
            "s3:prefix": ["warmpool/plans/*"]}}, "Effect": "Allow",
         "Resource": {"Fn::GetAtt": [bucket, "Arn"]}},
        # job status (and "submitted" when it starts one), round logs; completion records:
        # each region's measured cold starts
        _items(table, ["dynamodb:GetItem", "dynamodb:UpdateItem"], "job#*"),
        _items(table, "dynamodb:Query", "run-*#round#*"),
    ]


def test_state_machine_invokes_exactly_its_steps(template):
    _, machine = only(template, "AWS::StepFunctions::StateMachine")
    role = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    steps = sorted(({"Fn::GetAtt": [function_by_handler(template, h)[0], "Arn"]}
                    for h in STEP_HANDLERS.values()), key=json.dumps)
    statements = role_statements(template, role)
    assert statements[0]["Action"] == "lambda:InvokeFunction"
    assert sorted(statements[0]["Resource"], key=json.dumps) == steps
    # Log delivery and X-Ray only accept Resource "*" (acknowledged in code, named actions).
    assert statements[1]["Resource"] == "*"
    assert all(a.startswith(("logs:", "xray:")) for a in statements[1]["Action"])
    assert len(statements) == 2
