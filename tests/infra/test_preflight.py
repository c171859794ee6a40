"""`make deploy` checks credentials and the Lambda concurrency quota before building anything."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, NoCredentialsError

from infra.config import InfraConfig
from infra.preflight import PreflightError, check_concurrency, check_credentials, preflight


class FakeLambda:
    def __init__(self, quota: int, unreserved: int, held: int | None = None):
        self.settings = {"ConcurrentExecutions": quota,
                         "UnreservedConcurrentExecutions": unreserved}
        self.held = held

    def get_account_settings(self):
        return {"AccountLimit": self.settings}

    def get_function_concurrency(self, FunctionName):  # noqa: N803 (boto3's name)
        if self.held is None:
            raise ClientError({"Error": {"Code": "ResourceNotFoundException"}},
                              "GetFunctionConcurrency")
        return {"ReservedConcurrentExecutions": self.held}


class FakeSts:
    def __init__(self, error: Exception | None = None):
        self.error = error

    def get_caller_identity(self):
        if self.error:
            raise self.error
        return {"Arn": "arn:aws:iam::123456789012:user/me"}


def test_missing_or_refused_credentials_say_what_to_do():
    with pytest.raises(PreflightError, match="no AWS credentials found: run `aws configure`"):
        check_credentials(FakeSts(NoCredentialsError()))
    expired = ClientError({"Error": {"Code": "ExpiredToken", "Message": "expired"}},
                          "GetCallerIdentity")
    with pytest.raises(PreflightError, match=r"refused \(ExpiredToken: expired\): renew"):
        check_credentials(FakeSts(expired))
    assert check_credentials(FakeSts()) == "arn:aws:iam::123456789012:user/me"


def test_a_quota_too_small_for_256_workers_is_refused_with_what_to_do():
    with pytest.raises(PreflightError) as refused:
        check_concurrency(FakeLambda(quota=10, unreserved=10), "us-east-1", workers=256)
    message = str(refused.value)
    assert "needs 356" in message and "quota is 10 with 10 unreserved" in message
    assert "Service Quotas" in message and "-c workers=N" in message
    assert "ok" in check_concurrency(FakeLambda(1000, 1000), "us-east-1", 256)
    # On a redeploy the worker already holds its 256: they count as available.
    assert "ok" in check_concurrency(FakeLambda(1000, 744, held=256), "us-east-1", 256)
    with pytest.raises(PreflightError, match="at most 200 here"):  # others reserved 700
        check_concurrency(FakeLambda(1000, 300), "us-east-1", 256)


def test_every_region_is_checked():
    class Session:
        def client(self, service, region_name=None, config=None):
            if service == "sts":
                return FakeSts()
            return FakeLambda(1000, 1000) if region_name == "us-east-1" else FakeLambda(50, 50)

    config = InfraConfig(regions=("us-east-1", "eu-west-1"))
    with pytest.raises(PreflightError, match="^eu-west-1: "):
        preflight(config, session=Session())
    assert len(preflight(config, credentials_only=True, session=Session())) == 1
