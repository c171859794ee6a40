"""sgcflow's second job on the same workload: starting from what the first one learned.

A job's chooser explores before it can choose (full load, then a quarter: ``family.exploration``),
and on the measured Lambda traces that exploration is most of what sgcflow loses to the best
batched GC chosen in hindsight. A job that runs the same workload again (same data, model and
workers, e.g. a retraining or the next sweep of learning rates) can instead start from the rounds
the last job learned (``OnlineRun(prior=...)``; live: ``scheme: {name: sgcflow, learn_from:
RUN_ID}``).

Measured out of sample in time: each trace setting's measured rounds are cut in two halves; the
first job runs on the first half, the second job on the second half, and both the second job and
its baselines (sgcflow starting afresh, the best batched GC chosen in hindsight on that half) are
scored on the second half only. Nothing the second job is scored on was seen by the first.
"""

from __future__ import annotations

from coordinator.replay.comparison import online_run
from coordinator.replay.round_simulator import Replay, run_scheme
from coordinator.replay.search import best_gc
from coordinator.replay.traces import LatencyModel


def halves(latency: LatencyModel) -> tuple[LatencyModel, LatencyModel]:
    """The trace's first and second half of measured rounds, as two traces (at least 2 rounds)."""
    rounds = latency.n_rounds
    if rounds < 2:
        raise ValueError(f"{latency.profile}/{latency.region}: {rounds} measured round, need 2 "
                         "to cut in halves")
    cut = rounds // 2
    return tuple(LatencyModel(latency.loads, latency.durations[:, part, :],
                              method=latency.method, profile=latency.profile,
                              region=latency.region)
                 for part in (slice(0, cut), slice(cut, rounds)))


def second_job(latency: LatencyModel, jobs: int, replay: Replay) -> dict:
    """Seconds of the second half's three runs: ``gc_batched`` (hindsight-best batched GC),
    ``afresh`` (sgcflow exploring) and ``learned`` (sgcflow starting from the first half's run),
    with the configurations each sgcflow run started with."""
    first, second = halves(latency)
    choice = best_gc(second, 1.0, jobs, n=second.n_workers, replay=replay, batch=replay.models)
    baseline = run_scheme(choice.scheme, second, jobs, choice.policy, replay=replay)
    _, teacher = online_run(first, jobs, replay=replay)
    afresh, _ = online_run(second, jobs, replay=replay)
    learned, student = online_run(second, jobs, replay=replay, prior=teacher.chooser.learned())
    return {"rounds": [first.n_rounds, second.n_rounds],
            "gc_batched": {"runtime_s": baseline.runtime_s, "s": choice.scheme.params.get("s"),
                           "policy": choice.policy.describe()},
            "afresh": {"runtime_s": afresh.runtime_s, "blocks": afresh.params},
            "learned": {"runtime_s": learned.runtime_s, "blocks": student.describe_blocks()}}
