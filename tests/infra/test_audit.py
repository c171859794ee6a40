"""IAM audit: calls -> IAM requests, policy evaluation, and the synthesized roles judged on
calls the code makes (including the Plan step's dataset writes the old grants denied)."""

from __future__ import annotations

import pytest
from infra_helpers import resources_of

from coordinator.audit.actions import Authorization, authorizations, function_arn
from coordinator.audit.iam import audit
from coordinator.audit.policy import AuditError, Statement, decide

# One synthesis per session: keep its users on one xdist worker (make test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("infra-synth")

REGION, ACCOUNT = "us-east-1", "123456789012"
BUCKET, TABLE = "data-bucket", "jobs-table"


def _auth(service, operation, params, status=200):
    return authorizations(service, operation, params, region=REGION, account=ACCOUNT,
                          status=status)


def test_s3_calls_become_object_and_bucket_requests():
    [get] = _auth("s3", "GetObject", {"Bucket": BUCKET, "Key": "runs/r/x.npy"})
    assert (get.action, get.resource) == ("s3:GetObject", f"arn:aws:s3:::{BUCKET}/runs/r/x.npy")
    head, listing = _auth("s3", "HeadObject", {"Bucket": BUCKET, "Key": "k"}, status=404)
    assert head.action == "s3:GetObject" and listing.action == "s3:ListBucket"
    assert listing.resource == f"arn:aws:s3:::{BUCKET}"
    [listed] = _auth("s3", "ListObjectsV2", {"Bucket": BUCKET, "Prefix": "warmpool/plans/"})
    assert listed.conditions == {"s3:prefix": "warmpool/plans/"}


def test_dynamodb_calls_carry_their_leading_keys():
    [put] = _auth("dynamodb", "PutItem", {"TableName": TABLE, "Item": {
        "pk": {"S": "run-1#round#000001"}, "sk": {"S": "worker#0001"}}})
    assert put.resource == f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{TABLE}"
    assert put.conditions == {"dynamodb:LeadingKeys": ["run-1#round#000001"]}
    [query] = _auth("dynamodb", "Query", {
        "TableName": TABLE, "KeyConditionExpression": "pk = :p AND begins_with(sk, :r)",
        "ExpressionAttributeValues": {":p": {"S": "job#run-1"}, ":r": {"S": "round#"}}})
    assert query.conditions == {"dynamodb:LeadingKeys": ["job#run-1"]}


def test_lambda_function_arns_from_names_and_arns():
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:w"
    assert function_arn("w", None, REGION, ACCOUNT) == arn
    assert function_arn("w:live", None, REGION, ACCOUNT) == f"{arn}:live"
    assert function_arn(f"{arn}:live", None, REGION, ACCOUNT) == f"{arn}:live"
    assert function_arn("w", "live", REGION, ACCOUNT) == f"{arn}:live"


def test_deny_wins_and_conditions_must_hold():
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{TABLE}"
    allow = Statement("Allow", ("dynamodb:PutItem",), (table,),
                      {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["run-*#round#*"]}})
    ok = Authorization("dynamodb:PutItem", table, {"dynamodb:LeadingKeys": ["run-1#round#1"]})
    bad = Authorization("dynamodb:PutItem", table, {"dynamodb:LeadingKeys": ["job#run-1"]})
    assert decide([allow], ok) == (True, [0])
    assert decide([allow], bad) == (False, [])
    deny = Statement("Deny", ("dynamodb:*",), ("*",))
    assert decide([allow, deny], ok) == (False, [])
    assert decide([allow], Authorization("dynamodb:GetItem", table, {}))[0] is False
    odd = Statement("Allow", ("s3:GetObject",), ("*",), {"NumericLessThan": {"x": "1"}})
    with pytest.raises(AuditError, match="condition operator 'NumericLessThan'"):
        decide([odd], Authorization("s3:GetObject", "arn:aws:s3:::b/k"))


def _physical(template: dict) -> dict[str, str]:
    """Physical ids as CloudFormation would name them (functions keep their FunctionName)."""
    names = {}
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        kind = resource["Type"]
        names[logical_id] = {
            "AWS::S3::Bucket": BUCKET, "AWS::DynamoDB::Table": TABLE,
            "AWS::Lambda::Function": props.get("FunctionName", logical_id),
            "AWS::Lambda::Alias": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:sgcflow-worker:live",
        }.get(kind, logical_id)
    return names


def _call(function, service, operation, params, status=200):
    return {"function": function, "call": f"{service}.{operation}", "status": status,
            "requests": [{"action": r.action, "resource": r.resource,
                          "conditions": dict(r.conditions)}
                         for r in _auth(service, operation, params, status)]}


def test_synthesized_roles_allow_what_the_steps_do_and_deny_the_rest(template):
    run = "run-20261129-101500-ab12cd"
    dataset = "datasets/synthetic-k8-70b6803f88"
    calls = [
        # The Plan step prepares the dataset (coordinator/storage/dataset_prep.py): the old grants
        # denied it.
        _call("sgcflow-step-plan", "s3", "HeadObject",
              {"Bucket": BUCKET, "Key": f"{dataset}/manifest.json"}, status=404),
        _call("sgcflow-step-plan", "s3", "DeleteObject",
              {"Bucket": BUCKET, "Key": f"{dataset}/manifest.json"}),
        _call("sgcflow-step-plan", "s3", "PutObject",
              {"Bucket": BUCKET, "Key": f"{dataset}/part-00000.parquet"}),
        _call("sgcflow-worker", "dynamodb", "PutItem", {"TableName": TABLE, "Item": {
            "pk": {"S": f"{run}#round#000001"}, "sk": {"S": "worker#0003"}}}),
        # Not allowed: a worker writing a job record, the Round step writing results or reading
        # the emulator's injection.
        _call("sgcflow-worker", "dynamodb", "PutItem", {"TableName": TABLE, "Item": {
            "pk": {"S": f"job#{run}"}, "sk": {"S": "meta"}}}),
        _call("sgcflow-step-round", "s3", "PutObject",
              {"Bucket": BUCKET, "Key": f"runs/{run}/results/round-000001/x.npy"}),
        _call("sgcflow-step-round", "s3", "GetObject",
              {"Bucket": BUCKET, "Key": f"runs/{run}/inject/faults.json"}),
    ]
    report = audit([{"template": template, "physical": _physical(template), "region": REGION,
                     "account": ACCOUNT, "calls": calls}])
    assert report.calls == len(calls)
    assert sorted((d["function"], d["action"]) for d in report.denied) == [
        ("sgcflow-step-round", "s3:GetObject"), ("sgcflow-step-round", "s3:PutObject"),
        ("sgcflow-worker", "dynamodb:PutItem")]
    assert report.denied[-1]["conditions"] == {"dynamodb:LeadingKeys": [f"job#{run}"]}
    unused = {(u["function"], u["action"]) for u in report.unused}
    assert ("sgcflow-step-plan", "s3:DeleteObject") not in unused  # used above
    assert ("sgcflow-step-plan", "states:StartExecution") in unused
    assert not any(u["action"].startswith("logs:") for u in report.unused)  # Lambda's own
    assert len(resources_of(template, "AWS::Lambda::Function")) == len(report.calls_per_function)
