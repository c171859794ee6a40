"""The Round task: Collect(t) + Update(t) + Dispatch(t + 1), round after round, in one invocation.

Why one task: each state transition and each dependent AWS call sits on every round's critical
path. Here a round costs one DynamoDB query of the completions, the result checks, the streamed
reads of the results to decode, the parameter writes, one DynamoDB transaction (round t's
outcome, the job's progress and round t + 1's dispatch record together) and the worker fan-out:
six dependent calls, and no state transition until the invocation's time (or round budget) is
spent (``docs/critical-path.md``).

State between rounds lives in memory for the whole invocation (the session, the straggler
history, the skipped jobs): it is read once from the store when the invocation starts, so the
store calls per round stay constant however long the job runs.

Integrity: Collect accepts a result only with its sha256 in the worker's completion record;
Update re-hashes every result it sums. A round-t result changed in the bucket makes its worker a
suspect: round t is collected again with it as a straggler (reason ``integrity: ...``), so the
decode stays exact. A changed result of an earlier round (already committed) skips its job, as a
late job is skipped. Parameters are written with their digest (kept in the round log's update
record and in the job's progress) and checked whenever read, by Update and by the workers (the
task's ``params_sha256``); a changed parameter file stops its model (``failed at iteration k``).
A model whose step is not finite or explodes stops as ``diverged at iteration k``
(``coordinator.control.divergence``); either way its tasks are no longer sent.

Idempotent on retry: round t's outcome is written by one conditional transaction, so a re-run of
an interrupted invocation redoes at most the uncommitted round; its writes before the commit go
to deterministic keys with the same values (on the virtual clock: the same bits).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

import numpy as np

from coordinator.adaptive.live import NAME as SGCFLOW
from coordinator.adaptive.live import LiveOnline
from coordinator.contract import env, keys
from coordinator.control import prior
from coordinator.control.collect import Collect, RoundInputs, WallClock
from coordinator.control.meter import CpuMeter, own_time
from coordinator.control.plan import JobPlan
from coordinator.control.session_cache import forget, session_at
from coordinator.control.updater import Recollect, Updater
from coordinator.control.virtual import VirtualTimeline
from coordinator.policy import policy_from_wait
from coordinator.spec.jobspec import is_batched
from coordinator.storage.state import late_pairs

log = logging.getLogger("sgcflow.coordinator")
# invoke([(worker, event)], wrap=None): ``wrap`` (if given) wraps the per-invoke function, so
# the caller can measure the CPU of the threads that run it.
Invoker = Callable[..., None]
ROUND_MARGIN_S = 30.0  # do not start a round with less Lambda time left than this
MAX_ROUNDS_PER_TASK = 200


def rounds_per_task() -> int:
    """The Round task's round budget: ``SGC_ROUNDS_PER_TASK``, default MAX_ROUNDS_PER_TASK."""
    raw = os.environ.get(env.ROUNDS_PER_TASK, str(MAX_ROUNDS_PER_TASK))
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{env.ROUNDS_PER_TASK}={raw!r}: expected an integer >= 1")
    return value


def wait_policy(wait: dict):
    """The wait policy of a job spec's ``wait`` (``clock`` says which clock, not how to wait)."""
    return policy_from_wait({k: v for k, v in wait.items() if k != "clock"})


class RoundRunner:
    """Runs rounds of one job from where its record stands (see the module docstring)."""

    def __init__(self, store, run_id: str, invoke: Invoker, *, clock=None,
                 poll_s: float | None = None):
        self.store, self.run_id, self.invoke = store, run_id, invoke
        record = store.job(run_id)
        self.plan = JobPlan.from_dict(record["plan"])
        self.spec = record["spec"]
        self.started_from = record.get("prior")  # scheme.learn_from: see coordinator.control.prior
        self.secret = record.get("secret")  # None: a job planned before records were bound
        self.done = int(record.get("round", 0))
        self.progress = dict(record.get("progress") or {"decoded": 0, "losses": {}})
        self.skipped = {int(j) for j in self.progress.get("skipped", [])}
        self.suspects: dict[int, dict[int, str]] = {}  # round -> {worker: why}, see Recollect
        logged = store.observations(run_id) if self.done else {}
        missing = [t for t in range(1, self.done + 1) if t not in logged]
        if missing:
            raise RuntimeError(f"job={run_id}: round log lacks the collect record of rounds "
                               f"{missing}")
        self.history = [frozenset(logged[t][0]) for t in range(1, self.done + 1)]
        self.late_log = [[tuple(pair) for pair in logged[t][1]] for t in range(1, self.done + 1)]
        wait = self.spec["wait"]
        entries = store.rounds(run_id) if self.done else []
        self.online = self._online(entries, wait) if self.spec["scheme"]["name"] == SGCFLOW \
            else None
        self.session = self.online.session if self.online else session_at(
            run_id, self.spec, self._observed())
        self.timeline = self._virtual_timeline(store) if wait.get("clock") == "virtual" else None
        if self.timeline:
            self.timeline.replay(self.session, [float(e["collect"]["elapsed_s"])
                                                for e in entries if e["round"] <= self.done])
        # earlier stragglers whose result may still land (the session says which still help)
        self.pending = {(r, w) for r, s in enumerate(self.history, start=1) for w in s} - {
            pair for landed in self.late_log for pair in landed}
        self.clock = clock or WallClock()
        poll_s = poll_s if poll_s is not None else float(os.environ.get(env.POLL_S, "0.05"))
        self.collect = Collect(store, run_id, wait_policy(wait), clock=self.clock, poll_s=poll_s,
                               virtual_times=self.timeline.times if self.timeline else None)
        self.cpu = CpuMeter()  # pool threads; the loop's own thread is read with thread_time
        self.updater = Updater(store, self.plan, record, self.progress, self.cpu,
                               self.collect.path)
        self._mark = own_time()

    def _observed(self) -> list[tuple[frozenset[int], list[tuple[int, int]]]]:
        return list(zip(self.history, self.late_log, strict=True))

    def _online(self, entries: list[dict], wait: dict) -> LiveOnline:
        """sgcflow's controller, replayed from the round log (coordinator.adaptive.live)."""
        entries = [e for e in entries if e["round"] <= self.done]
        if entries:
            last = entries[-1]
            self._previous = (float(last["dispatch"]["at"]), float(last["collect"]["elapsed_s"]),
                              frozenset(last["collect"]["stragglers"]))
        learned = None if self.started_from is None else prior.read(
            self.store, self.run_id, self.plan.n, self.started_from)
        return LiveOnline.from_log(self.plan.n, self.plan.jobs, entries,
                                   models=len(self.plan.models),
                                   batch=is_batched(self.spec),
                                   hard_limit_s=wait.get("hard_limit_s"), prior=learned)

    def _late_previous(self, t: int, entry: dict, collected: dict) -> dict[str, float]:
        """Round t - 1's stragglers that finished by the end of round t: {worker: seconds after
        round t - 1's dispatch} (virtual clock: from the trace; wall clock: from the completion
        records' ``finished_at``). One query, off the decision path."""
        previous = getattr(self, "_previous", None)
        if t == 1 or previous is None:
            return {}
        dispatched_at, end_s, stragglers = previous
        horizon = end_s + float(collected["elapsed_s"])
        if self.timeline is not None:
            times = self.timeline.times(t - 1, self.session)
            found = {w: float(times[w]) for w in stragglers}
        else:
            items = self.store.completions(self.run_id, t - 1)
            found = {w: float(item["timings"]["finished_at"]) - dispatched_at
                     for w, item in items.items() if w in stragglers
                     and "finished_at" in (item.get("timings") or {})}
        return {str(w): round(x, 6) for w, x in sorted(found.items()) if x <= horizon}

    def _virtual_timeline(self, store) -> VirtualTimeline:
        """Emulation: each worker's time in round t. From a trace: the simulator's own clock at
        every worker's load that round (``coordinator.replay.round_simulator.TraceClock``) and
        its fleet (cold starts where no warm environment is left); otherwise the table the
        Plan step wrote."""
        stragglers = self.spec["stragglers"]
        if "trace" in stragglers:
            from coordinator.control.inject import trace_latency
            from coordinator.replay.round_simulator import Replay

            replay = Replay(seed=stragglers.get("seed", 0),
                            permute_workers=stragglers.get("permute_workers"),
                            spares=stragglers.get("spares", 0))
            clock = replay.clock(trace_latency(stragglers, self.plan.n), self.plan.rounds)
            return VirtualTimeline(lambda t, loads: clock.times(t - 1, loads),
                                   replay.fleet(self.plan.n))
        table = store.get_array(keys.virtual_times_key(self.run_id))
        return VirtualTimeline(lambda t, loads: np.where(loads > 0, table[t - 1], np.nan), None)

    # --- the loop ----------------------------------------------------------------------------
    def run(self, execution: int, remaining_s: Callable[[], float],
            max_rounds: int | None = None) -> str:
        """Run rounds until the job is done, time is short or the round budget is spent.
        Returns the job's status: running, done, cancelled or stale (a newer execution runs)."""
        budget = max_rounds or rounds_per_task()
        t = self.done + 1
        entry = self.store.round(self.run_id, t) if t <= self.session.rounds else {}
        for _ in range(budget):
            if t > self.session.rounds:
                return "done"
            if remaining_s() < ROUND_MARGIN_S:
                break
            if "invoked" not in entry:
                self._start_measuring()
                entry = self._dispatch(t, entry)
            self._start_measuring()
            record = self.store.job(self.run_id)  # read while the workers compute
            if record.get("status") in ("cancelling", "cancelled"):
                return "cancelled"
            if int(record.get("execution", execution)) != execution or \
                    record.get("stopped_execution") == execution:
                return "stale"  # a newer execution runs the job, or this one was stopped
            if int(record.get("round", 0)) != self.done:
                return "stale"  # another run committed rounds meanwhile: start over from it
            if self.online:
                self.collect.policy = self.online.policy(t)
            collected = self.collect.run(self._inputs(t, entry), remaining_s)
            if collected is None:
                break
            if self.online:
                collected["scheme"] = self.online.describe(t)
                collected["late_previous"] = self._late_previous(t, entry, collected)
                self._previous = (float(entry["dispatch"]["at"]), float(collected["elapsed_s"]),
                                  frozenset(collected["stragglers"]))
            self.updater.result_digests[t] = self.collect.digests
            for (r, worker), digests in self.collect.late_digests.items():
                if r in self.updater.result_digests:  # else read back whole when needed
                    self.updater.result_digests[r][worker] = digests
            try:
                entry = self._finish(t, collected)
            except Recollect as changed:
                self._recollect(t, changed.suspects)
                continue
            if entry is None:
                return "stale"
            t += 1
        return "done" if self.done >= self.session.rounds else "running"

    def _recollect(self, t: int, suspects: dict[int, str]) -> None:
        """Forget round t's observation (session, controller) and mark ``suspects`` failed."""
        known = self.suspects.setdefault(t, {})
        if set(suspects) <= set(known):
            raise RuntimeError(f"job={self.run_id} round={t}: suspects {sorted(suspects)} again")
        known.update(suspects)
        log.warning("job=%s round=%d: %s; collecting the round again", self.run_id, t,
                    "; ".join(suspects.values()))
        forget(self.run_id)
        if self.online:
            self.online = self._online(self.store.rounds(self.run_id), self.spec["wait"])
            self.session = self.online.session
        else:
            self.session = session_at(self.run_id, self.spec, self._observed())

    def _tasks(self, t: int) -> list[dict[int, dict[int, float]]]:
        """Round t's tasks per worker without the stopped models' jobs (never sent)."""
        live = self.updater.live
        return [{j: c for j, c in task.items() if live(j)} for task in self.session.tasks(t)]

    def _inputs(self, t: int, entry: dict) -> RoundInputs:
        tasks = self._tasks(t)
        self.pending = {(r, w) for r, w in self.pending if self.session.useful(t, r, w)}
        live = self.updater.live
        late_tasks = {(r, w): {j: c for j, c in self.session.tasks(r)[w].items() if live(j)}
                      for r, w in sorted(self.pending)}
        late_at = ({key: self.timeline.landing(*key, t) for key in late_tasks}
                   if self.timeline else {})
        jobs = {j for task in [*tasks, *late_tasks.values()] for j in task}
        return RoundInputs(t=t, dispatched_at=float(entry["dispatch"]["at"]),
                           expected=frozenset(entry["dispatch"]["workers"]),
                           session=self.session, history=self.history, tasks=tasks,
                           sizes={j: self._size(j) for j in jobs},
                           result_key=self.plan.result_key,
                           suspects=dict(self.suspects.get(t, {})),
                           late_tasks=late_tasks, late_at=late_at, token=self._token)

    def _token(self, t: int, worker: int) -> str | None:
        return None if self.secret is None else self.plan.token(self.secret, t, worker)

    def _size(self, job: int) -> int:
        return self.updater.sizes[self.plan.model_of(job)[0]]

    def _start_measuring(self) -> None:
        self._mark = own_time()
        self._phases: dict[str, float] = {}
        self.cpu.take()
        self.collect.cpu.take()

    def _phase(self, name: str) -> None:
        """Close the CPU account of phase ``name`` (collect, update, dispatch)."""
        now = own_time()
        spent = now - self._mark + self.cpu.take() + self.collect.cpu.take()
        self._phases[name] = round(self._phases.get(name, 0.0) + spent, 6)
        self._mark = now

    def _measured(self, round_: int) -> dict:
        """Round ``round_``'s coordinator cost, from its collect to the next dispatch."""
        self._phase("dispatch")
        phases = getattr(self, "_phases", {})
        return {"round": round_, "cpu_s": round(sum(phases.values()), 6),
                "cpu_phases_s": phases, "critical_path": self.collect.path.take()}

    # --- dispatch ------------------------------------------------------------------------------
    def _dispatch_record(self, t: int) -> dict:
        tasks = self._tasks(t)
        return {"at": self.clock.now(), "workers": [w for w, task in enumerate(tasks) if task]}

    def _dispatch(self, t: int, entry: dict) -> dict:
        """Invoke round t's workers (recorded first, so a retry invokes the same ones)."""
        if "dispatch" not in entry:
            _, value = self.store.record_round(self.run_id, t, "dispatch", self._dispatch_record(t))
            entry = {**entry, "dispatch": value}
        started = time.perf_counter()
        tasks = self._tasks(t)
        workers = entry["dispatch"]["workers"]
        mode = self.invoke([(w, self.plan.worker_event(t, w, tasks[w], self.updater.param_digests,
                                                       self.secret))
                            for w in workers], wrap=self.cpu.wrap)
        if mode == "tree":
            self.collect.path.add("lambda:Invoke (Event, to the relays)")
            self.collect.path.add("lambda:Invoke (Event, relays to the workers)")
        else:
            self.collect.path.add("lambda:Invoke (Event, the fan-out)")
        invoked = {"at": self.clock.now(), "seconds": time.perf_counter() - started,
                   "previous": self._measured(t - 1)}
        _, invoked = self.store.record_round(self.run_id, t, "invoked", invoked)
        log.info("job=%s round=%d dispatched %d workers", self.run_id, t,
                 len(entry["dispatch"]["workers"]))
        return {**entry, "invoked": invoked}

    # --- update + commit -------------------------------------------------------------------------
    def _finish(self, t: int, collected: dict) -> dict | None:
        """Observe, decode and step, commit round t, dispatch round t + 1. None if another run
        committed round t first."""
        self._phase("collect")
        stragglers = frozenset(collected["stragglers"])
        landed = [tuple(pair) for pair in late_pairs(collected)]
        if self.timeline is not None:
            collected["cold"] = {str(w): round(s, 6)
                                 for w, s in sorted(self.timeline.cold.get(t, {}).items())}
        self.session.observe(t, stragglers, landed)
        if self.online:  # may switch the configuration for the job that starts next round
            dispatched = [w for w, task in enumerate(self._tasks(t)) if task]
            self.online.after_round(t, dispatched, collected)
        update = self.updater.update(t, self.session, self.skipped, collected["reasons"])
        self._phase("update")
        progress = self._progress(t, collected, update)
        following = self._dispatch_record(t + 1) if t < self.session.rounds else None
        self.collect.path.add("dynamodb:TransactWriteItems (commit)")
        if not self.store.commit_round(self.run_id, t, {"collect": collected, "update": update},
                                       {"round": t, "progress": progress,
                                        "rounds": self.session.rounds}, following):
            log.info("job=%s round=%d was committed by another run", self.run_id, t)
            return None
        self.done, self.progress = t, progress
        self.history.append(stragglers)
        self.late_log.append(landed)
        self.pending = (self.pending - set(landed)) | {(t, w) for w in stragglers}
        if self.timeline is not None:
            self.timeline.ended(t, collected["elapsed_s"])
        self.skipped |= {int(j) for j in update["skipped"]}
        self.suspects.pop(t, None)
        self.updater.forget_before(t - self.plan.T + 1)
        log.info("job=%s round=%d: %d stragglers, decoded %s", self.run_id, t, len(stragglers),
                 sorted(update["decoded"]))
        if following is None:
            return {}
        return self._dispatch(t + 1, {"dispatch": following})

    def _progress(self, t: int, collected: dict, update: dict) -> dict:
        progress = {**self.progress, "losses": dict(self.progress.get("losses", {}))}
        progress["decoded"] = int(progress.get("decoded", 0)) + len(update["decoded"])
        for info in update["decoded"].values():
            if info["loss"] is not None:
                progress["losses"][str(info["model"])] = info["loss"]
        progress["stragglers"] = len(collected["stragglers"])
        progress["skipped"] = sorted(self.skipped | {int(j) for j in update["skipped"]})
        # The digests of the parameters still to be read (later jobs, final ones), and why
        # models stopped: what a resumed run needs to go on checking and skipping.
        progress.update(self.updater.progress(t))
        return progress
