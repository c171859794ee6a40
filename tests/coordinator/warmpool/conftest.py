"""Shared fixtures for the warm-pool tests: a small seeded workload and a moto Lambda setup."""

from __future__ import annotations

import io
import json
import zipfile

import boto3
import pytest

from coordinator.warmpool import synthetic

REGIONS = ("us-east-1", "eu-west-2")


@pytest.fixture(scope="session")
def small_workload():
    return synthetic.generate(seed=3, days=0.5, functions_per_region=6)


def _zipped() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return 1\n")
    return buffer.getvalue()


@pytest.fixture
def lambda_alias(offline_aws):
    """A worker function with version 1 and alias ``live`` in two regions (moto)."""
    iam = boto3.client("iam", region_name="us-east-1")
    role = iam.create_role(RoleName="worker", AssumeRolePolicyDocument=json.dumps({}))
    for region in REGIONS:
        client = boto3.client("lambda", region_name=region)
        client.create_function(FunctionName="sgc-worker", Runtime="python3.12",
                               Role=role["Role"]["Arn"], Handler="handler.handler",
                               Code={"ZipFile": _zipped()})
        version = client.publish_version(FunctionName="sgc-worker")["Version"]
        client.create_alias(FunctionName="sgc-worker", Name="live", FunctionVersion=version)
    return REGIONS
