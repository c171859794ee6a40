"""The data bucket and the job table, and the narrow grants each kind of function gets on them.

Key layout (docs/contracts.md, "S3 keys"): datasets under ``datasets/``, everything of a run under
``runs/{run}/`` with parameters in ``params/`` and coded worker results in ``results/``.
Workers read datasets and parameters and write only results; coordinator steps read datasets
and read/write their runs. Run data expires after ``results_expire_days``.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from coordinator.workflow import resources
from infra.nag import acknowledge, wildcard_finding

DATASETS = "datasets/*"
RUNS = "runs/*"
PARAMS = "runs/*/params/*"
RESULTS = "runs/*/results/*"
JOB_PLANS = "warmpool/plans/*"  # accepted jobs, published for the warm-pool manager
WORKER_TABLE_ACTIONS = ("dynamodb:PutItem",)
COORDINATOR_TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
                             "dynamodb:Query")
TTL_ATTRIBUTE = "expires_at"


class Storage(Construct):
    """S3 bucket (encrypted, private, TLS only, run data expiring) + DynamoDB table (PITR)."""

    def __init__(self, scope: Construct, construct_id: str, *, results_expire_days: int) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self, "Data",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(id="expire-run-data", prefix="runs/",
                                 expiration=cdk.Duration.days(results_expire_days)),
                s3.LifecycleRule(id="expire-job-plans", prefix="warmpool/plans/",
                                 expiration=cdk.Duration.days(results_expire_days)),
                s3.LifecycleRule(id="abort-incomplete-uploads",
                                 abort_incomplete_multipart_upload_after=cdk.Duration.days(1)),
            ],
        )
        acknowledge(self.bucket, "AwsSolutions-S1",
                    "Data bucket holds only datasets and short-lived run results written by this "
                    "stack's own roles; access is audited through CloudTrail, not access logs.")
        keys = resources.TABLE_KEYS
        self.table = dynamodb.Table(
            self, "Jobs",
            partition_key=dynamodb.Attribute(name=keys["partition"],
                                             type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=keys["sort"], type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            time_to_live_attribute=TTL_ATTRIBUTE,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )

    def object_arn(self, pattern: str) -> str:
        return self.bucket.arn_for_objects(pattern)

    def grant_worker(self, role: iam.IRole) -> None:
        """Read datasets and parameters, write coded results, record completion."""
        self._allow(role, ["s3:GetObject"], [self.object_arn(DATASETS), self.object_arn(PARAMS)])
        self._allow(role, ["s3:PutObject"], [self.object_arn(RESULTS)])
        self._allow(role, list(WORKER_TABLE_ACTIONS), [self.table.table_arn])
        self._acknowledge_prefixes(role, (DATASETS, PARAMS, RESULTS))

    def grant_coordinator(self, role: iam.IRole) -> None:
        """Read datasets, read/write run data (plans, parameters, results), use the table."""
        self._allow(role, ["s3:GetObject"], [self.object_arn(DATASETS), self.object_arn(RUNS)])
        self._allow(role, ["s3:PutObject"], [self.object_arn(RUNS), self.object_arn(JOB_PLANS)])
        self.grant_not_found(role)
        self._allow(role, list(COORDINATOR_TABLE_ACTIONS), [self.table.table_arn])
        self._acknowledge_prefixes(role, (DATASETS, RUNS, JOB_PLANS))

    def grant_read_job_plans(self, role: iam.IRole) -> None:
        """Read (and list, see grant_not_found) the accepted job plans: the warm-pool manager."""
        self._allow(role, ["s3:GetObject"], [self.object_arn(JOB_PLANS)])
        self.grant_not_found(role)
        self._acknowledge_prefixes(role, (JOB_PLANS,))

    def grant_not_found(self, role: iam.IRole) -> None:
        """s3:ListBucket on this bucket only, so a missing key answers 404 NoSuchKey, not 403.

        The handlers treat "no such object" as a normal answer (head_object, optional files);
        S3 reports it only to callers that may list the bucket. No prefix condition: get and
        head requests carry no s3:prefix, so a conditioned grant would still answer 403.
        """
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["s3:ListBucket"], resources=[self.bucket.bucket_arn]))

    @staticmethod
    def _allow(role: iam.IRole, actions: list[str], arns: list[str]) -> None:
        role.add_to_principal_policy(iam.PolicyStatement(actions=actions, resources=arns))

    def _acknowledge_prefixes(self, role: iam.IRole, patterns: tuple[str, ...]) -> None:
        for pattern in patterns:
            acknowledge(role, wildcard_finding(self.bucket, f"/{pattern}"),
                        f"Keys under {pattern} are named per dataset, run, round and "
                        "worker; the wildcard covers only that prefix of this stack's bucket.")
