"""Replay measured Lambda delays through a scheme and a wait policy (docs/schemes.md).

Each round, every dispatched worker's time comes from the latency model at that worker's own
load in that round (``Session.worker_loads``: an idle slot costs nothing, a replica costs what
it computes), and the wait policy (coordinator.policy) decides on a virtual clock when the
round ends and who straggled: the very object the live Collect step asks on the wall clock.
The scheme's session runs alongside, so every simulated round also decodes the jobs due in it;
a job left undecodable is counted in ``late_jobs``, never silently dropped.

A *fall-back* is a round that ended later than the policy's cutoff (the study's rule: it had
to wait for everyone) or that the policy flagged (outside the model, a hard limit).

What Lambda does beyond the round (``fleet``): a straggler runs to its end and is billed; its
result lands in a later round and counts for the jobs it still serves (``late_results``); a
task for a worker still busy takes another environment, a cold start when the function has
no warm one left. Rounds follow each other without a gap (the coordinator's own time is
measured by ``sgc bench round``, not here).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from coordinator.policy import RoundView, WaitPolicy, end_of_round
from coordinator.replay.fleet import Fleet, LateResults
from coordinator.replay.traces import LatencyModel
from coordinator.schemes.batching import batch_target, batched
from coordinator.schemes.params import require_int


@dataclass
class SchemeRun:
    """One scheme's replay: what the CLI prints and --json emits."""

    scheme: str
    params: dict | list
    T: int
    load: float
    rounds: int
    runtime_s: float
    fallbacks: int
    stragglers_per_round: float
    policy: str = ""
    mean_load: float = 0.0
    late_jobs: int = 0
    ratio_to_gc: float | None = None
    peak_concurrency: int = 0
    billed_gb_s: float = 0.0
    cold_starts: int = 0
    throttled: int = 0
    late_results_used: int = 0
    models: int = 1
    batch: dict | int = 1  # gradients per invocation (sgcflow: {size: scheme jobs of it})
    round_times_s: list[float] = field(default_factory=list, repr=False)

    def to_json(self) -> dict:
        return asdict(self)


class TraceClock:
    """Per-worker seconds of simulated round r at per-worker loads, from one latency model.

    The measured round behind each simulated round is fixed by ``seed`` (``round_order``), so
    every scheme replayed with the same seed sees the same rounds whatever its loads and however
    many rounds it runs. ``permute_workers``: from the second pass over the measured rounds on,
    each pass deals the measured workers' times to the simulated workers in a fresh random
    order (the same for every scheme), so what a run learned about a worker in one pass is not
    the next pass's answer.
    """

    def __init__(self, latency: LatencyModel, rounds: int, seed=None,
                 permute_workers: int | None = None):
        self.latency, self.seed, self.permute_workers = latency, seed, permute_workers
        self.order = latency.round_order(max(1, rounds), seed)
        self._at: dict[float, np.ndarray] = {}
        self._perms: dict[int, np.ndarray] = {}

    def times(self, r: int, loads: np.ndarray) -> np.ndarray:
        """Seconds of every worker in round ``r`` (0-based); nan where ``loads`` is 0 (idle)."""
        self._extend(r + 1)
        out = np.full(len(loads), np.nan)
        dealt = self._dealing(r, len(loads))
        for load in np.unique(loads[loads > 0]):
            mask = loads == load
            out[mask] = self.cube(float(load))[self.order[r]][dealt][mask]
        return out

    def uniform(self, load: float, rounds: int) -> np.ndarray:
        """(rounds, n) seconds with every worker at ``load`` (the searches' evaluators)."""
        self._extend(rounds)
        out = self.cube(float(load))[self.order[:rounds]]
        if self.permute_workers is not None:
            n, passes = out.shape[1], self.latency.n_rounds
            for first in range(passes, rounds, passes):
                out[first:first + passes] = out[first:first + passes][:, self._dealing(first, n)]
        return out

    def _extend(self, rounds: int) -> None:
        if rounds > len(self.order):  # a run longer than planned (sgcflow re-batches)
            self.order = self.latency.round_order(2 * rounds, self.seed)

    def _dealing(self, r: int, n: int) -> np.ndarray:
        """Which measured worker plays each simulated worker in round ``r``'s pass."""
        passes = 0 if self.permute_workers is None else r // self.latency.n_rounds
        if passes == 0:
            return np.arange(n)
        if passes not in self._perms:
            rng = np.random.default_rng([int(self.permute_workers), passes])
            self._perms[passes] = rng.permutation(n)
        return self._perms[passes]

    def cube(self, load: float) -> np.ndarray:
        if load not in self._at:
            self._at[load] = self.latency.times_at(load)
        return self._at[load]


@dataclass
class RoundRecord:
    """What one simulated round did: the live Collect records the same things."""

    t: int
    loads: np.ndarray
    times: np.ndarray  # per worker; nan where not dispatched (cold starts included)
    end_s: float
    stragglers: frozenset[int]
    fallback: bool
    late: dict = field(default_factory=dict)  # (round, worker) -> seconds: late results counted
    cold: dict = field(default_factory=dict)  # worker -> cold-start seconds in its time


class Fixed:
    """A run under one scheme session and one policy (the controller for plain schemes)."""

    def __init__(self, session, policy: WaitPolicy):
        self.session, self._policy = session, policy

    def policy(self, t: int) -> WaitPolicy:
        return self._policy

    def after_round(self, record: RoundRecord) -> None:
        pass


def run_rounds(controller, clock: TraceClock, fleet: Fleet | None = None,
               late_results: bool = True) -> list[RoundRecord]:
    """Every round of ``controller.session`` on ``clock``; the controller may switch schemes
    between rounds (``after_round``) and names each round's policy. ``fleet`` tracks what
    Lambda runs (default: n workers, no spares); ``late_results=False`` throws a straggler's
    work away when its round ends (the paper's model)."""
    session, history, records = controller.session, [], []
    fleet = fleet or Fleet(len(np.asarray(session.worker_loads(1))))
    pending = LateResults()
    start_s, t = 0.0, 1
    while t <= controller.session.rounds:
        session = controller.session
        loads = np.asarray(session.worker_loads(t), dtype=float)
        workers = np.flatnonzero(loads > 0)
        times = clock.times(t - 1, loads)
        times[workers], cold = fleet.dispatch(t, start_s, workers, times[workers])
        policy = controller.policy(t)
        expected = frozenset(workers.tolist())
        offered = pending.offered(session, t, start_s) if late_results else {}

        awaited = frozenset(offered)

        def view(arrivals, late, t=t, session=session, expected=expected, awaited=awaited):
            return RoundView(t, session, history, expected, arrivals, late=late,
                             awaited=awaited)

        end, decision = end_of_round(policy, view, workers, times[workers], offered)
        landed = pending.landed(offered, end)
        session.observe(t, decision.stragglers, landed)
        history.append(decision.stragglers)
        pending.add(t, start_s, decision.stragglers, times)
        fallback = bool(decision.flags) or (decision.cutoff_s is not None
                                             and end > decision.cutoff_s + 1e-12)
        record = RoundRecord(t, loads, times, end, decision.stragglers, fallback, landed, cold)
        records.append(record)
        controller.after_round(record)
        start_s += end
        t += 1
    return records


def mean_load(records: list[RoundRecord]) -> float:
    """The mean load of the dispatched workers, averaged over the rounds that dispatched any."""
    return float(np.mean([r.loads[r.loads > 0].mean() for r in records if (r.loads > 0).any()]))


def summarize(name: str, params, T: int, load: float, policy: str, session,
              records: list[RoundRecord], fleet: Fleet | None = None, models: int = 1,
              batch: dict | int = 1) -> SchemeRun:
    times = [r.end_s for r in records]
    late = set()
    for r in records:
        late |= set(session.late(r.t))
    return SchemeRun(scheme=name, params=params, T=T, load=load, rounds=len(records),
                     runtime_s=float(sum(times)), fallbacks=sum(r.fallback for r in records),
                     stragglers_per_round=float(np.mean([len(r.stragglers) for r in records])),
                     policy=policy, mean_load=mean_load(records), late_jobs=len(late),
                     peak_concurrency=fleet.peak if fleet else 0,
                     billed_gb_s=fleet.billed_gb_s if fleet else 0.0,
                     cold_starts=fleet.cold_starts if fleet else 0,
                     throttled=fleet.throttled if fleet else 0,
                     late_results_used=sum(len(r.late) for r in records),
                     models=models, batch=batch, round_times_s=times)


@dataclass(frozen=True)
class Replay:
    """How a scheme is replayed: the trace's order (``seed``, ``permute_workers``), the models
    in flight (1: unrelated gradients, the paper's setting), what Lambda keeps (``spares``
    warm environments beyond n, ``late_results``)."""

    seed: int | None = None
    permute_workers: int | None = None
    models: int = 1
    spares: int = 0
    late_results: bool = True

    def clock(self, latency: LatencyModel, rounds: int) -> TraceClock:
        return TraceClock(latency, rounds, self.seed, self.permute_workers)

    def fleet(self, n: int) -> Fleet:
        return Fleet(n, self.spares, seed=0 if self.seed is None else int(self.seed))


def run_scheme(scheme, latency: LatencyModel, jobs: int, policy: WaitPolicy,
               seed=None, replay: Replay | None = None, batch: int | None = None) -> SchemeRun:
    """Replay one scheme for ``jobs`` gradients under ``policy``: with M models, batched as the
    scheme's delay allows (coordinator.schemes.batching) or ``batch`` gradients per invocation
    at most, ceil(J / batch) + T rounds."""
    require_int("jobs", jobs, 1)
    replay = replay or Replay(seed=seed)
    session = batched(scheme, jobs, replay.models, independent=replay.models == 1,
                      target=batch)
    fleet = replay.fleet(scheme.n)
    records = run_rounds(Fixed(session, policy), replay.clock(latency, session.rounds), fleet,
                         replay.late_results)
    if batch is None:
        batch = 1 if replay.models == 1 else batch_target(replay.models, scheme.T)
    return summarize(scheme.name, scheme.params, scheme.T, scheme.load, policy.describe(),
                     session, records, fleet, replay.models, batch)


def with_ratios(runs: dict[str, SchemeRun], baseline: str = "gc") -> dict[str, SchemeRun]:
    """Set every run's ``ratio_to_gc`` against ``runs[baseline]`` (when present)."""
    base = runs.get(baseline)
    if base is not None:
        for run in runs.values():
            run.ratio_to_gc = run.runtime_s / base.runtime_s
    return runs


RunFactory = Callable[[], SchemeRun]
