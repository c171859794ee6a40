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
            assert all("*" not in action for action in actions), statement
    assert not resources_of(template, "AWS::IAM::ManagedPolicy")
    for role in resources_of(template, "AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]
        [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"]["Service"] in ("lambda.amazonaws.com", "states.amazonaws.com")


def test_worker_reads_datasets_and_params_writes_results_and_records(template):
    bucket, table, _ = _ids(template)
    _, worker = function_by_handler(template, WORKER_HANDLER)
    assert role_statements(template, _role_of(worker)) == [
        _log_statement(template, worker),
        {"Action": "s3:GetObject", "Effect": "Allow",
         "Resource": [_bucket_object(bucket, "/datasets/*"),
                      _bucket_object(bucket, "/runs/*/params/*")]},
        {"Action": "s3:PutObject", "Effect": "Allow",
         "Resource": _bucket_object(bucket, "/runs/*/results/*")},
        {"Action": "dynamodb:PutItem", "Effect": "Allow",
         "Resource": {"Fn::GetAtt": [table, "Arn"]}},
    ]


def test_steps_use_runs_and_table_and_only_round_invokes_the_worker_alias(template):
    bucket, table, alias = _ids(template)
    for step, handler in STEP_HANDLERS.items():
        _, function = function_by_handler(template, handler)
        expected = [
            _log_statement(template, function),
            {"Action": "s3:GetObject", "Effect": "Allow",
             "Resource": [_bucket_object(bucket, "/datasets/*"),
                          _bucket_object(bucket, "/runs/*")]},
            {"Action": "s3:PutObject", "Effect": "Allow",
             "Resource": [_bucket_object(bucket, "/runs/*"),
                          _bucket_object(bucket, "/warmpool/plans/*")]},
            {"Action": "s3:ListBucket", "Effect": "Allow",
             "Resource": {"Fn::GetAtt": [bucket, "Arn"]}},
            {"Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query",
                        "dynamodb:UpdateItem"], "Effect": "Allow",
             "Resource": {"Fn::GetAtt": [table, "Arn"]}},
        ]
        if step == "round":
            expected.append({"Action": "lambda:InvokeFunction", "Effect": "Allow",
                             "Resource": {"Ref": alias}})
        if step == "plan":  # continue-as-new: a fresh execution of this machine only
            expected.append({"Action": "states:StartExecution", "Effect": "Allow",
                             "Resource": OWN_STATE_MACHINE})
        assert role_statements(template, _role_of(function)) == expected, step


def test_warm_pool_only_manages_provisioned_concurrency_of_the_alias(template):
    bucket, _, alias = _ids(template)
    _, manager = function_by_handler(template, WARMPOOL_HANDLER)
    assert role_statements(template, _role_of(manager)) == [
        _log_statement(template, manager),
        {"Action": ["lambda:DeleteProvisionedConcurrencyConfig",
                    "lambda:GetProvisionedConcurrencyConfig",
                    "lambda:PutProvisionedConcurrencyConfig"],
         "Effect": "Allow", "Resource": {"Ref": alias}},
        {"Action": "s3:GetObject", "Effect": "Allow",
         "Resource": _bucket_object(bucket, "/warmpool/plans/*")},
        {"Action": "s3:ListBucket", "Effect": "Allow",
         "Resource": {"Fn::GetAtt": [bucket, "Arn"]}},
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
