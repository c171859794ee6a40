"""Run a wait policy on a virtual clock: the round's end time from known arrival times.

``sgc simulate`` knows every worker's time for the round in advance; the live Collect step
learns them one poll at a time. Both ask the same policy object. Here the clock jumps to each
arrival (and to each ``wake_at_s`` the policy names in between). Because policies are monotone
(base module), the first arrival count at which the policy stops is found by bisection: about
log2(n) decisions per round instead of n, which keeps parameter searches at n = 256 fast.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from .base import Decision, RoundView, WaitPolicy

ViewFactory = Callable[[dict[int, float], dict[tuple[int, int], float]], RoundView]


def end_of_round(policy: WaitPolicy, make_view: ViewFactory, workers: np.ndarray,
                 times: np.ndarray, late: Mapping[tuple[int, int], float] | None = None
                 ) -> tuple[float, Decision]:
    """(seconds, decision) at which ``policy`` ends a round whose ``workers`` finish at ``times``.

    ``late``: earlier stragglers' results, (round, worker) -> seconds after this round's
    dispatch they land: events like arrivals (more of them can only help a policy stop).
    ``make_view(arrivals, late)`` builds the round's view for the events so far.
    """
    keys = [int(w) for w in np.asarray(workers).tolist()] + list(late or {})
    times = np.r_[np.asarray(times, dtype=float), [float(x) for x in (late or {}).values()]]
    order = np.argsort(times, kind="stable")
    keys, times = [keys[i] for i in order], times[order]
    n = len(times)
    # Workers arriving at the same instant arrive together: only prefixes that end a run of
    # equal times are states the round can be in.
    cuts = [0] + [k for k in range(1, n + 1) if k == n or times[k] > times[k - 1]]

    def attempt(k: int) -> tuple[float, Decision] | None:
        """The policy's stop within [time of arrival k, time of arrival k + 1), if any."""
        view = make_view(*_split(keys[:k], times[:k]))
        now = float(times[k - 1]) if k else 0.0
        decision = policy.decide(view, now)
        if decision.stop:
            return now, decision
        following = float(times[k]) if k < n else float("inf")
        wake = decision.wake_at_s
        if wake is not None and now < wake < following:
            decision = policy.decide(view, wake)
            if decision.stop:
                return wake, decision
        return None

    low, high = 0, len(cuts) - 1  # indices into cuts: no stop at cuts[low], stop by cuts[high]
    found = attempt(n)
    if found is None:
        raise RuntimeError(f"policy {policy.describe()} did not stop with every worker arrived")
    first = attempt(0)
    if first is not None:
        return first
    while high - low > 1:
        mid = (low + high) // 2
        result = attempt(cuts[mid])
        if result is None:
            low = mid
        else:
            high, found = mid, result
    return found


def _split(keys: list, times: np.ndarray) -> tuple[dict[int, float], dict[tuple[int, int], float]]:
    """Events so far -> (this round's arrivals, late results landed)."""
    arrivals, late = {}, {}
    for key, seconds in zip(keys, times.tolist(), strict=True):
        (late if isinstance(key, tuple) else arrivals)[key] = seconds
    return arrivals, late
