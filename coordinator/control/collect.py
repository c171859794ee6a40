"""Collect: wait for round t's results until the shared wait policy says stop.

The decision is the policy object's (``coordinator.policy``), the same one ``sgc simulate``
replays; Collect only feeds it what arrived and when. Two clocks:

- wall clock (AWS, and emulation with injected sleeps): poll the completion records, check every
  new result, ask ``policy.decide(view, elapsed)``; sleep until the next poll or the policy's
  ``wake_at_s``, whichever is first.
- virtual clock (emulation replaying a trace): every worker's time for the round is known
  (``virtual_times``), nobody sleeps. Collect waits in real time until every dispatched worker
  reported, then asks the policy on the virtual times through ``end_of_round``, the very
  function the simulator uses, so both make the same decisions on the same arrivals.

Late results: an earlier round's straggler runs to its end, and its result still counts for the
jobs it serves (``RoundInputs.late``, the candidates the session still finds useful). Collect
treats each like an arrival of its own round: its completion record must vouch for it, and its
landing time (virtual: known; wall: when its record was first seen) is an event the policy
sees. The record's ``late`` lists those landed by the round's end.

A worker whose record says error, or whose record does not vouch for a finite result of the
model's length with its sha256 (``coordinator.contract.records``), is a failure (a straggler with
a reason), never an arrival. Collect reads no result: Update re-hashes every vector it sums
against the digests Collect keeps (``digests``). A worker whose result Update found changed in
the bucket is a *suspect* (``RoundInputs.suspects``): the round is collected again with it as a
failure, reason ``integrity: ...``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from coordinator.contract.records import Completion, completion_from_item
from coordinator.control.meter import CpuMeter, CriticalPath
from coordinator.policy import Decision, RoundView, WaitPolicy, end_of_round

# In emulation on the virtual clock a worker that never reports (lost by the emulator) must not
# hold the round forever: after this many real seconds it counts as failed.
VIRTUAL_REPORT_TIMEOUT_S = 600.0


class Clock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class WallClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass(frozen=True)
class RoundInputs:
    """What Collect needs about round ``t``: who was dispatched when, with which tasks.

    ``session``: the scheme session observed through round t - 1; ``tasks[w]``: worker w's
    {job: {partition: coefficient}}; ``sizes[job]``: the parameter count of job's model;
    ``result_key(t, job, w)``: where worker w's result for job lies. ``suspects``: workers
    whose stored result does not hash to their record's digest, with why (failures).
    """

    t: int
    dispatched_at: float
    expected: frozenset[int]
    session: Any
    history: Sequence[frozenset[int]]
    tasks: Sequence[Mapping[int, Any]]
    sizes: Mapping[int, int]
    result_key: Callable[[int, int, int], str]
    suspects: Mapping[int, str] = field(default_factory=dict)
    # (round r < t, worker) -> its {job: coefficients} (what its late result must cover), and
    # on the virtual clock the seconds after this round's dispatch it lands (wall: unknown)
    late_tasks: Mapping[tuple[int, int], Mapping[int, Any]] = field(default_factory=dict)
    late_at: Mapping[tuple[int, int], float] = field(default_factory=dict)
    # (round, worker) -> the token its invocation carried (None: an older job, no binding)
    token: Callable[[int, int], str | None] = lambda r, w: None


def round_flags(decision: Decision, end_s: float, arrivals: Mapping[int, float]) -> list[str]:
    """What the round log shows about a stop; a round with any flag counts as a fall-back
    (the live run and ``policy_replay`` count them the same way)."""
    flags = list(decision.flags)
    if decision.cutoff_s is not None and end_s > decision.cutoff_s + 1e-9 and arrivals \
            and max(arrivals.values()) > decision.cutoff_s:
        flags.insert(0, f"waited past the cutoff ({decision.cutoff_s:.3f} s) for a "
                        "straggler set inside the scheme's model")
    return flags


class Collect:
    """One round's wait. ``run`` returns the collect record, or None when time is up."""

    def __init__(self, store, run_id: str, policy: WaitPolicy, *, clock: Clock | None = None,
                 poll_s: float = 0.05,
                 virtual_times: Callable[[int, Any], np.ndarray] | None = None,
                 threads: int = 16):
        self.store, self.run_id, self.policy = store, run_id, policy
        self.clock = clock or WallClock()
        self.poll_s = poll_s
        self.virtual_times = virtual_times
        self.threads = threads
        self.cpu = CpuMeter()  # pool threads' CPU (the caller measures its own thread)
        self.path = CriticalPath()
        # After ``run``: {worker: {job: sha256}} of every accepted result (what Update checks).
        self.digests: dict[int, dict[str, str]] = {}
        # After ``run``: {(round, worker): {job: sha256}} of the late results it counted.
        self.late_digests: dict[tuple[int, int], dict[str, str]] = {}
        # Late candidates whose record came back unusable: nothing more to wait for from them.
        self.late_failed: set[tuple[int, int]] = set()
        self._records_read = -1  # how many records the last read of the round returned (wall)

    # --- the two clocks ----------------------------------------------------------------------
    def run(self, inputs: RoundInputs, remaining_s: Callable[[], float]) -> dict | None:
        if self.virtual_times is not None:
            return self._run_virtual(inputs, remaining_s)
        return self._run_wall(inputs, remaining_s)

    def _run_wall(self, inputs: RoundInputs, remaining_s: Callable[[], float]) -> dict | None:
        arrivals: dict[int, float] = {}
        failures: dict[int, str] = {}
        late: dict[tuple[int, int], float] = {}
        self.digests, self.late_digests, self.late_failed = {}, {}, set()
        self._records_read = -1
        seconds, busy, polls = 0.0, 0.0, 0
        with ThreadPoolExecutor(max_workers=self.threads) as pool:
            while True:
                tick = time.perf_counter()
                polls += 1
                elapsed = self.clock.now() - inputs.dispatched_at
                fresh = self._fresh(inputs, arrivals, failures)
                self.path.start("dynamodb:Query (completions)")
                check = self.cpu.wrap(lambda c: self._check(inputs, c))
                for completion, reason in zip(fresh, pool.map(check, fresh), strict=True):
                    seconds += completion.seconds
                    if reason:
                        failures[completion.worker] = reason
                    else:
                        arrivals[completion.worker] = elapsed
                        self.digests[completion.worker] = dict(completion.sha256)
                for key in self._late_landed(inputs, late):
                    late[key] = elapsed
                awaited = frozenset(inputs.late_tasks) - self.late_failed
                view = self._view(inputs, arrivals, failures, late, awaited)
                now_s = self.clock.now() - inputs.dispatched_at
                decision = self.policy.decide(view, now_s)
                busy += time.perf_counter() - tick
                if decision.stop:
                    return self._record(decision, now_s, arrivals, seconds, polls, busy, "wall",
                                        late)
                if remaining_s() < self.poll_s + 5.0:
                    return None
                pause = self.poll_s
                if decision.wake_at_s is not None:
                    pause = min(pause, max(0.0, decision.wake_at_s - now_s))
                self.clock.sleep(max(pause, 0.001))

    def _run_virtual(self, inputs: RoundInputs, remaining_s: Callable[[], float]) -> dict | None:
        started, busy, polls = time.monotonic(), 0.0, 0
        reported: dict[int, Completion] = {}
        while True:
            tick = time.perf_counter()
            polls += 1
            # Count first (a small response); read the records once everyone is there.
            if self.store.completion_count(self.run_id, inputs.t) >= len(inputs.expected):
                for worker, item in self.store.completions(self.run_id, inputs.t).items():
                    if worker in inputs.expected:
                        reported[worker] = completion_from_item(worker, item)
            busy += time.perf_counter() - tick
            waiting = inputs.expected - set(reported)
            if not waiting:
                break
            if time.monotonic() - started > VIRTUAL_REPORT_TIMEOUT_S and not reported:
                for worker, item in self.store.completions(self.run_id, inputs.t).items():
                    if worker in inputs.expected:
                        reported[worker] = completion_from_item(worker, item)
                waiting = inputs.expected - set(reported)
            if time.monotonic() - started > VIRTUAL_REPORT_TIMEOUT_S:
                for worker in waiting:
                    reported[worker] = Completion(worker, False, "error: no completion record")
                break
            if remaining_s() < self.poll_s + 5.0:
                return None
            self.clock.sleep(self.poll_s)
        tick = time.perf_counter()
        completions = [reported[w] for w in sorted(reported)]
        self.path.start("dynamodb:Query (completions)")
        with ThreadPoolExecutor(max_workers=self.threads) as pool:
            reasons = list(pool.map(self.cpu.wrap(lambda c: self._check(inputs, c)),
                                    completions))
        failures = {c.worker: r for c, r in zip(completions, reasons, strict=True) if r}
        valid = [c.worker for c in completions if c.worker not in failures]
        self.digests = {c.worker: dict(c.sha256) for c in completions
                        if c.worker not in failures}
        times = self.virtual_times(inputs.t, inputs.session)
        workers = np.asarray(valid, dtype=int)
        self.late_digests = {}
        offered = {key: float(inputs.late_at[key])
                   for key in self._late_landed(inputs, {}) if key in inputs.late_at}
        end_s, decision = end_of_round(
            self.policy,
            lambda arrived, late: self._view(inputs, arrived, failures, late, frozenset(offered)),
            workers, np.asarray([float(times[w]) for w in valid]), offered)
        arrivals = {w: float(times[w]) for w in valid if float(times[w]) <= end_s}
        late = {key: x for key, x in offered.items() if x <= end_s}
        self.late_digests = {key: d for key, d in self.late_digests.items() if key in late}
        busy += time.perf_counter() - tick
        return self._record(decision, end_s, arrivals, sum(c.seconds for c in completions),
                            polls, busy, "virtual", late)

    # --- shared ---------------------------------------------------------------------------------
    def _fresh(self, inputs: RoundInputs, arrivals: dict, failures: dict) -> list[Completion]:
        """The round's records not seen yet. Counted first (a small response): the records are
        read only when new ones were written, not on every poll (at 256 workers a read returns
        every record of the round; a record seen once is settled, so a rewrite changes
        nothing here)."""
        if self.store.completion_count(self.run_id, inputs.t) == self._records_read:
            return []
        items = self.store.completions(self.run_id, inputs.t)
        self._records_read = len(items)
        return [completion_from_item(w, item) for w, item in sorted(items.items())
                if w in inputs.expected and w not in arrivals and w not in failures]

    def _late_landed(self, inputs: RoundInputs, seen: Mapping) -> list[tuple[int, int]]:
        """The late candidates not yet seen whose completion record now vouches for every
        result they owe (one query per round they come from)."""
        found = []
        for r in sorted({r for r, _ in inputs.late_tasks}):
            wanted = {w for (q, w) in inputs.late_tasks if q == r and (q, w) not in seen}
            if not wanted:
                continue
            items = self.store.completions(self.run_id, r)
            for worker in sorted(wanted & set(items)):
                completion = completion_from_item(worker, items[worker])
                tasks = inputs.late_tasks[(r, worker)]
                if completion.ok and not _unbound(inputs, r, completion) and not any(
                        completion.problem(job, inputs.sizes[job] + 1,
                                           inputs.result_key(r, job, worker)) for job in tasks):
                    self.late_digests[(r, worker)] = dict(completion.sha256)
                    found.append((r, worker))
                else:
                    self.late_failed.add((r, worker))
        return found

    def _check(self, inputs: RoundInputs, completion: Completion) -> str | None:
        """None if the record vouches for every result of the worker, else why it is a
        straggler (from the record alone: no download on the round's critical path)."""
        if completion.worker in inputs.suspects:
            return inputs.suspects[completion.worker]
        unbound = _unbound(inputs, inputs.t, completion)
        if unbound:
            return unbound
        if not completion.ok:
            return completion.error
        for job in inputs.tasks[completion.worker]:
            key = inputs.result_key(inputs.t, job, completion.worker)
            problem = completion.problem(job, inputs.sizes[job] + 1, key)
            if problem:
                return problem
        return None

    @staticmethod
    def _view(inputs: RoundInputs, arrivals: Mapping[int, float],
              failures: Mapping[int, str], late: Mapping | None = None,
              awaited: frozenset = frozenset()) -> RoundView:
        """``awaited``: the late candidates that may still land (the round waits for them
        before it counts everyone as reported)."""
        return RoundView(t=inputs.t, session=inputs.session, history=inputs.history,
                         expected=inputs.expected, arrivals=dict(arrivals), failures=failures,
                         late=dict(late or {}), awaited=awaited)

    def _record(self, decision: Decision, end_s: float, arrivals: dict[int, float],
                seconds: float, polls: int, busy: float, clock: str,
                late: Mapping[tuple[int, int], float] | None = None) -> dict:
        flags = round_flags(decision, end_s, arrivals)
        return {"stragglers": sorted(decision.stragglers),
                "reasons": {str(w): r for w, r in sorted(decision.reasons.items())},
                "flags": flags, "cutoff_s": decision.cutoff_s, "elapsed_s": end_s,
                "arrivals": {str(w): round(s, 6) for w, s in sorted(arrivals.items())},
                "worker_seconds": seconds, "polls": polls, "busy_s": busy, "clock": clock,
                "policy": self.policy.describe(),
                "late": {f"{r}:{w}": round(s, 6) for (r, w), s in sorted((late or {}).items())}}


def _unbound(inputs: RoundInputs, r: int, completion: Completion) -> str | None:
    """Why the record cannot be the one round r's invocation of that worker wrote (None: it
    can): it must echo the token only that invocation received (docs/security.md)."""
    expected = inputs.token(r, completion.worker)
    if expected is None or completion.token == expected:
        return None
    return (f"integrity: the completion record of worker {completion.worker} in round {r} "
            "does not carry its invocation's token (written by someone the task was not sent "
            "to)")
