"""`make delete-data`: delete what `make destroy` keeps on purpose, the data bucket and job table.

The stack retains both (``RemovalPolicy.RETAIN``: datasets and results outlive a redeploy). The
bucket is versioned, so ``aws s3 rb --force`` cannot delete it: it removes the current objects
only, and leaves every older version and delete marker, and S3 refuses to delete a bucket that
holds any (BucketNotEmpty). This deletes every version and every delete marker (1,000 per
request), then the bucket, then the table.

    python -m infra.teardown --regions us-east-1 [--bucket B --table T] [--yes]

Without ``--bucket``/``--table`` the names come from the region's stack outputs (run it before
`make destroy`); without ``--yes`` it asks on the terminal, and refuses without one.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from coordinator.workflow import resources

BATCH = 1000  # DeleteObjects takes at most 1,000 keys


class TeardownError(RuntimeError):
    """Something could not be deleted (or found): the message says what."""


def stack_data(cloudformation: Any, stack: str = resources.STACK_NAME) -> tuple[str, str]:
    """(bucket, table) from the stack's outputs."""
    try:
        [found] = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as error:
        raise TeardownError(f"stack {stack}: {error.response['Error'].get('Message', error)}; "
                            "give the names with BUCKET=... TABLE=... (the CloudFormation "
                            "console lists them)") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}
    names = resources.STACK_OUTPUTS
    return outputs[names["bucket"]], outputs[names["table"]]


def empty_bucket(s3: Any, bucket: str) -> int:
    """Delete every object version and delete marker of ``bucket``; how many were deleted.
    Lists from the start each time (deleting behind a pagination marker can skip entries)."""
    deleted, previous = 0, None
    while True:
        page = s3.list_object_versions(Bucket=bucket, MaxKeys=BATCH)
        entries = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                   for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        if not entries:
            return deleted
        if entries[0] == previous:
            raise TeardownError(f"s3://{bucket}: {entries[0]} is still listed after its "
                                "deletion")
        previous = entries[0]
        for start in range(0, len(entries), BATCH):  # versions and markers may exceed one
            chunk = entries[start:start + BATCH]
            answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": chunk, "Quiet": True})
            if answer.get("Errors"):
                first = answer["Errors"][0]
                raise TeardownError(f"s3://{bucket}/{first.get('Key')}: {first.get('Code')} "
                                    f"{first.get('Message', '')} ({len(answer['Errors'])} "
                                    "versions not deleted)")
            deleted += len(chunk)


def delete_data(s3: Any, dynamodb: Any, bucket: str, table: str) -> str:
    """Empty and delete the bucket, delete the table; a line saying what was deleted."""
    versions = empty_bucket(s3, bucket)
    s3.delete_bucket(Bucket=bucket)
    dynamodb.delete_table(TableName=table)
    return (f"deleted s3://{bucket} ({versions} object versions and delete markers) and "
            f"table {table}")


def confirm(bucket: str, table: str, ask: Callable[[str], str] = input) -> bool:
    answer = ask(f"Delete s3://{bucket} (every version) and table {table}? "
                 f"Type the bucket name to confirm: ")
    return answer.strip() == bucket


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.teardown", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--regions", default="us-east-1", help="comma-separated")
    parser.add_argument("--bucket", help="the data bucket (default: the stack's output)")
    parser.add_argument("--table", help="the job table (default: the stack's output)")
    parser.add_argument("--yes", action="store_true", help="do not ask (FORCE=1)")
    args = parser.parse_args(argv)
    regions = [r.strip() for r in args.regions.split(",") if r.strip()]
    if (args.bucket or args.table) and len(regions) != 1:
        parser.error("--bucket/--table name one region's data: give one region")
    try:
        for region in regions:
            session = boto3.session.Session(region_name=region)
            bucket, table = args.bucket, args.table
            if not (bucket and table):
                found = stack_data(session.client("cloudformation"))
                bucket, table = bucket or found[0], table or found[1]
            if not args.yes:
                if not sys.stdin.isatty():
                    print("make delete-data: no terminal to confirm; run it with FORCE=1",
                          file=sys.stderr)
                    return 2
                if not confirm(bucket, table):
                    print("not confirmed: nothing deleted", file=sys.stderr)
                    return 1
            print(f"{region}: " + delete_data(session.client("s3"), session.client("dynamodb"),
                                             bucket, table))
    except (TeardownError, ClientError, BotoCoreError) as error:
        print(f"make delete-data: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
