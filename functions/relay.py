"""The second level of the worker fan-out: a worker invocation whose event is a ``relay`` list
invokes each listed worker event asynchronously and computes nothing (docs/critical-path.md).

Why: the coordinator's own fan-out is bound by its client CPU (one boto3 call at a time under
the GIL); with ``relay`` it sends sqrt(n) invokes and sqrt(n) relays send the rest in parallel.
Every listed event is invoked the same way the coordinator would, so a relayed worker is
indistinguishable from a directly invoked one (and a re-delivered relay re-invokes idempotent
workers). Needs ``lambda:InvokeFunction`` on the worker function itself.
"""

from __future__ import annotations

import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from coordinator.contract import env
from coordinator.contract.errors import EventError

THREADS = 16
_clients: dict[str | None, Any] = {}
_lock = threading.Lock()


def _client():
    import boto3
    from botocore.config import Config

    endpoint = os.environ.get(env.ENDPOINT_URL)
    with _lock:
        if endpoint not in _clients:
            _clients[endpoint] = boto3.session.Session().client(
                "lambda", endpoint_url=endpoint,
                config=Config(max_pool_connections=THREADS, parameter_validation=False))
        return _clients[endpoint]


def handle(event: dict, context: Any = None) -> dict:
    """Invoke every event of ``event["relay"]`` (Event invocations of this same function)."""
    events = event.get("relay")
    if not isinstance(events, list) or not events or not all(isinstance(e, dict)
                                                             for e in events):
        raise EventError("relay", "must be a non-empty list of worker events")
    function = os.environ.get(env.WORKER_FUNCTION) or getattr(context, "invoked_function_arn",
                                                              None)
    if not function:
        raise EventError("relay", f"no function to invoke: set {env.WORKER_FUNCTION}")
    client = _client()

    def one(item: dict) -> None:
        client.invoke(FunctionName=function, InvocationType="Event",
                      Payload=json.dumps(item).encode())

    with ThreadPoolExecutor(max_workers=min(THREADS, len(events))) as pool:
        list(pool.map(one, events))
    return {"relayed": len(events)}
