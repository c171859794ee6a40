"""What a wait policy sees and what it answers: one decision code for two clocks.

A *wait policy* decides, while round t's results arrive, whether the coordinator may stop
waiting and who the round's stragglers are. The same object runs on two clocks:
``sgc simulate`` asks it at the arrival times of a replayed trace (a virtual clock,
``coordinator.policy.clock``), the live Collect step asks it on the wall clock between polls.
Nothing else decides when a round ends, so simulation and the live system cannot drift apart.

Contract every policy keeps (the virtual clock relies on it, and tests check it): the answer
depends only on the view and ``now_s``, and it is *monotone*: once it says stop at some time
with some arrivals, it also says stop later and with more arrivals. ``wake_at_s`` tells the
caller the earliest time at which the answer could change without a new arrival.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RoundView:
    """What a policy may look at in round ``t``.

    ``session``: the scheme session, observed up to round t - 1 (round t planned).
    ``history``: the stragglers of rounds 1 .. t - 1. ``expected``: the workers dispatched in
    round t. ``arrivals``: worker -> seconds after dispatch its valid result was seen.
    ``failures``: worker -> why its result cannot be used (crash, garbage): a straggler.
    ``late``: (round r < t, worker) -> seconds after round t's dispatch that an earlier
    straggler's result landed (Lambda runs it to its end): it counts for the jobs it serves.
    ``awaited``: the earlier stragglers still running whose results would serve an open job
    (those in ``late`` have landed): until they land, waiting can still help.
    """

    t: int
    session: object
    history: Sequence[frozenset[int]]
    expected: frozenset[int]
    arrivals: Mapping[int, float]
    failures: Mapping[int, str] = field(default_factory=dict)
    late: Mapping[tuple[int, int], float] = field(default_factory=dict)
    awaited: frozenset[tuple[int, int]] = frozenset()

    @property
    def missing(self) -> frozenset[int]:
        """Workers without a valid result (yet): the stragglers if the round stopped now."""
        return frozenset(self.expected - set(self.arrivals))

    @property
    def everyone_reported(self) -> bool:
        """Every dispatched worker delivered or failed, and every awaited late result landed:
        waiting longer cannot help."""
        return not (self.missing - set(self.failures)) and not (self.awaited - set(self.late))

    @property
    def fastest_s(self) -> float | None:
        return min(self.arrivals.values()) if self.arrivals else None


@dataclass(frozen=True)
class Decision:
    """One answer. If ``stop``: the round's ``stragglers`` with a reason each, and ``flags``
    for anything the round log should show (outside the model, a hard limit hit)."""

    stop: bool
    stragglers: frozenset[int] = frozenset()
    wake_at_s: float | None = None
    cutoff_s: float | None = None
    reasons: Mapping[int, str] = field(default_factory=dict)
    flags: tuple[str, ...] = ()


class WaitPolicy(ABC):
    """A named wait rule; see the module docstring for the contract."""

    name: str

    @abstractmethod
    def decide(self, view: RoundView, now_s: float) -> Decision:
        """Stop or not at ``now_s`` seconds after dispatch, given what arrived by then."""

    def describe(self) -> str:
        params = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.name}({params})" if params else self.name

    @property
    def params(self) -> dict[str, object]:
        return {}

    def stopped(self, view: RoundView, now_s: float, cutoff: float | None,
                flags: Sequence[str] = (), stragglers: frozenset[int] | None = None) -> Decision:
        """A stop decision with ``stragglers`` (default: ``view.missing``), a reason for each."""
        missing = view.missing if stragglers is None else stragglers
        shown = f"{cutoff:.3f} s" if cutoff is not None else "none"
        reasons = {w: view.failures.get(w, f"no result within {now_s:.3f} s (cutoff {shown})")
                   for w in sorted(missing)}
        return Decision(True, missing, None, cutoff, reasons, tuple(flags))
