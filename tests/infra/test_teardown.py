"""`make delete-data`: a versioned bucket is emptied of every version and delete marker, then it
and the job table are deleted (`aws s3 rb --force`, the README's old advice, cannot)."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from infra import teardown
from infra.teardown import delete_data

REGION = "us-east-1"


@pytest.fixture
def versioned(monkeypatch):
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", REGION)):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        s3.create_bucket(Bucket="data")
        s3.put_bucket_versioning(Bucket="data", VersioningConfiguration={"Status": "Enabled"})
        for i in range(3):  # 3 keys x 350 versions: more than one DeleteObjects batch
            for version in range(350):
                s3.put_object(Bucket="data", Key=f"runs/r/k{i}", Body=str(version).encode())
        s3.delete_object(Bucket="data", Key="runs/r/k0")  # a delete marker
        dynamodb.create_table(TableName="jobs", BillingMode="PAY_PER_REQUEST",
                              KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": "pk",
                                                     "AttributeType": "S"}])
        yield s3, dynamodb


def test_deleting_the_current_objects_is_not_enough_on_a_versioned_bucket(versioned):
    """What `aws s3 rb --force` does: delete every listed object, then the bucket."""
    s3, _ = versioned
    for item in s3.list_objects_v2(Bucket="data").get("Contents", []):
        s3.delete_object(Bucket="data", Key=item["Key"])
    with pytest.raises(ClientError, match="BucketNotEmpty"):
        s3.delete_bucket(Bucket="data")


def test_every_version_and_delete_marker_goes_then_the_bucket_and_the_table(versioned):
    s3, dynamodb = versioned
    line = delete_data(s3, dynamodb, "data", "jobs")
    assert line == "deleted s3://data (1051 object versions and delete markers) and table jobs"
    assert "data" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert dynamodb.list_tables()["TableNames"] == []


def test_the_names_come_from_the_stack_outputs_when_not_given(versioned, monkeypatch):
    class CloudFormation:
        def describe_stacks(self, StackName):  # noqa: N803 (boto3's name)
            return {"Stacks": [{"Outputs": [{"OutputKey": "BucketName", "OutputValue": "data"},
                                            {"OutputKey": "TableName", "OutputValue": "jobs"}]}]}

    assert teardown.stack_data(CloudFormation()) == ("data", "jobs")
    assert teardown.main(["--regions", REGION, "--bucket", "data", "--table", "jobs",
                          "--yes"]) == 0
    s3, dynamodb = versioned
    assert dynamodb.list_tables()["TableNames"] == []
