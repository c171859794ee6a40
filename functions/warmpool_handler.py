"""Scheduled warm-pool handler: every minute, the published job plans -> warm workers.

Runs every minute (EventBridge) and on direct invoke (``{"jobs": [...]}`` replaces the published
plans; ``now_s`` replaces the clock). The tick itself is ``coordinator.warmpool.manager``: it
provisions or pre-warms each job's workers and spares a lead time ahead, waits for READY
before starting a job submitted with notice, releases the capacity after the job, and raises
if anything failed (so the function's Errors alarm counts it). This module only builds what
the tick reads and does from the environment (infra sets it):
``SGC_BUCKET`` + ``SGC_WARMPOOL_PLANS_PREFIX``: the plans, one object per job (a lifecycle rule
expires them); ``SGC_TABLE``: job records (status) and completion records (cold starts);
``SGC_STATE_MACHINE``: starts a scheduled job's first execution; ``SGC_WORKER_FUNCTION`` +
``SGC_WORKER_ALIAS``: provisioned concurrency and pings; ``SGC_WARMPOOL_REGIONS``: the regions
it drives; ``SGC_WARMPOOL_PRICES``: per-region price overrides (JSON).
Each job: ``{"job_id", "spec": <job spec>, "start_s": epoch seconds, "submit_s"?,
"spare_environments"?}`` (docs/contracts.md, "Warm-pool job plans").
"""

from __future__ import annotations

import json
import os
import time

import boto3
from aws_lambda_powertools import Logger

from coordinator.warmpool import manager, pings, prices
from coordinator.warmpool.driver import WarmPoolDriver

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


def _store():
    """The job store, or None when this stack gave the manager no table."""
    if not os.environ.get("SGC_TABLE"):
        return None
    from coordinator.storage.state import Store

    return Store()


def _status(store):
    from coordinator.storage.state import JobNotFound

    def status(run_id: str) -> str | None:
        try:
            return store.job(run_id).get("status")
        except JobNotFound:
            return None

    return status


def _starter(store, machine: str):
    """Start a scheduled job's first execution, as ``sgc submit`` would have (execution
    ``<run>-x001``, input ``{"job", "execution": 1}``: coordinator/backends/base.py), unless its
    record stopped being ``scheduled`` (cancelled meanwhile)."""
    sfn = boto3.client("stepfunctions")

    def start(run_id: str) -> str:
        if store.job(run_id).get("status") != "scheduled":
            return "skipped: no longer scheduled"
        name = f"{run_id}-x001"
        try:
            arn = sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(
                {"job": run_id, "execution": 1}))["executionArn"]
        except sfn.exceptions.ExecutionAlreadyExists:  # a re-run tick: it already started
            arn = machine.replace(":stateMachine:", ":execution:") + f":{name}"
        store.update_job(run_id, {"execution_arn": arn, "execution": 1, "status": "submitted"})
        return arn

    return start


def _fetch_round(store):
    def fetch(run_id: str, t: int):
        dispatched = (store.round(run_id, t).get("dispatch") or {}).get("at")
        return None if dispatched is None else (float(dispatched), store.completions(run_id, t))

    return fetch


def handler(event, context=None, driver: WarmPoolDriver | None = None, ping=None) -> dict:
    event = event or {}
    now = float(event.get("now_s", time.time()))
    function = os.environ.get("SGC_WORKER_FUNCTION")
    missing = "SGC_WORKER_FUNCTION: set it to the worker function's name or ARN"
    if driver is None and not function:
        raise ValueError(missing)
    alias = os.environ.get("SGC_WORKER_ALIAS", "live")
    driver = driver or WarmPoolDriver(function, alias)
    if ping is None:
        def ping(region: str, run_id: str, count: int) -> int:
            if not function:
                raise ValueError(missing)
            client = boto3.client("lambda", region_name=region)
            return pings.send(client, function, alias, count, run_id)
    store = _store()
    machine = os.environ.get("SGC_STATE_MACHINE")
    stack = manager.Stack(
        plans=lambda: _jobs(event), driver=driver, ping=ping,
        status=_status(store) if store else (lambda run_id: None),
        start=_starter(store, machine) if store and machine else None,
        fetch_round=_fetch_round(store) if store else None,
        regions=[r for r in os.environ.get("SGC_WARMPOOL_REGIONS", "").split(",") if r],
        prices=prices.parse(os.environ[prices.ENVIRONMENT])
        if os.environ.get(prices.ENVIRONMENT) else {})
    try:
        report = manager.run_tick(stack, now)
    except manager.TickFailed as error:
        logger.error("warm pool tick failed", extra={"report": str(error)[:8000]})
        raise
    logger.info("warm pool tick", extra={"targets": report["targets"],
                                         "start": report["start"], "pings": report["pings"]})
    return report
