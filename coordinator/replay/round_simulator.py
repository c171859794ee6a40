"""Replay measured Lambda delays through a scheme and a wait policy (docs/schemes.md).

Each round, every dispatched worker's time comes from the latency model at that worker's own
load in that round (``Session.worker_loads``: an idle slot costs nothing, a replica costs what
it computes), and the wait policy (coordinator.policy) decides on a virtual clock when the
round ends and who straggled: the very object the live Collect step asks on the wall clock.
The scheme's session runs alongside, so every simulated round also decodes the jobs due in it;
a job left undecodable is counted in ``late_jobs``, never silently dropped.

A *fall-back* is a round that ended later than the policy's cutoff (the study's rule: it had
to wait for everyone) or that the policy flagged (outside the model, a hard limit).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from coordinator.policy import RoundView, WaitPolicy, end_of_round
from coordinator.replay.traces import LatencyModel
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
    round_times_s: list[float] = field(default_factory=list, repr=False)

    def to_json(self) -> dict:
        return asdict(self)


class TraceClock:
    """Per-worker seconds of simulated round r at per-worker loads, from one latency model.

    The measured round behind each simulated round is fixed up front (``round_order``), so
    every scheme replayed with the same ``seed`` sees the same rounds whatever its loads.
    """

    def __init__(self, latency: LatencyModel, rounds: int, seed=None):
        self.latency = latency
        self.order = latency.round_order(rounds, seed)
        self._at: dict[float, np.ndarray] = {}

    def times(self, r: int, loads: np.ndarray) -> np.ndarray:
        """Seconds of every worker in round ``r`` (0-based); nan where ``loads`` is 0 (idle)."""
        out = np.full(len(loads), np.nan)
        for load in np.unique(loads[loads > 0]):
            mask = loads == load
            out[mask] = self.cube(float(load))[self.order[r], mask]
        return out

    def cube(self, load: float) -> np.ndarray:
        if load not in self._at:
            self._at[load] = self.latency.times_at(load)
        return self._at[load]


@dataclass
class RoundRecord:
    """What one simulated round did: the live Collect records the same things."""

    t: int
    loads: np.ndarray
    times: np.ndarray  # per worker; nan where not dispatched
    end_s: float
    stragglers: frozenset[int]
    fallback: bool


class Fixed:
    """A run under one scheme session and one policy (the controller for plain schemes)."""

    def __init__(self, session, policy: WaitPolicy):
        self.session, self._policy = session, policy

    def policy(self, t: int) -> WaitPolicy:
        return self._policy

    def after_round(self, record: RoundRecord) -> None:
        pass


def run_rounds(controller, clock: TraceClock) -> list[RoundRecord]:
    """Every round of ``controller.session`` on ``clock``; the controller may switch schemes
    between rounds (``after_round``) and names each round's policy."""
    session, history, records = controller.session, [], []
    t = 1
    while t <= controller.session.rounds:
        session = controller.session
        loads = np.asarray(session.worker_loads(t), dtype=float)
        workers = np.flatnonzero(loads > 0)
        times = clock.times(t - 1, loads)
        policy = controller.policy(t)
        expected = frozenset(workers.tolist())

        def view(arrivals, t=t, session=session, expected=expected):
            return RoundView(t, session, history, expected, arrivals)

        end, decision = end_of_round(policy, view, workers, times[workers])
        session.observe(t, decision.stragglers)
        history.append(decision.stragglers)
        fallback = bool(decision.flags) or (decision.cutoff_s is not None
                                             and end > decision.cutoff_s + 1e-12)
        record = RoundRecord(t, loads, times, end, decision.stragglers, fallback)
        records.append(record)
        controller.after_round(record)
        t += 1
    return records


def mean_load(records: list[RoundRecord]) -> float:
    """The mean load of the dispatched workers, averaged over the rounds that dispatched any."""
    return float(np.mean([r.loads[r.loads > 0].mean() for r in records if (r.loads > 0).any()]))


def summarize(name: str, params, T: int, load: float, policy: str, session,
              records: list[RoundRecord]) -> SchemeRun:
    times = [r.end_s for r in records]
    late = set()
    for r in records:
        late |= set(session.late(r.t))
    return SchemeRun(scheme=name, params=params, T=T, load=load, rounds=len(records),
                     runtime_s=float(sum(times)), fallbacks=sum(r.fallback for r in records),
                     stragglers_per_round=float(np.mean([len(r.stragglers) for r in records])),
                     policy=policy, mean_load=mean_load(records), late_jobs=len(late),
                     round_times_s=times)


def run_scheme(scheme, latency: LatencyModel, jobs: int, policy: WaitPolicy,
               seed=None) -> SchemeRun:
    """Replay one scheme for ``jobs`` jobs (J + T rounds) under ``policy``."""
    require_int("jobs", jobs, 1)
    session = scheme.session(jobs)
    records = run_rounds(Fixed(session, policy), TraceClock(latency, jobs + scheme.T, seed))
    return summarize(scheme.name, scheme.params, scheme.T, scheme.load, policy.describe(),
                     session, records)


def with_ratios(runs: dict[str, SchemeRun], baseline: str = "gc") -> dict[str, SchemeRun]:
    """Set every run's ``ratio_to_gc`` against ``runs[baseline]`` (when present)."""
    base = runs.get(baseline)
    if base is not None:
        for run in runs.values():
            run.ratio_to_gc = run.runtime_s / base.runtime_s
    return runs


RunFactory = Callable[[], SchemeRun]
