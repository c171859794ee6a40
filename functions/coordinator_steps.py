"""Thin Lambda handlers of the job workflow's steps (coordinator.workflow.definition).

Each parses the state, calls the step in ``coordinator.control.rounds`` and returns the next
state. Names come from the environment (``coordinator.contract.env``): the bucket, the table and
the worker function.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools import Logger

from coordinator.contract import env
from coordinator.control import rounds
from coordinator.storage.state import Store

logger = Logger(service="sgcflow-coordinator")
_lock = threading.Lock()
_cached: dict[tuple, Any] = {}


def _target() -> tuple:
    return tuple(os.environ.get(k) for k in (env.ENDPOINT_URL, env.BUCKET, env.TABLE,
                                             env.WORKER_FUNCTION))


def _store() -> Store:
    # Clients live as long as the execution environment (boto3 clients are thread-safe once
    # built; building them is not), rebuilt when the target stack changes (tests).
    key = ("store", *_target())
    with _lock:
        if key not in _cached:
            _cached[key] = Store(endpoint_url=key[1])
        return _cached[key]


def _invoker() -> rounds.Invoker:
    key = ("invoker", *_target())
    with _lock:
        if key not in _cached:
            _cached[key] = rounds.lambda_invoker(endpoint_url=key[1])
        return _cached[key]


@contextmanager
def _log_keys(**keys: Any) -> Iterator[None]:
    """The job's keys on this invocation's log lines only. In the emulator the steps of several
    jobs run as threads of one process: ``append_keys`` would write the one formatter dict that
    every other thread's log call iterates (and tag their lines with this job)."""
    logger.thread_safe_append_keys(**keys)
    try:
        yield
    finally:
        logger.thread_safe_clear_keys()


def _remaining(context: Any):
    if context is None or not hasattr(context, "get_remaining_time_in_millis"):
        return lambda: 900.0
    return lambda: context.get_remaining_time_in_millis() / 1000.0


def plan(event: dict, context: Any = None) -> dict:
    """Set the job up, or (with ``continue_as``) start the job's next execution."""
    with _log_keys(job=event.get("job")):
        if "continue_as" in event:
            return rounds.continue_step(_store(), event, _sfn())
        return rounds.plan_step(_store(), event)


def _sfn():
    import boto3

    key = ("sfn", *_target())
    with _lock:
        if key not in _cached:
            _cached[key] = boto3.session.Session().client("stepfunctions", endpoint_url=key[1])
        return _cached[key]


def round_task(event: dict, context: Any = None) -> dict:
    """Rounds of collect + update + dispatch until the job is done or this run's time is up."""
    with _log_keys(job=event.get("job"), round=event.get("round")):
        return rounds.round_step(_store(), event, _invoker(), _remaining(context))


def finalize(event: dict, context: Any = None) -> dict:
    with _log_keys(job=event.get("job")):
        return rounds.finalize_step(_store(), event)
