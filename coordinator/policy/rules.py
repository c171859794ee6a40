"""The named wait policies: the study's rule, k-of-n, and earliest-decodable (sgcflow's).

- ``paper`` (the study's rule, docs/schemes.md): cut off at (1 + mu) x the fastest arrival (or
  at a fixed ``deadline_s``); stop there if the missing workers keep the pattern inside the
  scheme's straggler model, otherwise wait for everyone.
- ``kofn``: stop once at most ``tolerance`` workers are missing (GC ends at its (n - s)-th
  arrival; the strongest GC baseline uses it) and the pattern stays inside the model.
- ``decodable``: stop at the earliest arrival set with which every job due this round decodes,
  and (``model=True``) the pattern stays inside the model; ``min_fraction`` keeps collecting
  until that share of the workers arrived (what sgcflow tunes online). With ``model=False`` the
  model is not consulted: only safe for schemes that redo every lost piece (GC, replicated
  M-SGC with lam = n), where waiting longer in a later round can always finish a job.

Every policy stops, flagged, at ``hard_limit_s`` after dispatch or ``cap`` x the fastest
arrival, whichever comes first, so one lost worker cannot hold a round forever.
"""

from __future__ import annotations

import math

from coordinator.schemes.params import require_int

from .base import Decision, RoundView, WaitPolicy


class _Limited(WaitPolicy):
    """Shared by every policy: the hard limits and the checks against the scheme."""

    def __init__(self, hard_limit_s: float | None = None, cap: float | None = None):
        self.hard_limit_s = _positive("hard_limit_s", hard_limit_s)
        self.cap = _positive("cap", cap)

    def limit_s(self, view: RoundView) -> float | None:
        limits = [x for x in (self.hard_limit_s,
                              self.cap * view.fastest_s if self.cap and view.arrivals else None)
                  if x is not None]
        return min(limits) if limits else None

    @staticmethod
    def inside(view: RoundView, missing: frozenset[int]) -> bool:
        return view.session.scheme.model.admits(list(view.history), missing)

    @staticmethod
    def late(view: RoundView, missing: frozenset[int]) -> set[int]:
        return view.session.would_be_late(view.t, missing, view.late)

    def settle(self, view: RoundView, now_s: float, cutoff: float | None,
               waiting_flag: str) -> Decision:
        """Past the point where the policy would like to stop but may not: everyone reported
        or the hard limit ends the round (flagged); otherwise wait on."""
        limit = self.limit_s(view)
        if view.everyone_reported or (limit is not None and now_s >= limit):
            return self.stopped(view, now_s, cutoff, self._flags(view, now_s, limit))
        return Decision(False, wake_at_s=limit, cutoff_s=cutoff, flags=(waiting_flag,))

    def _flags(self, view: RoundView, now_s: float, limit: float | None) -> list[str]:
        missing, flags = view.missing, []
        if missing and not self.inside(view, missing):
            flags.append(f"stragglers outside the scheme's model ({len(missing)} workers)")
        late = self.late(view, missing)
        if late:
            flags.append(f"jobs {sorted(late)} left undecodable at their deadline")
        if limit is not None and now_s >= limit and not view.everyone_reported:
            flags.append(f"hit the hard limit ({limit:.3f} s)")
        return flags

    @property
    def params(self) -> dict[str, object]:
        return {k: v for k, v in (("hard_limit_s", self.hard_limit_s), ("cap", self.cap))
                if v is not None}


class PaperRule(_Limited):
    """The study's rule: (1 + mu) x fastest (or ``deadline_s``), inside the model, else all."""

    name = "paper"

    def __init__(self, mu: float | None = None, deadline_s: float | None = None, **limits):
        super().__init__(**limits)
        if (mu is None) == (deadline_s is None):
            raise ValueError("paper policy: give exactly one of mu or deadline_s")
        self.mu = None if mu is None else _non_negative("mu", mu)
        self.deadline_s = _positive("deadline_s", deadline_s)

    def cutoff_s(self, view: RoundView) -> float | None:
        if self.deadline_s is not None:
            return self.deadline_s
        return None if not view.arrivals else (1.0 + self.mu) * view.fastest_s

    def decide(self, view: RoundView, now_s: float) -> Decision:
        cutoff = self.cutoff_s(view)
        limit = self.limit_s(view)
        before_cutoff = cutoff is None or now_s < cutoff
        if before_cutoff and not view.everyone_reported and (limit is None or now_s < limit):
            wake = cutoff if limit is None or cutoff is None else min(cutoff, limit)
            return Decision(False, wake_at_s=wake, cutoff_s=cutoff)
        # The stragglers are whoever had not arrived by the cutoff (the study's rule), even
        # if the clock is read later (a poll after the cutoff).
        at_cutoff = view.missing if before_cutoff else frozenset(
            w for w in view.expected
            if w not in view.arrivals or view.arrivals[w] > cutoff)
        if self.inside(view, at_cutoff):
            return self.stopped(view, now_s, cutoff, stragglers=at_cutoff)
        return self.settle(view, now_s, cutoff,
                           "waiting for everyone: the stragglers at the cutoff are outside "
                           "the model")

    @property
    def params(self) -> dict[str, object]:
        own = {"mu": self.mu} if self.mu is not None else {"deadline_s": self.deadline_s}
        return {**own, **super().params}


class KofN(_Limited):
    """Stop once at most ``tolerance`` workers are missing and the pattern is inside the model;
    ``tolerance`` defaults to the scheme's per-round tolerance (GC's s)."""

    name = "kofn"

    def __init__(self, tolerance: int | None = None, **limits):
        super().__init__(**limits)
        self.tolerance = None if tolerance is None else require_int("tolerance", tolerance, 0)

    def decide(self, view: RoundView, now_s: float) -> Decision:
        tolerance = self.tolerance
        if tolerance is None:
            tolerance = getattr(view.session.scheme.model, "s", 0)
        missing = view.missing
        if len(missing) <= tolerance and self.inside(view, missing):
            return self.stopped(view, now_s, None)
        return self.settle(view, now_s, None, f"waiting for all but {tolerance} workers")

    @property
    def params(self) -> dict[str, object]:
        own = {} if self.tolerance is None else {"tolerance": self.tolerance}
        return {**own, **super().params}


class EarliestDecodable(_Limited):
    """Stop at the earliest arrivals with which every due job decodes (see module docstring)."""

    name = "decodable"

    def __init__(self, min_fraction: float = 0.0, model: bool = True, **limits):
        super().__init__(**limits)
        if not 0.0 <= float(min_fraction) <= 1.0:
            raise ValueError(f"min_fraction must be a number in [0, 1], got {min_fraction!r}")
        self.min_fraction = float(min_fraction)
        self.model = bool(model)

    def decide(self, view: RoundView, now_s: float) -> Decision:
        missing = view.missing
        # Collecting beyond the decodable set protects the jobs still in flight; in the run's
        # last round there are none.
        final = view.t >= view.session.rounds
        enough = final or len(view.arrivals) >= math.ceil(self.min_fraction * len(view.expected))
        if (enough and (not self.model or self.inside(view, missing))
                and not self.late(view, missing)):
            return self.stopped(view, now_s, None)
        return self.settle(view, now_s, None, "waiting for a decodable set")

    @property
    def params(self) -> dict[str, object]:
        return {"min_fraction": self.min_fraction, "model": self.model, **super().params}


def _positive(name: str, value) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _non_negative(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)
