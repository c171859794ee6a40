"""Straggler models (docs/schemes.md, "Straggler models") and pattern generators.

A pattern is a list of frozensets: pattern[r - 1] is the set of workers straggling in round r.
A *model* says which patterns a scheme is built to tolerate: ``admits(history, stragglers)``
tells whether appending one more round keeps the pattern inside the model (the paper's wait
rule asks exactly that each round). Generators produce patterns for tests and simulation:
random admissible bursty ones, adversarial worst cases, i.i.d. and Gilbert-Elliot.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from coordinator.schemes.params import check_bursty, require_int

Pattern = list[frozenset[int]]


class PerRoundModel:
    """At most s stragglers in any round (GC's model; s = 0 means wait for everyone)."""

    def __init__(self, n: int, s: int):
        self.n = require_int("n", n, 1)
        self.s = require_int("s", s, 0, self.n)

    def admits(self, history: Sequence[frozenset[int]], stragglers: frozenset[int]) -> bool:
        return len(stragglers) <= self.s

    def is_admissible(self, pattern: Sequence[frozenset[int]]) -> bool:
        return all(len(round_set) <= self.s for round_set in pattern)


class BurstyModel:
    """(B, W, lam)-bursty: in every window of W rounds at most lam distinct stragglers, each
    straggling only within one burst of at most B rounds (a worker straggling in round r did not
    straggle in rounds r-W+1 .. r-B)."""

    def __init__(self, n: int, B: int, W: int, lam: int):
        self.n = require_int("n", n, 1)
        self.B, self.W, self.lam = check_bursty(self.n, B, W, lam)

    def admits(self, history: Sequence[frozenset[int]], stragglers: frozenset[int]) -> bool:
        """Whether round len(history) + 1 with these stragglers keeps the pattern admissible."""
        r = len(history)  # 0-based index of the new round
        window = history[max(0, r - self.W + 1):r]
        distinct = set(stragglers).union(*window) if window else set(stragglers)
        if len(distinct) > self.lam:
            return False
        forbidden = history[max(0, r - self.W + 1):max(0, r - self.B + 1)]
        return not any(stragglers & earlier for earlier in forbidden)

    def is_admissible(self, pattern: Sequence[frozenset[int]]) -> bool:
        return all(self.admits(pattern[:r], pattern[r]) for r in range(len(pattern)))

    def allowed_workers(self, history: Sequence[frozenset[int]]) -> set[int]:
        """Workers that may straggle in the next round without breaking the burst rule."""
        r = len(history)
        forbidden = set().union(*history[max(0, r - self.W + 1):max(0, r - self.B + 1)])
        return set(range(self.n)) - forbidden

    def random_pattern(self, rounds: int, rng: np.random.Generator, rate: float = 0.5) -> Pattern:
        """A random admissible pattern; ``rate`` scales how much of the budget each round uses."""
        pattern: Pattern = []
        for _ in range(require_int("rounds", rounds, 0)):
            r = len(pattern)
            in_window = set().union(*pattern[max(0, r - self.W + 1):r])
            allowed = sorted(self.allowed_workers(pattern))
            old = [w for w in allowed if w in in_window]
            new = [w for w in allowed if w not in in_window]
            budget = self.lam - len(in_window)
            chosen = {w for w in old if rng.random() < rate}
            if budget > 0 and new:
                count = rng.binomial(min(budget, len(new)), rate)
                chosen |= set(rng.choice(new, size=count, replace=False).tolist())
            pattern.append(frozenset(chosen))
            assert self.admits(pattern[:-1], pattern[-1])
        return pattern

    def adversarial_patterns(self, rounds: int) -> dict[str, Pattern]:
        """Worst cases: full bursts of lam workers, rolling bursts, bursts hitting late slots."""
        lam, B, W = self.lam, self.B, self.W
        same = frozenset(range(lam))
        period = W + B - 1  # the soonest the same workers may burst again
        full_bursts = [same if (r % period) < B else frozenset() for r in range(rounds)]
        shifted = [same if (r % period) >= period - B else frozenset() for r in range(rounds)]
        # Disjoint groups, one burst each, staggered so every window holds lam distinct workers.
        rolling: Pattern = []
        size = max(1, lam // W)
        for r in range(rounds):
            start = (r * size) % max(1, self.n - size + 1)
            rolling.append(frozenset(range(start, start + size)))
        patterns = {"full-bursts": full_bursts, "late-bursts": shifted, "rolling": rolling}
        return {name: p for name, p in patterns.items() if self.is_admissible(p)}

    def enumerate(self, rounds: int, workers: Sequence[int] | None = None) -> Iterator[Pattern]:
        """Every admissible pattern over ``rounds`` rounds (for exhaustive tests at small n)."""
        pool = list(range(self.n)) if workers is None else list(workers)
        subsets = [frozenset(w for i, w in enumerate(pool) if mask >> i & 1)
                   for mask in range(1 << len(pool))]

        def extend(pattern: Pattern) -> Iterator[Pattern]:
            if len(pattern) == rounds:
                yield list(pattern)
                return
            for subset in subsets:
                if self.admits(pattern, subset):
                    pattern.append(subset)
                    yield from extend(pattern)
                    pattern.pop()

        yield from extend([])


def iid_pattern(n: int, rounds: int, p: float, rng: np.random.Generator) -> Pattern:
    """Each worker straggles in each round independently with probability p."""
    if not 0 <= p <= 1:
        raise ValueError(f"p must be a probability in [0, 1], got {p}")
    mask = rng.random((rounds, n)) < p
    return [frozenset(np.flatnonzero(row).tolist()) for row in mask]


def gilbert_elliot_pattern(n: int, rounds: int, p_good_to_bad: float, p_bad_to_good: float,
                           rng: np.random.Generator) -> Pattern:
    """Two-state Markov chain per worker; a worker in the bad state straggles."""
    for name, value in (("p_good_to_bad", p_good_to_bad), ("p_bad_to_good", p_bad_to_good)):
        if not 0 <= value <= 1:
            raise ValueError(f"{name} must be a probability in [0, 1], got {value}")
    bad = np.zeros(n, dtype=bool)
    pattern: Pattern = []
    for _ in range(rounds):
        flip = rng.random(n)
        bad = np.where(bad, flip >= p_bad_to_good, flip < p_good_to_bad)
        pattern.append(frozenset(np.flatnonzero(bad).tolist()))
    return pattern


def gilbert_elliot_slowdowns(n: int, rounds: int, p_good_to_bad: float, p_bad_to_good: float,
                             slowdown: float, rng: np.random.Generator) -> np.ndarray:
    """Per-round, per-worker time multipliers: 1 in the good state, ``slowdown`` in the bad one."""
    pattern = gilbert_elliot_pattern(n, rounds, p_good_to_bad, p_bad_to_good, rng)
    factors = np.ones((rounds, n))
    for r, stragglers in enumerate(pattern):
        factors[r, list(stragglers)] = slowdown
    return factors


def stragglers_from_times(times: np.ndarray, deadline: np.ndarray | float) -> Pattern:
    """Trace replay: the workers whose round time exceeds that round's deadline."""
    times = np.asarray(times, dtype=float)
    late = times > np.broadcast_to(np.asarray(deadline, dtype=float).reshape(-1, 1), times.shape)
    return [frozenset(np.flatnonzero(row).tolist()) for row in late]
