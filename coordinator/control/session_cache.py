"""Scheme sessions rebuilt from the round log (docs/contracts.md, "Job record and round log").

A session is deterministic given each round's stragglers and the late results it counted, so the
log is the truth and a warm step function keeps a cached session that it only moves forward.
Thread-safe: in emulation all steps of all jobs share one process. The maps are read and written
under ``_guard``; a session itself is used under its job's ``run_lock``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from coordinator.schemes import Session
from coordinator.spec.jobspec import validate

Observation = tuple[Sequence[int], Sequence[Sequence[int]]]  # (stragglers, late [round, w])

_cache: dict[str, Session] = {}
_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()


def run_lock(run_id: str) -> threading.Lock:
    with _guard:
        return _locks.setdefault(run_id, threading.Lock())


def session_at(run_id: str, spec: dict, observed: Sequence[Observation]) -> Session:
    """The job's session with rounds 1..len(observed) observed (observed[r-1] = round r's
    stragglers and late results).

    Call with ``run_lock(run_id)`` held while using the session.
    """
    with _guard:
        session = _cache.get(run_id)
    if session is not None and session.observed_rounds <= len(observed):
        try:
            return _replay(run_id, session, observed)
        except ValueError:  # the cache disagrees with the log (another run): rebuild
            pass
    return _replay(run_id, validate(spec).session(), observed)


def _replay(run_id: str, session: Session, observed: Sequence[Observation]) -> Session:
    for t in range(1, len(observed) + 1):
        stragglers, late = observed[t - 1]
        # a no-op for rounds already observed identically
        session.observe(t, stragglers, [tuple(pair) for pair in late])
    with _guard:
        _cache[run_id] = session
    return session


def forget(run_id: str) -> None:
    with _guard:
        _cache.pop(run_id, None)
