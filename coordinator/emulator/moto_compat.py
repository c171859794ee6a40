"""What moto 5.2's CloudFormation lacks for `cdk deploy` of the sgcflow stack, filled in.

Applied only by the local deploy server (``coordinator.emulator.deploy_server``), never by the
in-process emulator or the tests' ``mock_aws``. Each gap below names what moto does and what
real AWS does; the fix makes moto do the latter closely enough for one deploy and its jobs.

1. ``AWS::Lambda::Alias`` is unknown to moto (resource skipped, so every ``Ref`` to it resolves
   to nothing and the IAM policy naming it has no Resource). AWS creates the alias; ``Ref``
   answers its ARN. -> ``LambdaAliasResource``.
2. ``AWS::Lambda::EventInvokeConfig`` is unknown. AWS stores the async-invoke settings
   (MaximumRetryAttempts, MaximumEventAgeInSeconds) per qualifier. -> ``EventInvokeConfigResource``
   (stored via moto's own put_function_event_invoke_config; the emulator never retries anyway).
3. ``AWS::S3::BucketPolicy`` is unknown. AWS attaches the policy to the bucket. -> stored on
   the bucket. Once stored, moto enforces its Deny statements without their Conditions: CDK's
   (and the bootstrap's) "Deny s3:* if aws:SecureTransport is false" then refuses every PUT.
   AWS denies only requests without TLS, and every AWS endpoint is TLS; the local endpoint is
   plain HTTP standing in for it. -> that one statement is evaluated as a TLS request (skipped);
   every other statement is enforced as moto does.
4. ``AWS::Lambda::Version`` has no attributes in moto (``Fn::GetAtt [V, Version]`` fails). AWS
   answers ``Version`` (the number) and ``Ref`` answers the version ARN. -> patched.
5. A state machine made by CloudFormation goes to ``stepfunctions_backends`` while the API, with
   ``execute_state_machine`` on, reads ``stepfunctions_parser_backends``: the deployed machine is
   invisible to StartExecution. AWS has one service. -> created in the backend the API reads.
6. After ``ExecuteChangeSet`` moto keeps the stack's old template and outputs (none, on create).
   AWS evaluates the new template's Outputs. -> re-read after every applied change set.
7. A ``TemplateURL`` on host 127.0.0.1 is parsed as a bucket name (``127.0.0.1``); AWS uses
   virtual-host or path URLs of real buckets. Not patched: the deploy talks to ``localhost``.
8. Not filled: moto 5.2 answers the provisioned-concurrency API (Get/Put/Delete
   ProvisionedConcurrencyConfig) with 404. AWS manages provisioned concurrency on the alias.
   The warm-pool manager reports that region as failed and goes on; its call is still
   recorded and audited (the in-process tests use ``coordinator.warmpool.moto_shim``).
"""

from __future__ import annotations

import json
from typing import Any

from moto.awslambda.models import LambdaVersion, lambda_backends, make_function_arn
from moto.cloudformation import parsing
from moto.cloudformation.models import ChangeSet
from moto.core.common_models import CloudFormationModel
from moto.s3.models import s3_backends

_applied = False


def _lambda(account_id: str, region: str):
    return lambda_backends[account_id][region]


class LambdaAliasResource(CloudFormationModel):
    """Gap 1: AWS::Lambda::Alias (Ref = alias ARN)."""

    def __init__(self, arn: str, function: str, name: str, account_id: str, region: str):
        self.arn, self.function, self.name = arn, function, name
        self.account_id, self.region = account_id, region

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::Alias"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any,
                                        account_id: str, region_name: str, **kwargs: Any):
        props = cloudformation_json["Properties"]
        function = props["FunctionName"].split(":")[-1] if props["FunctionName"].startswith(
            "arn:") else props["FunctionName"]
        alias = _lambda(account_id, region_name).create_alias(
            props["Name"], function, str(props["FunctionVersion"]),
            props.get("Description", ""), props.get("RoutingConfig"))
        return cls(alias.arn, function, props["Name"], account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name: str,
                                        cloudformation_json: Any, account_id: str,
                                        region_name: str):
        props = cloudformation_json["Properties"]
        _lambda(account_id, region_name).update_alias(
            original_resource.name, original_resource.function,
            str(props["FunctionVersion"]), props.get("Description", ""),
            props.get("RoutingConfig"))
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any,
                                        account_id: str, region_name: str) -> None:
        props = cloudformation_json["Properties"]
        _lambda(account_id, region_name).delete_alias(props["Name"], props["FunctionName"])

    def delete(self, account_id: str, region: str) -> None:
        _lambda(account_id, region).delete_alias(self.name, self.function)


class EventInvokeConfigResource(CloudFormationModel):
    """Gap 2: AWS::Lambda::EventInvokeConfig (stored; Ref = a generated id, as in AWS)."""

    def __init__(self, physical_id: str):
        self.physical_id = physical_id

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::EventInvokeConfig"

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any,
                                        account_id: str, region_name: str, **kwargs: Any):
        props = cloudformation_json["Properties"]
        config = {k: props[k] for k in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds",
                                        "DestinationConfig") if k in props}
        _lambda(account_id, region_name).put_function_event_invoke_config(
            props["FunctionName"], config)
        return cls(resource_name)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name: str,
                                        cloudformation_json: Any, account_id: str,
                                        region_name: str):
        return original_resource


class BucketPolicyResource(CloudFormationModel):
    """Gap 3: AWS::S3::BucketPolicy (stored on the bucket, not enforced)."""

    def __init__(self, bucket: str):
        self.bucket = bucket

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::S3::BucketPolicy"

    @property
    def physical_resource_id(self) -> str:
        return self.bucket

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any,
                                        account_id: str, region_name: str, **kwargs: Any):
        props = cloudformation_json["Properties"]
        backend = s3_backends[account_id]["global"]
        backend.get_bucket(props["Bucket"]).policy = json.dumps(
            props["PolicyDocument"]).encode()
        return cls(props["Bucket"])

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name: str,
                                        cloudformation_json: Any, account_id: str,
                                        region_name: str):
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json,
                                                   account_id, region_name)


TLS_ONLY_CONDITION = {"Bool": {"aws:SecureTransport": "false"}}


def _bucket_policy_conditions() -> None:
    """Gap 3: the TLS-only Deny of a bucket policy does not apply (requests stand for TLS)."""
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(self, action: str, resource: str):
        if self.policy is None:
            return PermissionResult.NEUTRAL
        document = json.loads(self.policy.decode())
        statements = document.get("Statement", [])
        statements = [statements] if isinstance(statements, dict) else statements
        kept = [s for s in statements if s.get("Condition") != TLS_ONLY_CONDITION]
        if not kept:
            return PermissionResult.NEUTRAL
        return IAMPolicy(json.dumps({**document, "Statement": kept})).is_action_permitted(
            action, resource)

    FakeBucket.get_permission = get_permission


def _version_attributes() -> None:
    """Gap 4: Fn::GetAtt [Version, Version] and Ref (the version ARN)."""

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        function = cloudformation_json["Properties"]["FunctionName"]
        published = _lambda(account_id, region_name).publish_version(function)
        version = cls({"Version": published.version})
        version.arn = f"{make_function_arn(region_name, account_id, published.function_name)}" \
            f":{published.version}"
        return version

    LambdaVersion.create_from_cloudformation_json = classmethod(create)
    LambdaVersion.has_cfn_attr = classmethod(lambda cls, attr: attr in ("Version",))
    LambdaVersion.get_cfn_attribute = lambda self, name: self.version if name == "Version" \
        else (_ for _ in ()).throw(NotImplementedError(name))
    LambdaVersion.physical_resource_id = property(lambda self: getattr(self, "arn", ""))
    # Replaced on any property change, as CloudFormation replaces a Version (a new one is
    # published; the old one stays, like AWS's retained versions).
    LambdaVersion.update_from_cloudformation_json = classmethod(
        lambda cls, original_resource, new_resource_name, cloudformation_json, account_id,
        region_name: create(cls, new_resource_name, cloudformation_json, account_id,
                            region_name))


def _state_machine_backend() -> None:
    """Gap 5: CloudFormation creates state machines where the API looks for them."""
    from moto.stepfunctions.models import StateMachine
    from moto.stepfunctions.responses import get_backend

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json["Properties"]
        return get_backend(account_id, region_name).create_state_machine(
            props.get("StateMachineName", resource_name), props.get("DefinitionString", ""),
            props.get("RoleArn", ""))

    def update(cls, original_resource, new_resource_name, cloudformation_json, account_id,
               region_name):
        props = cloudformation_json.get("Properties", {})
        return get_backend(account_id, region_name).update_state_machine(
            original_resource.arn, definition=props.get("DefinitionString"),
            role_arn=props.get("RoleArn"))

    def delete(cls, resource_name, cloudformation_json, account_id, region_name):
        get_backend(account_id, region_name).delete_state_machine(resource_name)

    StateMachine.create_from_cloudformation_json = classmethod(create)
    StateMachine.update_from_cloudformation_json = classmethod(update)
    StateMachine.delete_from_cloudformation_json = classmethod(delete)


def _outputs_after_change_set() -> None:
    """Gap 6: a stack's template and Outputs follow the change set that was executed."""
    original = ChangeSet.apply

    def apply(self: ChangeSet) -> None:
        original(self)
        stack = self.stack
        stack.template = self.template
        stack._parse_template()
        stack.output_map = stack._create_output_map()

    ChangeSet.apply = apply


def apply() -> None:
    """Install every fix (idempotent)."""
    global _applied
    if _applied:
        return
    _bucket_policy_conditions()
    _version_attributes()
    _state_machine_backend()
    _outputs_after_change_set()
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()  # the new resource classes are CloudFormationModel subclasses
    _applied = True
