"""The data bucket and the job table, and the narrow grants each kind of function gets on them.

Key layout (docs/contracts.md, "S3 keys"): datasets under ``datasets/``, everything of a run under
``runs/{run}/`` with parameters in ``params/`` and coded worker results in ``results/``.
Workers read datasets and parameters and write only results; each coordinator step gets what it
does (``STEP_ACCESS``), and table writes are limited by partition key (``dynamodb:LeadingKeys``).
Run data expires after ``results_expire_days``.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from coordinator.workflow import resources
from infra.nag import acknowledge, wildcard_finding

DATASETS = "datasets/*"
PARAMS = "runs/*/params/*"
RESULTS = "runs/*/results/*"
INJECT = "runs/*/inject/*"
DECODED = "runs/*/decoded/*"
RESULT_FILE = "runs/*/result.json"
PRIOR = "runs/*/prior.npy"  # what an sgcflow job with learn_from starts from (control/prior.py)
JOB_PLANS = "warmpool/plans/*"  # accepted jobs, published for the warm-pool manager
# DynamoDB partition keys (storage.state): job records and round logs ``job#{id}``; worker
# completion records ``{run}#round#{t}``, where run ids are ``run-…`` (backends.new_run_id).
JOB_ITEMS = "job#*"
COMPLETION_ITEMS = "run-*#round#*"
LEADING_KEYS = "ForAllValues:StringLike"


@dataclass(frozen=True)
class StepAccess:
    """What one coordinator step reads and writes (from coordinator.control.rounds)."""

    get: tuple[str, ...] = ()
    put: tuple[str, ...] = ()
    delete: tuple[str, ...] = ()
    not_found: bool = False  # reads a key that may be missing (head_object): needs ListBucket
    job_items: tuple[str, ...] = ("dynamodb:GetItem", "dynamodb:UpdateItem")
    completions: tuple[str, ...] = ()  # actions on the workers' completion records


# plan: prepares the dataset once (delete the old manifest, write parts + manifest), writes
# initial parameters, the injection plan and the warm-pool plan; reads/updates the job record;
# with learn_from also reads the earlier job's record, round log and prior, and writes its own.
# round: the round loop (coordinator.control.runner): reads the record, round log and prior,
# polls the completion records, decodes results into parameters (and the decoded gradient),
# commits each round with one TransactWriteItems of UpdateItems, records the dispatch (it
# invokes; see coordinator).
# finalize: writes result.json and the final status.
STEP_ACCESS = {
    "plan": StepAccess(get=(DATASETS, PRIOR), put=(DATASETS, PARAMS, INJECT, JOB_PLANS, PRIOR),
                       delete=(DATASETS,), not_found=True,
                       job_items=("dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query")),
    # Update reads results that may have been deleted (integrity: the worker becomes a
    # straggler), which S3 reports as 404 only to a caller that may list: not_found.
    "round": StepAccess(get=(RESULTS, PARAMS, PRIOR), put=(PARAMS, DECODED), not_found=True,
                        job_items=("dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"),
                        completions=("dynamodb:Query",)),
    "finalize": StepAccess(put=(RESULT_FILE,), job_items=("dynamodb:GetItem",
                                                          "dynamodb:UpdateItem",
                                                          "dynamodb:Query")),
}
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
            versioned=True,  # an overwritten object stays recoverable (issue 12: integrity)
            removal_policy=cdk.RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(id="expire-run-data", prefix="runs/",
                                 expiration=cdk.Duration.days(results_expire_days)),
                s3.LifecycleRule(id="expire-job-plans", prefix="warmpool/plans/",
                                 expiration=cdk.Duration.days(results_expire_days)),
                s3.LifecycleRule(id="abort-incomplete-uploads",
                                 abort_incomplete_multipart_upload_after=cdk.Duration.days(1)),
                s3.LifecycleRule(id="expire-old-versions",
                                 noncurrent_version_expiration=cdk.Duration.days(
                                     results_expire_days)),
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
        """Read datasets and parameters, write coded results, record its own completion (only
        completion-record keys: never a job record, the job index or a round log)."""
        self._allow(role, ["s3:GetObject"], [self.object_arn(DATASETS), self.object_arn(PARAMS)])
        self._allow(role, ["s3:PutObject"], [self.object_arn(RESULTS)])
        # a missing parameters object is a named error, not a 403
        self.grant_not_found(role, (DATASETS, PARAMS))
        self._allow_items(role, ["dynamodb:PutItem"], COMPLETION_ITEMS)
        self._acknowledge_prefixes(role, (DATASETS, PARAMS, RESULTS))

    def grant_step(self, role: iam.IRole, step: str) -> None:
        """Exactly what coordinator step ``step`` does to the bucket and the table."""
        access = STEP_ACCESS[step]
        for action, patterns in (("s3:GetObject", access.get), ("s3:PutObject", access.put),
                                 ("s3:DeleteObject", access.delete)):
            if patterns:
                self._allow(role, [action], [self.object_arn(p) for p in patterns])
        if access.not_found:
            self.grant_not_found(role, access.get)
        self._allow_items(role, list(access.job_items), JOB_ITEMS)
        if access.completions:
            self._allow_items(role, list(access.completions), COMPLETION_ITEMS)
        self._acknowledge_prefixes(role, tuple(dict.fromkeys(
            access.get + access.put + access.delete)))

    def _allow_items(self, role: iam.IRole, actions: list[str], leading_keys: str) -> None:
        """Table actions limited to items whose partition key matches ``leading_keys``."""
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=actions, resources=[self.table.table_arn],
            conditions={LEADING_KEYS: {"dynamodb:LeadingKeys": [leading_keys]}}))

    def grant_read_job_plans(self, role: iam.IRole) -> None:
        """Read and list the accepted job plans, nothing else: the warm-pool manager."""
        self._allow(role, ["s3:GetObject"], [self.object_arn(JOB_PLANS)])
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["s3:ListBucket"], resources=[self.bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [JOB_PLANS]}}))
        self._acknowledge_prefixes(role, (JOB_PLANS,))

    def grant_warm_pool(self, role: iam.IRole) -> None:
        """The warm-pool manager: read the job plans; read job records and round logs, and
        mark a scheduled job submitted when it starts it; read completion records (each
        region's cold starts)."""
        self.grant_read_job_plans(role)
        self._allow_items(role, ["dynamodb:GetItem", "dynamodb:UpdateItem"], JOB_ITEMS)
        self._allow_items(role, ["dynamodb:Query"], COMPLETION_ITEMS)

    def grant_not_found(self, role: iam.IRole, patterns: tuple[str, ...]) -> None:
        """s3:ListBucket on this bucket, so reading a missing key under ``patterns`` answers
        404 NoSuchKey, not 403 AccessDenied (S3 says "no such key" only to callers that may
        list; the handlers treat a missing object as a normal answer). Scoped with
        ``StringLikeIfExists`` on ``s3:prefix``: a listing (which always carries a prefix, ""
        when none is given) sees only ``patterns``; the implicit check behind a GetObject or
        HeadObject is allowed whether or not S3 puts the key's prefix in its context."""
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["s3:ListBucket"], resources=[self.bucket.bucket_arn],
            conditions={"StringLikeIfExists": {"s3:prefix": list(patterns)}}))

    @staticmethod
    def _allow(role: iam.IRole, actions: list[str], arns: list[str]) -> None:
        role.add_to_principal_policy(iam.PolicyStatement(actions=actions, resources=arns))

    def _acknowledge_prefixes(self, role: iam.IRole, patterns: tuple[str, ...]) -> None:
        for pattern in patterns:
            acknowledge(role, wildcard_finding(self.bucket, f"/{pattern}"),
                        f"Keys under {pattern} are named per dataset, run, round and "
                        "worker; the wildcard covers only that prefix of this stack's bucket.")
