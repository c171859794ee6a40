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
            "AWS::StepFunctions::StateMachine":
                f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:sgcflow-job",
            "AWS::SQS::Queue": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/failed-q",
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
    callers = len(resources_of(template, "AWS::Lambda::Function")) + len(
        resources_of(template, "AWS::StepFunctions::StateMachine"))
    assert callers == len(report.calls_per_function)


RUN = "run-20261129-101500-ab12cd"


def _judge(template, *calls):
    """Whether the synthesized roles allow each call (every request IAM sees for it)."""
    return [not audit([{"template": template, "physical": _physical(template), "region": REGION,
                        "account": ACCOUNT, "calls": [call]}]).denied for call in calls]


def _query(function, value, **extra):
    return _call(function, "dynamodb", "Query", {
        "TableName": TABLE, "KeyConditionExpression": "#p = :p",
        "ExpressionAttributeNames": {"#p": "pk"},
        "ExpressionAttributeValues": {":p": {"S": value}}, **extra})


def test_a_query_naming_the_key_through_a_placeholder_keeps_its_leading_keys(template):
    """AWS applies dynamodb:LeadingKeys whatever the expression calls the key: the Round step
    may query job records and completion records, not another partition."""
    [query] = _auth("dynamodb", "Query", {
        "TableName": TABLE, "KeyConditionExpression": "#p = :p AND #s > :s",
        "ExpressionAttributeNames": {"#p": "pk", "#s": "sk"},
        "ExpressionAttributeValues": {":p": {"S": "job#r"}, ":s": {"S": "round#"}}})
    assert query.conditions == {"dynamodb:LeadingKeys": ["job#r"]}
    [reversed_] = _auth("dynamodb", "Query", {
        "TableName": TABLE, "KeyConditionExpression": ":p = pk",
        "ExpressionAttributeValues": {":p": {"S": "job#r"}}})
    assert reversed_.conditions == {"dynamodb:LeadingKeys": ["job#r"]}
    assert _judge(template, _query("sgcflow-step-round", f"job#{RUN}"),
                  _query("sgcflow-step-round", f"{RUN}#round#000001"),
                  _query("sgcflow-step-round", "jobs")) == [True, True, False]


def test_a_keyed_request_whose_key_cannot_be_read_is_denied_not_waved_through(template):
    [query] = _auth("dynamodb", "Query", {"TableName": TABLE,
                                          "KeyConditionExpression": "begins_with(sk, :s)"})
    assert query.conditions == {"dynamodb:LeadingKeys": ["(partition key not parsed)"]}
    assert _judge(template, _call("sgcflow-step-round", "dynamodb", "Query", {
        "TableName": TABLE, "KeyConditionExpression": "begins_with(sk, :s)"})) == [False]


def test_a_query_on_an_index_is_authorized_on_the_index(template):
    [query] = _auth("dynamodb", "Query", {"TableName": TABLE, "IndexName": "by-status",
                                          "KeyConditionExpression": "pk = :p",
                                          "ExpressionAttributeValues": {":p": {"S": "job#r"}}})
    assert query.resource == f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{TABLE}/index/by-status"
    assert _judge(template, _query("sgcflow-step-round", f"job#{RUN}"),
                  _query("sgcflow-step-round", f"job#{RUN}", IndexName="by-status")) == [
        True, False]  # the roles grant the table, not its indexes


def test_versioned_reads_and_deletes_and_tagged_writes_need_their_own_actions(template):
    params = f"runs/{RUN}/params/job-000001.npy"
    result = f"runs/{RUN}/results/round-000001/job-000001/worker-0000.npy"
    manifest = "datasets/synthetic-k8-70b6803f88/manifest.json"
    [get] = _auth("s3", "GetObject", {"Bucket": BUCKET, "Key": params, "VersionId": "v1"})
    [delete] = _auth("s3", "DeleteObject", {"Bucket": BUCKET, "Key": manifest, "VersionId": "v"})
    put, tagging = _auth("s3", "PutObject", {"Bucket": BUCKET, "Key": result, "Tagging": "a=b"})
    assert (get.action, delete.action, put.action, tagging.action) == (
        "s3:GetObjectVersion", "s3:DeleteObjectVersion", "s3:PutObject", "s3:PutObjectTagging")
    assert _judge(
        template,
        _call("sgcflow-worker", "s3", "GetObject", {"Bucket": BUCKET, "Key": params}),
        _call("sgcflow-worker", "s3", "GetObject",
              {"Bucket": BUCKET, "Key": params, "VersionId": "v1"}),
        _call("sgcflow-worker", "s3", "PutObject", {"Bucket": BUCKET, "Key": result}),
        _call("sgcflow-worker", "s3", "PutObject",
              {"Bucket": BUCKET, "Key": result, "Tagging": "a=b"}),
        _call("sgcflow-step-plan", "s3", "DeleteObject", {"Bucket": BUCKET, "Key": manifest}),
        _call("sgcflow-step-plan", "s3", "DeleteObject",
              {"Bucket": BUCKET, "Key": manifest, "VersionId": "v1"}),
    ) == [True, False, True, False, True, False]


def test_the_round_step_may_learn_that_a_result_is_missing(template):
    """Update reads results that may have been deleted: without s3:ListBucket AWS answers 403,
    and the missing-object path (the worker becomes a straggler) would never run. Listings
    stay limited to the step's own prefixes."""
    result = f"runs/{RUN}/results/round-000001/job-000001/worker-0000.npy"
    assert _judge(
        template,
        _call("sgcflow-step-round", "s3", "GetObject", {"Bucket": BUCKET, "Key": result},
              status=404),
        _call("sgcflow-step-round", "s3", "ListObjectsV2",
              {"Bucket": BUCKET, "Prefix": f"runs/{RUN}/results/round-000001/"}),
        _call("sgcflow-step-round", "s3", "ListObjectsV2", {"Bucket": BUCKET,
                                                            "Prefix": "datasets/"}),
        _call("sgcflow-step-round", "s3", "ListObjectsV2", {"Bucket": BUCKET}),
        _call("sgcflow-step-finalize", "s3", "GetObject", {"Bucket": BUCKET, "Key": result},
              status=404),
    ) == [True, True, False, False, False]


def test_the_state_machine_role_is_audited_too(template):
    steps = [f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:sgcflow-step-{s}"
             for s in ("plan", "round", "finalize")]
    worker = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:sgcflow-worker"
    calls = [_call("sgcflow-job", "lambda", "Invoke", {"FunctionName": arn})
             for arn in [*steps, worker]]
    assert _judge(template, *calls) == [True, True, True, False]
    report = audit([{"template": template, "physical": _physical(template), "region": REGION,
                     "account": ACCOUNT, "calls": calls}])
    assert report.calls_per_function["sgcflow-job"] == 4
    # what Step Functions itself uses (log delivery, X-Ray) is never reported unused
    assert not [u for u in report.unused if u["function"] == "sgcflow-job"]


def test_calls_made_from_the_state_machine_interpreter_are_attributed_to_it():
    from coordinator.audit.record import interpreter_caller

    attribute = interpreter_caller("sgcflow-job", module=__name__)
    assert attribute() == "sgcflow-job"  # called from this module: "the interpreter"
    assert interpreter_caller("sgcflow-job", module="moto.stepfunctions")() is None


def test_a_job_that_learns_from_an_earlier_one_is_granted_what_its_steps_do(template):
    """``scheme.learn_from`` (coordinator/control/prior.py): the Plan step reads the earlier
    job's record, its round log and, for a chain, its prior, and writes this job's prior; every
    Round task reads it back. moto would run all of it without a grant."""
    source, prior_key = "run-20261129-091500-0a0b0c", f"runs/{RUN}/prior.npy"
    assert _judge(
        template,
        _call("sgcflow-step-plan", "dynamodb", "GetItem", {"TableName": TABLE, "Key": {
            "pk": {"S": f"job#{source}"}, "sk": {"S": "meta"}}}),
        _query("sgcflow-step-plan", f"job#{source}"),
        _call("sgcflow-step-plan", "s3", "GetObject",
              {"Bucket": BUCKET, "Key": f"runs/{source}/prior.npy"}),
        _call("sgcflow-step-plan", "s3", "PutObject", {"Bucket": BUCKET, "Key": prior_key}),
        _call("sgcflow-step-round", "s3", "GetObject", {"Bucket": BUCKET, "Key": prior_key}),
        _call("sgcflow-step-round", "s3", "PutObject", {"Bucket": BUCKET, "Key": prior_key}),
    ) == [True, True, True, True, True, False]  # the Round step never writes it
