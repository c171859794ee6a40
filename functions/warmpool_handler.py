"""Scheduled warm-pool handler: accepted job plans -> provisioned concurrency per region.

Runs every minute (EventBridge) and on job submission (direct invoke with ``{"jobs": [...]}``).
Without ``jobs`` in the event it reads the plans the coordinator's Plan step published, one object
per accepted job under ``s3://$SGC_BUCKET/$SGC_WARMPOOL_PLANS_PREFIX`` (finished jobs need no
provisioning: the planner ignores them, and a lifecycle rule expires them).
Each job: ``{"job_id", "spec": <job spec>, "start_s": epoch seconds, "submit_s"?}``.
"""

from __future__ import annotations

import json
import os
import time

import boto3
from aws_lambda_powertools import Logger

from coordinator.warmpool.driver import WarmPoolDriver
from coordinator.warmpool.planner import targets_from_jobs

logger = Logger(service="sgcflow-warmpool")


def _jobs(event: dict) -> list[dict]:
    if "jobs" in event:
        return list(event["jobs"])
    bucket = os.environ.get("SGC_BUCKET")
    if not bucket:
        return []
    prefix = os.environ.get("SGC_WARMPOOL_PLANS_PREFIX", "warmpool/plans/")
    s3 = boto3.client("s3")
    jobs = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            jobs.append(json.loads(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()))
    return jobs


def handler(event, context=None, driver: WarmPoolDriver | None = None) -> dict:
    event = event or {}
    now = float(event.get("now_s", time.time()))
    regions = [r for r in os.environ.get("SGC_WARMPOOL_REGIONS", "").split(",") if r]
    targets, plans = targets_from_jobs(_jobs(event), now, regions)
    if driver is None:
        function = os.environ.get("SGC_WORKER_FUNCTION")
        if not function:
            raise ValueError("SGC_WORKER_FUNCTION: set it to the worker function's name or ARN")
        driver = WarmPoolDriver(function, os.environ.get("SGC_WORKER_ALIAS", "live"))
    report = driver.apply(targets)
    for region in report.failed:
        logger.warning("warm pool region failed", extra={"region": region,
                                                         "error": report.results[region].error})
    logger.info("warm pool applied", extra={"targets": targets, "plans": len(plans)})
    return {"now_s": now, "targets": targets, **report.to_dict()}
