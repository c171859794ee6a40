"""A job's notice: ``sgc submit --start-at TIME``, the start time the warm-pool manager sees.

With notice the warm pool has the job's workers warm before round 1: the job is recorded as
``scheduled`` and its plan published at once (``warmpool/plans/<run>.json`` with ``start_s``
and ``submit_s``); the manager provisions or pre-warms a lead time ahead and starts the job's
first execution at the first tick at or after ``start_s`` at which the capacity is READY
(``tick``). The local emulator runs no manager schedule, so there ``sgc submit`` waits until
the start time and submits then.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import time
from collections.abc import Callable

from coordinator.contract import keys


class NoticeError(ValueError):
    """A start time that cannot be used; ``where`` is the option or field, ``reason`` why."""

    def __init__(self, where: str, reason: str):
        super().__init__(f"{where}: {reason}")
        self.where, self.reason = where, reason


MAX_AHEAD_S = 7 * 86400.0  # at most a week of notice
PAST_S = 60.0  # a start at most a minute in the past is "now"
FORMATS = ("ISO 8601 with a timezone (2026-03-01T09:30:00Z, 2026-03-01T10:30+01:00) or an "
           "offset from now (+90s, +15m, +2h, +1d, +1h30m)")
OFFSET = re.compile(r"^\+(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?"
                    r"(?:(\d+(?:\.\d+)?)s)?$")
UNITS = (86400.0, 3600.0, 60.0, 1.0)


def parse_start_at(text: str, now_s: float, where: str = "--start-at") -> float:
    """Epoch seconds of ``text`` (see ``FORMATS``), within a minute in the past to 7 days
    ahead; a ``NoticeError`` names ``where`` and the accepted formats."""
    value = str(text).strip()
    match = OFFSET.match(value)
    if match and any(match.groups()):
        start = now_s + sum(float(part) * unit for part, unit in zip(match.groups(), UNITS,
                                                                      strict=True) if part)
    else:
        start = _iso(value, where)
    return check_start(start, now_s, where)


def _iso(value: str, where: str) -> float:
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise NoticeError(where, f"{value!r} is not a time; use {FORMATS}") from None
    if moment.tzinfo is None:
        raise NoticeError(where, f"{value!r} has no timezone; use {FORMATS}")
    return moment.timestamp()


def check_start(start_s: float, now_s: float, where: str = "--start-at") -> float:
    """``start_s`` if it is at most a minute past and at most 7 days ahead."""
    if not math.isfinite(start_s):
        raise NoticeError(where, f"not a finite time; use {FORMATS}")
    if start_s < now_s - PAST_S:
        raise NoticeError(where, f"{_show(start_s)} is {now_s - start_s:.0f} s in the past "
                                 f"(at most {PAST_S:g} s allowed)")
    if start_s > now_s + MAX_AHEAD_S:
        raise NoticeError(where, f"{_show(start_s)} is more than 7 days ahead (at most "
                                 f"{_show(now_s + MAX_AHEAD_S)})")
    return float(max(start_s, now_s))


def _show(epoch_s: float) -> str:
    return dt.datetime.fromtimestamp(epoch_s, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def start_of(spec: dict, start_at: str | None, now_s: float) -> float | None:
    """The start a submission asks for: ``--start-at`` text, else the spec's own ``start_at``
    (epoch seconds), checked against the clock; None for "now"."""
    if start_at is not None:
        return parse_start_at(start_at, now_s, "--start-at")
    if spec.get("start_at") is None:
        return None
    return check_start(float(spec["start_at"]), now_s, "start_at")


def schedule(store, run_id: str, spec: dict, spare: int, now_s: float, backend: str) -> dict:
    """Record the job as ``scheduled`` and publish its plan with notice (``store``: a
    ``Store``: ``create_job`` and ``put_json``). Returns the published plan."""
    start = float(spec["start_at"])
    if not store.create_job(run_id, {"spec": spec, "status": "scheduled", "created": now_s,
                                     "round": 0, "backend": backend, "start_at": start}):
        raise ValueError(f"job id {run_id!r} already exists")
    published = {"job_id": run_id, "spec": spec, "start_s": start, "submit_s": now_s,
                 "spare_environments": int(spare)}
    store.put_json(keys.warmpool_plan_key(run_id), published)
    return published


def wait_until(start_s: float, echo: Callable[[str], None],
               clock: Callable[[], float] = time.time,
               sleep: Callable[[float], None] = time.sleep) -> None:
    """Block until ``start_s`` (the local emulator's stand-in for the manager's schedule)."""
    remaining = start_s - clock()
    if remaining > 0:
        echo(f"waiting {remaining:.0f} s until {_show(start_s)} (--start-at; the local "
             "emulator runs no warm-pool schedule)")
    while (remaining := start_s - clock()) > 0:
        sleep(min(remaining, 30.0))
