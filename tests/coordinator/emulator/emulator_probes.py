"""Lambda handlers for the emulator's teardown tests: a worker that is still busy when the
emulator stops, and writes (an object, then a completion record) once let go."""

from __future__ import annotations

import os
import threading
import time

STATE: dict = {}
_lock = threading.Lock()


def reset(release) -> None:
    """``release()`` says when the busy workers may go on (polled)."""
    with _lock:
        STATE.clear()
        STATE.update(release=release, entered=0, outcomes=[])


def entered() -> int:
    with _lock:
        return STATE["entered"]


def outcomes() -> list[str]:
    with _lock:
        return list(STATE["outcomes"])


def busy_writer(event: dict, context=None) -> dict:
    import boto3

    with _lock:
        STATE["entered"] += 1
        release = STATE["release"]
    deadline = time.monotonic() + float(event.get("hold_s", 120))
    while not release() and time.monotonic() < deadline:
        time.sleep(0.01)
    outcome = "ok"
    try:  # clients built now, as the worker's were in issue 26 (after teardown had begun)
        session = boto3.session.Session()
        key = f"runs/probe/{event['i']}.npy"
        session.client("s3").put_object(Bucket=os.environ["SGC_BUCKET"], Key=key, Body=b"x")
        session.client("dynamodb").put_item(TableName=os.environ["SGC_TABLE"], Item={
            "pk": {"S": "probe"}, "sk": {"S": str(event["i"])}})
    except Exception as error:
        outcome = type(error).__name__
    with _lock:
        STATE["outcomes"].append(outcome)
    return {"outcome": outcome}
