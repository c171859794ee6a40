"""Replay a straggler pattern through a session with random partial gradients.

Used by the tests (exhaustive and randomized) and by ``sgc simulate --check``: it computes every
worker's coded result exactly as a worker would (sum of coefficient x partial gradient), decodes
each job from the session's weights, and reports when each job decoded and how far the decoded
gradient is from the true sum. No I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass
class ReplayOutcome:
    decoded_round: dict[int, int] = field(default_factory=dict)  # job -> round it decoded in
    max_error: float = 0.0  # max |decoded - true| / max(1, |true|) over jobs and coordinates
    late: dict[int, str] = field(default_factory=dict)  # job -> what it lacked at its deadline


def replay(session, pattern: Sequence[frozenset[int]], rng: np.random.Generator,
           dim: int = 3, late: Sequence[frozenset[tuple[int, int]]] = ()) -> ReplayOutcome:
    """Run every round of ``session`` with ``pattern[t - 1]`` as round t's stragglers and
    ``late[t - 1]`` as the (round, worker) results of earlier stragglers landing in round t.
    Every worker computes its result (a straggler's is only late, as on Lambda)."""
    jobs, k = session.jobs, session.partitions
    partials = rng.standard_normal((jobs + 1, k, dim))  # partials[j, p] = g_p(j)
    results: dict[tuple[int, int, int], np.ndarray] = {}
    outcome = ReplayOutcome()
    for t in range(1, session.rounds + 1):
        stragglers = pattern[t - 1] if t - 1 < len(pattern) else frozenset()
        for worker, tasks in enumerate(session.tasks(t)):
            for job, coefficients in tasks.items():
                parts = np.array(list(coefficients))
                weights = np.array(list(coefficients.values()))
                results[(t, worker, job)] = weights @ partials[job, parts]
        session.observe(t, stragglers, late[t - 1] if t - 1 < len(late) else ())
        for job, weights in session.decoded(t).items():
            outcome.decoded_round[job] = t
            decoded = sum(w * results[key] for key, w in weights.items())
            truth = partials[job].sum(axis=0)
            error = np.abs(decoded - truth).max() / max(1.0, np.abs(truth).max())
            outcome.max_error = max(outcome.max_error, float(error))
        for job, need in session.late(t).items():
            outcome.late.setdefault(job, need)
    return outcome


def coverage_error(session, job: int, weights: dict[tuple[int, int, int], float]) -> float:
    """max_p |sum of weight x coefficient on partition p - 1|: 0 means exact for any gradients.

    A decoded job equals sum_p g_p(j) for every choice of partial gradients exactly when the
    weighted coefficients cover every partition with total 1, so this checks recovery
    symbolically, without drawing gradients.
    """
    cover = [0.0] * session.partitions  # a few partitions: plain floats beat numpy's overhead
    for (t, worker, result_job), weight in weights.items():
        if result_job != job:
            return float("inf")
        shares = [(c, row) for j, c, row in session.plan(t)[worker] if j == job]
        if len(shares) != 1:
            return float("inf")
        component, row = shares[0]
        for partition, coefficient in component.coefficients(row).items():
            cover[partition] += weight * coefficient
    return float(max(abs(total - 1) for total in cover))


def pattern_outcome(session, pattern: Sequence[frozenset[int]]) -> tuple[dict[int, int], float]:
    """Observe ``pattern`` round by round: {job: decode round} and the worst coverage error."""
    decoded_round, worst = {}, 0.0
    for t in range(1, session.rounds + 1):
        session.plan(t)
        session.observe(t, pattern[t - 1] if t - 1 < len(pattern) else frozenset())
        for job, weights in session.decoded(t).items():
            decoded_round[job] = t
            worst = max(worst, coverage_error(session, job, weights))
    return decoded_round, worst
