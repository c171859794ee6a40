"""What IAM sees of one AWS API call: the action, the resource ARN and the condition keys.

Pure (no boto3): ``authorizations(service, operation, params, region, account, status)`` turns a
recorded call into the requests IAM evaluates for it. Most calls are one request; a GetObject or
HeadObject that answered 404 is two, because S3 tells a caller "no such key" only if it may also
``s3:ListBucket`` the bucket (otherwise it answers 403 AccessDenied, and the code reading it as
"missing" would break); a PutObject with ``Tagging`` is two (``s3:PutObjectTagging``).
The call's shape picks the action and the resource as IAM does: an object operation with a
``VersionId`` is ``s3:GetObjectVersion`` / ``s3:DeleteObjectVersion``; a Query or Scan with an
``IndexName`` is on ``table/T/index/I``; a key condition naming the partition key through an
``#x`` placeholder still yields ``dynamodb:LeadingKeys``, and a keyed request whose key cannot be
read gets a value no grant matches (denied: the audit fails closed).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from coordinator.workflow import resources

# S3 operations -> IAM action (object level unless listed in S3_BUCKET_LEVEL).
S3_ACTIONS = {
    "GetObject": "s3:GetObject", "HeadObject": "s3:GetObject", "PutObject": "s3:PutObject",
    "DeleteObject": "s3:DeleteObject", "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject", "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload", "ListObjectsV2": "s3:ListBucket",
    "ListObjects": "s3:ListBucket", "HeadBucket": "s3:ListBucket",
}
S3_BUCKET_LEVEL = frozenset({"ListObjectsV2", "ListObjects", "HeadBucket"})
DYNAMODB_ITEM_KEY = {"GetItem": "Key", "DeleteItem": "Key", "UpdateItem": "Key",
                     "ConditionCheckItem": "Key", "PutItem": "Item"}
LAMBDA_ACTIONS = {"Invoke": "lambda:InvokeFunction", "InvokeAsync": "lambda:InvokeAsync"}
PARTITION_KEY = resources.TABLE_KEYS["partition"]


@dataclass(frozen=True)
class Authorization:
    """One request IAM evaluates: action on resource, with these condition keys."""

    action: str
    resource: str
    conditions: Mapping[str, Any] = field(default_factory=dict)
    why: str = ""


def authorizations(service: str, operation: str, params: Mapping[str, Any], *, region: str,
                   account: str, status: int = 200) -> list[Authorization]:
    """The IAM requests behind one call (see the module docstring)."""
    if service == "s3":
        return _s3(operation, params, status)
    if service == "dynamodb" and operation == "TransactWriteItems":
        return _transaction(params, region, account)
    if service == "dynamodb":
        return [_dynamodb(operation, params, region, account)]
    if service == "lambda":
        return [_lambda(operation, params, region, account)]
    if service in ("stepfunctions", "states"):
        return [_states(operation, params)]
    return [Authorization(f"{service}:{operation}", "*", why="service not modelled")]


# Object operations that name a version need the *Version action instead (IAM's own mapping).
S3_VERSIONED = {"GetObject": "s3:GetObjectVersion", "HeadObject": "s3:GetObjectVersion",
                "DeleteObject": "s3:DeleteObjectVersion"}
# Object writes that set tags need s3:PutObjectTagging too.
S3_TAGGING = frozenset({"PutObject", "CreateMultipartUpload"})
# What IAM sees when the partition key of a keyed request could not be read from the call: a
# value no grant names, so the request is denied (the audit fails closed, never vacuously).
UNPARSED_KEY = "(partition key not parsed)"


def _s3(operation: str, params: Mapping[str, Any], status: int) -> list[Authorization]:
    action = S3_ACTIONS.get(operation, f"s3:{operation}")
    bucket = params.get("Bucket", "")
    if operation in S3_BUCKET_LEVEL:  # a listing without Prefix is evaluated with prefix ""
        conditions = {} if operation == "HeadBucket" else {"s3:prefix": params.get("Prefix", "")}
        return [Authorization(action, f"arn:aws:s3:::{bucket}", conditions)]
    obj = f"arn:aws:s3:::{bucket}/{params.get('Key', '')}"
    if params.get("VersionId") and operation in S3_VERSIONED:
        action = S3_VERSIONED[operation]
    found = [Authorization(action, obj)]
    if params.get("Tagging") and operation in S3_TAGGING:
        found.append(Authorization("s3:PutObjectTagging", obj, why="Tagging sets the tags"))
    if operation in ("GetObject", "HeadObject") and status == 404:
        found.append(Authorization("s3:ListBucket", f"arn:aws:s3:::{bucket}",
                                   why="404 NoSuchKey instead of 403 needs ListBucket"))
    return found


def _key_condition_names(expression: str, names: Mapping[str, str]) -> list[tuple[str, str]]:
    """(attribute name, value placeholder) of each equality of a key condition, with ``#x``
    placeholders resolved through ExpressionAttributeNames; either side may hold the value."""
    pairs = []
    for left, right in re.findall(r"([#:]?[\w.-]+)\s*=\s*([#:]?[\w.-]+)", expression):
        name, value = (right, left) if left.startswith(":") else (left, right)
        pairs.append((names.get(name, name), value))
    return pairs


def _leading_key(operation: str, params: Mapping[str, Any]) -> str | None:
    """The partition key value a DynamoDB request touches; ``UNPARSED_KEY`` for a keyed request
    whose key this cannot read; None for requests IAM evaluates without one."""
    if operation in DYNAMODB_ITEM_KEY:
        value = params.get(DYNAMODB_ITEM_KEY[operation], {}).get(PARTITION_KEY, {})
        return next(iter(value.values()), UNPARSED_KEY) if value else UNPARSED_KEY
    if operation == "Query":
        names = params.get("ExpressionAttributeNames", {})
        values = params.get("ExpressionAttributeValues", {})
        for name, placeholder in _key_condition_names(params.get("KeyConditionExpression", ""),
                                                       names):
            if name == PARTITION_KEY:
                value = values.get(placeholder, {})
                return next(iter(value.values()), UNPARSED_KEY) if value else UNPARSED_KEY
        return UNPARSED_KEY
    return None


def _dynamodb(operation: str, params: Mapping[str, Any], region: str,
              account: str) -> Authorization:
    table = params.get("TableName", "")
    arn = table if table.startswith("arn:") else \
        f"arn:aws:dynamodb:{region}:{account}:table/{table}"
    if params.get("IndexName"):  # a Query or Scan of an index is authorized on the index
        arn = f"{arn}/index/{params['IndexName']}"
    key = _leading_key(operation, params)
    conditions = {"dynamodb:LeadingKeys": [key]} if key is not None else {}
    return Authorization(f"dynamodb:{operation}", arn, conditions)


TRANSACT_ACTIONS = {"Update": "UpdateItem", "Put": "PutItem", "Delete": "DeleteItem",
                    "ConditionCheck": "ConditionCheckItem"}


def _transaction(params: Mapping[str, Any], region: str, account: str) -> list[Authorization]:
    """IAM has no TransactWriteItems action: each item is authorized as its own write
    (UpdateItem, PutItem, DeleteItem, ConditionCheckItem) on its table and key."""
    found = []
    for item in params.get("TransactItems", []):
        for kind, request in item.items():
            operation = TRANSACT_ACTIONS.get(kind, kind)
            key_field = "Item" if kind == "Put" else "Key"
            found.append(_dynamodb(operation, {**request, DYNAMODB_ITEM_KEY.get(
                operation, key_field): request.get(key_field, {})}, region, account))
    return found


def function_arn(name_or_arn: str, qualifier: str | None, region: str, account: str) -> str:
    """Full ARN (with qualifier, if any) of a Lambda named by name, partial or full ARN."""
    parts = name_or_arn.split(":")
    if name_or_arn.startswith("arn:"):
        base, qualifier = ":".join(parts[:7]), (parts[7] if len(parts) > 7 else qualifier)
    elif len(parts) >= 3:  # account:function:name[:qualifier]
        base = f"arn:aws:lambda:{region}:{parts[0]}:function:{parts[2]}"
        qualifier = parts[3] if len(parts) > 3 else qualifier
    else:  # name[:qualifier]
        base = f"arn:aws:lambda:{region}:{account}:function:{parts[0]}"
        qualifier = parts[1] if len(parts) > 1 else qualifier
    return f"{base}:{qualifier}" if qualifier else base


def _lambda(operation: str, params: Mapping[str, Any], region: str,
            account: str) -> Authorization:
    action = LAMBDA_ACTIONS.get(operation, f"lambda:{operation}")
    return Authorization(action, function_arn(params.get("FunctionName", ""),
                                              params.get("Qualifier"), region, account))


def _states(operation: str, params: Mapping[str, Any]) -> Authorization:
    resource = params.get("stateMachineArn") or params.get("executionArn") or "*"
    return Authorization(f"states:{operation}", resource)
