"""When Collect stops waiting for a round, and who the round's stragglers are (and why).

The wait policy (job spec ``wait``) gives a cutoff: ``deadline_s`` after dispatch, or (1 + mu)
times the fastest worker's time (the paper's rule, docs/schemes.md). At the cutoff the workers
without a valid result are the stragglers, if that set keeps the pattern inside the scheme's
straggler model and leaves no job due this round undecodable. Otherwise Collect waits for more
results, up to ``hard_limit_s``, and the round is flagged in the log rather than decoded wrongly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Decision:
    """Collect's verdict for one poll: stop or not; if stopped, the stragglers and reasons."""

    stop: bool
    cutoff_s: float | None = None
    stragglers: list[int] = field(default_factory=list)
    reasons: dict[int, str] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)


def cutoff(policy: dict, arrivals: dict[int, float]) -> float | None:
    """Seconds after dispatch at which the policy stops waiting (None: no arrival yet for mu)."""
    if "deadline_s" in policy:
        return float(policy["deadline_s"])
    if not arrivals:
        return None
    return (1.0 + float(policy["mu"])) * min(arrivals.values())


def decide(policy: dict, elapsed: float, expected: set[int], arrivals: dict[int, float],
           failures: dict[int, str], admissible: Callable[[frozenset[int]], bool],
           late: Callable[[frozenset[int]], set[int]]) -> Decision:
    """One poll's verdict.

    ``arrivals``: worker -> seconds after dispatch its valid result was seen; ``failures``:
    worker -> why its result cannot be used (error, garbage). ``admissible(S)``: S keeps the
    pattern inside the scheme's model; ``late(S)``: the due jobs S would leave undecodable.
    """
    missing = frozenset(expected - set(arrivals))
    limit = cutoff(policy, arrivals)
    everyone_reported = not (missing - set(failures))
    if not everyone_reported and (limit is None or elapsed < limit):
        return Decision(stop=False, cutoff_s=limit)
    late_jobs = late(missing)
    inside = admissible(missing)
    hard = elapsed >= float(policy["hard_limit_s"])
    if (inside and not late_jobs) or everyone_reported or hard:
        flags = []
        if not inside:
            flags.append(f"stragglers outside the scheme's model ({len(missing)} workers)")
        if late_jobs:
            flags.append(f"jobs {sorted(late_jobs)} left undecodable at their deadline")
        if hard and not everyone_reported and (late_jobs or not inside):
            flags.append(f"hit the hard limit of {policy['hard_limit_s']} s")
        return Decision(True, limit, sorted(missing),
                        _reasons(missing, failures, elapsed, limit), flags)
    return Decision(stop=False, cutoff_s=limit,
                    flags=["waiting past the cutoff: this straggler set is outside the model"])


def _reasons(missing: frozenset[int], failures: dict[int, str], elapsed: float,
             limit: float | None) -> dict[int, str]:
    shown = f"{limit:.3f} s" if limit is not None else "none (no worker finished)"
    return {w: failures.get(w, f"no result within {elapsed:.3f} s (cutoff {shown})")
            for w in sorted(missing)}
