"""`make deploy`'s first step: what would make the deploy fail, found in seconds, before building.

Building the dependency layer and the Numba cache takes minutes (11 on a loaded machine), and
only then did CDK say "Unable to resolve AWS account". This checks first, with the same context
the deploy gets (``-c key=value`` over cdk.json):

- **credentials**: ``sts:GetCallerIdentity`` answers (none found, expired, or no network: says
  which, and how to fix it);
- **Lambda concurrency** in each region: the worker function reserves ``workers`` concurrent
  executions and AWS keeps at least 100 of the account's quota unreserved, so the unreserved
  concurrency (plus what the worker already reserves, on a redeploy) must be at least
  ``workers`` + 100. New accounts may start far below the default 1,000.

    python -m infra.preflight -c regions=us-east-1 [-c workers=256] [--credentials-only]

Exit 0 when the deploy can go on, 2 with a message saying what to do otherwise.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from coordinator.workflow import resources
from infra.config import InfraConfig, file_context, parse_context_args

UNRESERVED_MINIMUM = 100  # AWS keeps this much of the quota unreserved
# Fail fast: a few seconds per call, one retry.
CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 2})


class PreflightError(RuntimeError):
    """The deploy would fail: the message says why and what to do."""


def check_credentials(sts: Any) -> str:
    """The caller's ARN, or PreflightError saying what is wrong with the credentials."""
    try:
        return sts.get_caller_identity()["Arn"]
    except NoCredentialsError:
        raise PreflightError(
            "no AWS credentials found: run `aws configure` (or `aws sso login --profile P` and "
            "export AWS_PROFILE=P), or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY") from None
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        raise PreflightError(f"the AWS credentials were refused ({code}: "
                             f"{error.response.get('Error', {}).get('Message', '')}): renew "
                             "them (expired session?) or pick another profile") from None
    except BotoCoreError as error:
        raise PreflightError(f"cannot reach AWS STS to check the credentials: {error}") from None


def check_concurrency(lambda_client: Any, region: str, workers: int,
                      function: str = resources.WORKER_FUNCTION) -> str:
    """A line about the region's quota, or PreflightError when ``workers`` cannot be reserved."""
    try:
        settings = lambda_client.get_account_settings()["AccountLimit"]
    except (ClientError, BotoCoreError) as error:
        raise PreflightError(f"{region}: cannot read the Lambda account settings "
                             f"(lambda:GetAccountSettings): {error}") from None
    quota = int(settings["ConcurrentExecutions"])
    unreserved = int(settings["UnreservedConcurrentExecutions"])
    held = _reserved_by(lambda_client, function)  # a redeploy frees and re-reserves it
    available = unreserved + held
    needed = workers + UNRESERVED_MINIMUM
    if available < needed:
        raise PreflightError(
            f"{region}: the worker function reserves {workers} concurrent executions and AWS "
            f"keeps {UNRESERVED_MINIMUM} unreserved, so it needs {needed}; this account's Lambda "
            f"quota is {quota} with {unreserved} unreserved"
            f"{f' (+{held} the worker holds now)' if held else ''}. Request an increase "
            "(Service Quotas > AWS Lambda > Concurrent executions) or deploy fewer workers "
            f"(-c workers=N, at most {max(0, available - UNRESERVED_MINIMUM)} here)")
    return f"{region}: Lambda quota {quota}, {available} available for {workers} workers: ok"


def _reserved_by(lambda_client: Any, function: str) -> int:
    try:
        answer = lambda_client.get_function_concurrency(FunctionName=function)
    except ClientError:  # not deployed yet (ResourceNotFoundException)
        return 0
    return int(answer.get("ReservedConcurrentExecutions") or 0)


def preflight(config: InfraConfig, credentials_only: bool = False,
              session: Any = None) -> list[str]:
    """Every check for ``config``; lines saying what passed, or PreflightError."""
    import boto3

    session = session or boto3.session.Session()
    sts = session.client("sts", region_name=config.regions[0], config=CLIENT_CONFIG)
    lines = [f"AWS credentials: {check_credentials(sts)}"]
    if not credentials_only:
        for region in config.regions:
            client = session.client("lambda", region_name=region, config=CLIENT_CONFIG)
            lines.append(check_concurrency(client, region, config.workers))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.preflight", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--credentials-only", action="store_true",
                        help="skip the concurrency quota (make diff)")
    args, rest = parser.parse_known_args(argv)
    try:
        context = {**file_context(), **parse_context_args(rest)}
        config = InfraConfig.from_context(context.get)
        for line in preflight(config, args.credentials_only):
            print(f"preflight: {line}")
    except (PreflightError, ValueError) as error:
        print(f"preflight: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
